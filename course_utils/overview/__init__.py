"""The LLM landscape: where LLMs sit in AI, and how language models evolved.

Taught in notebook 00 ("Where LLMs sit", "How language models evolved", "Three families"):
``landscape`` draws the field and the model timeline that ships with the package
(``resources/llm_timeline.csv``). Notebook 00's previews of later notebooks (search,
summaries, a first classifier, generation) use those notebooks' subpackages.
"""
