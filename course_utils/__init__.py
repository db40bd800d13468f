"""Tested helpers for the *Introduction to Large Language Models* course notebooks.

One module per idea: ``data`` (Rotten Tomatoes), ``models`` (which encoder, loaded safely),
``notebook`` (the one setup call), ``runner`` (execute the course, summarise results).
Modules are imported on demand so that ``import course_utils`` stays fast.
"""

__version__ = "0.1.0"

#: GitHub ``owner/name`` of the course; README badges and Colab links are built from it.
COURSE_REPO = "intro-llm-course/intro-to-llms"
