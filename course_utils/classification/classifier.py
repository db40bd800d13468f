"""What notebook 05 trains: a pretrained encoder with a head, and the labelled data it reads.

Taught in notebook 05, sections 2-3 and Going further A and E: :class:`LinearHead` on frozen
sentence embeddings, :class:`TextClassifier` (encoder + pooling + linear head) fine-tuned end
to end or with only its top blocks trainable (:func:`set_trainable_blocks`), and
:class:`ClassificationData`, the tokenized or precomputed inputs in length-bucketed batches.
The loop is :func:`course_utils.classification.train.fit`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from course_utils.embeddings.sentence import Pooling, pad_batch, pool, tokenize

BUCKET_BATCHES = 50  # length bucketing sorts windows of this many batches


class TextClassifier(nn.Module):
    """A pretrained encoder, pooling and a linear head: ``(batch, seq)`` ids → ``(batch, k)``.

    ``pooling`` is ``"mean"`` or ``"cls"`` (see :func:`course_utils.embeddings.sentence.pool`). A
    BERT encoder's own pooler (a dense layer on the CLS token) is unused here and is removed from
    ``encoder``, so that it costs no compute and data-parallel training sees no idle weights.
    Notebook 05, section "Fine-tuning".
    """

    def __init__(
        self,
        encoder: nn.Module,
        num_labels: int = 2,
        pooling: Pooling = "mean",
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if getattr(encoder, "pooler", None) is not None:
            encoder.pooler = None
        self.encoder = encoder
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, num_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(self.dropout(pool(hidden, attention_mask, self.pooling)))


class LinearHead(nn.Module):
    """A linear (softmax) classifier on frozen features: ``(batch, d)`` → logits ``(batch, k)``.

    Notebook 05, section 2 (the lecture's recipe) and Going further A.
    """

    def __init__(self, dim: int, num_labels: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(dim, num_labels)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(features))


def encoder_blocks(encoder: nn.Module) -> nn.ModuleList:
    """The transformer blocks of a BERT-like (``encoder.layer``) or DistilBERT model."""
    for owner in ("encoder", "transformer"):
        blocks = getattr(getattr(encoder, owner, None), "layer", None)
        if isinstance(blocks, nn.ModuleList):
            return blocks
    raise TypeError(f"Cannot find the transformer blocks of {type(encoder).__name__}.")


def set_trainable_blocks(model: TextClassifier, top: int | None) -> int:
    """Train only the head and the ``top`` last blocks (``None``: everything; ``0``: head only).

    Frozen parameters get ``requires_grad=False``, so autograd skips the frozen lower part.
    Returns the number of trainable parameters. Notebook 05, Going further E (the middle ground).
    """
    blocks = encoder_blocks(model.encoder)
    if top is not None and not 0 <= top <= len(blocks):
        raise ValueError(
            f"top must be between 0 and {len(blocks)} (the model's blocks), got {top}."
        )
    for param in model.encoder.parameters():
        param.requires_grad = top is None
    if top:
        for block in blocks[len(blocks) - top :]:
            for param in block.parameters():
                param.requires_grad = True
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@dataclass
class ClassificationData:
    """Labelled examples: token ids per text (``lengths`` set) or a feature matrix ``(n, d)``.

    Build with :meth:`from_texts` or :meth:`from_features`; these check the input.
    """

    inputs: list[list[int]] | torch.Tensor
    labels: torch.Tensor  # (n,) int64 in [0, num_labels)
    num_labels: int
    pad_id: int = 0
    lengths: np.ndarray | None = None  # tokens per text; None for features

    @classmethod
    def from_texts(
        cls,
        texts: Sequence[str],
        labels: Sequence[int],
        tokenizer: Any,
        *,
        num_labels: int = 2,
        max_length: int = 128,
    ) -> ClassificationData:
        """Tokenize ``texts`` (cut to ``max_length`` tokens, with a warning when any is; no
        padding yet)."""
        texts = list(texts)
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
        if bad:
            raise ValueError(
                f"{len(bad)} empty or non-string text(s), first at index {bad[0]}; "
                "every example needs a non-empty text."
            )
        y = _check_labels(labels, len(texts), num_labels)
        ids = tokenize(tokenizer, texts, max_length)
        lengths = np.array([len(x) for x in ids])
        return cls(ids, y, num_labels, tokenizer.pad_token_id or 0, lengths)

    @classmethod
    def from_features(
        cls, features: np.ndarray | torch.Tensor, labels: Sequence[int], *, num_labels: int = 2
    ) -> ClassificationData:
        """Wrap a float feature matrix ``(n, d)``, e.g. from ``embeddings.encode``."""
        x = torch.as_tensor(np.asarray(features), dtype=torch.float32)
        if x.ndim != 2:
            raise ValueError(f"features must be a 2-d (n, d) matrix, got shape {tuple(x.shape)}.")
        if not torch.isfinite(x).all():
            raise ValueError("features contain NaN or infinite values.")
        return cls(x, _check_labels(labels, len(x), num_labels), num_labels)

    def __len__(self) -> int:
        return len(self.labels)

    def batches(
        self, batch_size: int, *, shuffle: bool, seed: int = 0, epoch: int = 0
    ) -> list[np.ndarray]:
        """Index arrays, one per batch; the same for the same ``(seed, epoch)`` on any process.

        Texts are length-bucketed: windows of ``BUCKET_BATCHES`` batches are sorted by length,
        cut into batches, and the batches shuffled, so padding stays small while the order
        stays random. Without ``shuffle`` all texts are sorted by length (fast inference).
        """
        n = len(self)
        rng = np.random.default_rng([seed, epoch])
        order = rng.permutation(n) if shuffle else np.arange(n)
        if self.lengths is not None:
            window = batch_size * BUCKET_BATCHES if shuffle else n
            order = np.concatenate(
                [
                    chunk[np.argsort(self.lengths[chunk], kind="stable")]
                    for chunk in np.split(order, range(window, n, window))
                ]
            )
        batches = np.split(order, range(batch_size, n, batch_size))
        if shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def collate(self, index: np.ndarray) -> dict[str, torch.Tensor]:
        """The model inputs and ``labels`` of the examples at ``index``, padded to the longest."""
        labels = self.labels[torch.as_tensor(index)]
        if isinstance(self.inputs, torch.Tensor):
            return {"features": self.inputs[torch.as_tensor(index)], "labels": labels}
        input_ids, mask = pad_batch([self.inputs[i] for i in index], self.pad_id)
        return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}


def _check_labels(labels: Sequence[int], n: int, num_labels: int) -> torch.Tensor:
    if n == 0:
        raise ValueError("No examples: the dataset is empty.")
    y = np.asarray(labels)
    if y.shape != (n,):
        raise ValueError(f"Expected {n} labels (one per example), got shape {y.shape}.")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"Labels must be integer class ids, got dtype {y.dtype}.")
    outside = np.flatnonzero((y < 0) | (y >= num_labels))
    if outside.size:
        raise ValueError(
            f"{outside.size} label(s) outside the classes 0..{num_labels - 1}, "
            f"e.g. {y[outside[0]]} at index {outside[0]}."
        )
    return torch.as_tensor(y, dtype=torch.long)
