"""A small GPT-style decoder trained here, sampling from it, and GPT-2.

Taught in notebook 02, the decoder side (sections 4-5 and 11); notebook 00 generates text with
it: ``model`` (TinyGPT, its vocabulary, saving and loading), ``training`` (a deterministic
loop, a unigram baseline, the course's cached decoder), ``sampling`` (next-token
probabilities, temperature, top-k/top-p, greedy) and ``gpt2`` (GPT-2 online, and any
decoder's causal attention in BertViz).
"""
