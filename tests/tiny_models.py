"""Tiny randomly initialised encoders (hidden 32, 2 layers) with a WordPiece tokenizer.

Shared by the model, embedding and training tests so that they run in seconds without weights.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    BertConfig,
    BertModel,
    BertTokenizerFast,
    DistilBertConfig,
    DistilBertModel,
    DistilBertTokenizerFast,
    PreTrainedModel,
)

VOCAB = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    "the", "film", "is", "was", "good", "bad", "great", "awful", "not", "a", "movie", "very",
    "plot", "and", ".", "!",
]  # fmt: skip


def tiny_bert_config(vocab_size: int = len(VOCAB), **overrides: float) -> BertConfig:
    """A 2-layer BERT config (hidden 32, 2 heads) for any vocabulary size."""
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        **overrides,
    )


def _save_with_tokenizer(model: PreTrainedModel, tokenizer_class: type, folder: Path):
    """Save ``model`` (safetensors) and a WordPiece tokenizer over ``VOCAB`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    # transformers 5 ignores ``vocab_file=``: pass the vocabulary itself (else all [UNK])
    tokenizer = tokenizer_class(vocab={word: i for i, word in enumerate(VOCAB)})
    assert tokenizer.convert_tokens_to_ids("film") == VOCAB.index("film")
    tokenizer.save_pretrained(folder)
    return tokenizer


def tiny_bert(folder: Path, seed: int = 0) -> tuple[BertTokenizerFast, BertModel]:
    """Save and return a 2-layer BERT (hidden 32, no dropout) and its tokenizer in ``folder``."""
    torch.manual_seed(seed)
    config = tiny_bert_config(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = BertModel(config).eval()
    return _save_with_tokenizer(model, BertTokenizerFast, folder), model


def tiny_distilbert(folder: Path, seed: int = 0) -> tuple[DistilBertTokenizerFast, DistilBertModel]:
    """Save and return a 2-layer DistilBERT (hidden 32) and its tokenizer in ``folder``."""
    torch.manual_seed(seed)
    config = DistilBertConfig(
        vocab_size=len(VOCAB), dim=32, hidden_dim=64, n_layers=2, n_heads=2,
        max_position_embeddings=64,
    )  # fmt: skip
    model = DistilBertModel(config).eval()
    return _save_with_tokenizer(model, DistilBertTokenizerFast, folder), model


def toy_reviews(n: int, seed: int = 0) -> tuple[list[str], list[int]]:
    """``n`` short reviews of varied length whose label is whether they say good/great."""
    gen = torch.Generator().manual_seed(seed)
    filler = ["the", "film", "is", "a", "movie", "very", "plot", "and", "was"]
    texts, labels = [], []
    for i in range(n):
        label = i % 2
        word = ["bad", "awful"][i % 4 // 2] if label == 0 else ["good", "great"][i % 4 // 2]
        count = int(torch.randint(1, 9, (1,), generator=gen))
        words = [filler[int(j)] for j in torch.randint(0, len(filler), (count,), generator=gen)]
        words.insert(int(torch.randint(0, count + 1, (1,), generator=gen)), word)
        texts.append(" ".join(words) + " .")
        labels.append(label)
    return texts, labels
