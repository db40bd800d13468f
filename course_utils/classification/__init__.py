"""Classifying sentiment: a head on frozen embeddings, fine-tuning, and evaluating both.

Taught in notebook 05 (classification and fine-tuning): ``classifier`` (an encoder with a
head, and the batched data it reads; sections 2-3), ``config`` (``TrainConfig``, the settings
of a run), ``train`` (one loop for a head and for fine-tuning), ``checkpoint`` (crash-safe
checkpoints, resumed exactly) and ``evaluate`` (metrics, the lecture's results table, outcome
analysis; "Results", "Outcome analysis"). Notebook 00 scores its first classifier with
``evaluate``.
"""
