"""Sentence embeddings, and what they are good for: reduce, cluster, describe, search.

Taught in notebook 03 (contextual embeddings): ``static`` (static word vectors vs contextual
ones), ``sentence`` (sentence embeddings: batched, pooled, cached on disk), ``reduction``
(PCA to UMAP and autoencoders, measured), ``clustering`` (k-means to HDBSCAN, measured) and
``keywords`` (c-TF-IDF, KeyBERT-style keywords and LDA, measured). ``retrieval`` (semantic
search, retrieval-augmented prompts, extractive summaries) is notebook 00's "The key tasks".
Notebooks 04 (topics) and 05 (frozen features) encode with ``sentence``; notebook 01 pools
its encoder's output with it; notebook 04 builds on ``keywords``.
"""
