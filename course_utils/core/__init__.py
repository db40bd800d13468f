"""The ground floor: what every notebook uses, from its first cell.

``notebook`` (the one ``setup()`` call of notebook 00-05's first section: seeds, quiet logs,
plot style; and the results each notebook reports), ``devices`` (CPU, CUDA or MPS, and mixed
precision), ``data`` (Rotten Tomatoes, online and offline), ``models`` (which pretrained encoder,
loaded safely; ``bundled``: the one that ships with the course; ``distilbert_layout``: it as a
``DistilBertModel``), ``hub`` (whether the Hugging Face Hub can be used), ``paths`` (the files
that ship, the one folder the course writes to), ``progress`` (progress bars that stay cheap in
Jupyter) and ``checks`` (the claims a notebook checks as it runs). Nothing here imports from the
subpackages above it.
"""
