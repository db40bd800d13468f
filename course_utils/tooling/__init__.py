"""What builds and checks the course; a learner never needs to open these modules.

``runner`` executes the notebooks and writes the run summary (``make run``, ``make refresh``),
``slides`` builds the lecture deck from the notebooks' recorded results (``make slides``),
``browser`` opens exported HTML in headless Chromium to prove it draws offline, and
``stability`` holds the measured cross-machine spread behind every claim a notebook checks
(``stability.check_claims``).
"""
