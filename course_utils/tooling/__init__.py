"""What builds and checks the course; a learner never needs to open these modules.

``runner`` executes the notebooks and writes the run summary (``make run``, ``make refresh``),
``records`` says which numbers the runner records from each notebook, ``slides`` builds the
lecture deck from those recorded results (``make slides``), ``browser`` opens exported HTML in
headless Chromium to prove it draws offline, and ``stability`` holds the measured
cross-machine spread behind every claim a notebook checks (``course_utils.core.checks``). No
notebook imports these modules (``tests/test_learner_first.py``).
"""
