"""Attention and the Transformer written from scratch, then run with real weights.

Taught in notebook 01 (attention from scratch): ``attention`` (scaled dot-product attention,
masks and the memory-efficient kernel; sections 2, 4 and 8), ``positional`` (positional
encodings; section 5), ``blocks`` (multi-head attention, the encoder and decoder blocks and the
whole Transformer, equal to PyTorch's; sections 3 and 6), ``architecture`` (the paper's figure,
read from these blocks; section 6.1), ``seq2seq`` (an encoder-decoder trained live; beside
section 6.2) and ``bert`` (MiniLM and BERT from these blocks; section 7). Notebook 02 looks
inside ``bert``'s encoder, and its decoder reuses ``blocks``.
"""
