"""Sentence embeddings from a pretrained encoder: batched, pooled, cached on disk.

Taught in notebook 03 (embeddings) and used by 04 (topics) and 05 (frozen features).

:func:`encode` turns ``n`` texts into an ``(n, d)`` float32 array. Texts are tokenized once,
sorted by token count so that each batch holds sentences of (nearly) the same length and
little compute goes to padding, run through the model under ``torch.inference_mode`` and
pooled; rows come back in the input order. Mean pooling averages the token vectors weighted
by the attention mask, exactly as sentence-transformers does; CLS pooling keeps the first
token's vector. Results are cached as ``.npy`` files keyed by the model's weights, the
tokenizer, the pooling, the layers, the maximum length and the texts, so a re-run is instant.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from course_utils.core.devices import model_device
from course_utils.core.paths import course_subdir, write_atomic

Pooling = Literal["mean", "cls", "max"]
POOLINGS = ("mean", "cls", "max")


def default_cache_dir() -> Path:
    """``embeddings/`` in the course folder (:func:`course_utils.core.paths.course_dir`)."""
    return course_subdir("embeddings")


def pool(
    hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: Pooling = "mean"
) -> torch.Tensor:
    """Pool token vectors ``(batch, seq, d)`` into sentence vectors ``(batch, d)``.

    ``"mean"``: average over real tokens (``attention_mask`` ``(batch, seq)`` of 0/1), as
    sentence-transformers' mean pooling; ``"cls"``: the first token's vector; ``"max"``: the
    largest value of each dimension over real tokens (strong single-word cues survive).
    """
    if pooling == "cls":
        return hidden[:, 0]
    if pooling == "max":
        real = attention_mask.unsqueeze(-1).bool()  # (batch, seq, 1)
        return hidden.masked_fill(~real, torch.finfo(hidden.dtype).min).amax(1)
    if pooling == "mean":
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (batch, seq, 1)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}.")


def model_fingerprint(model: torch.nn.Module) -> str:
    """SHA-256 of a model's class, config and weights: equal iff the weights are equal.

    Hashing all weights (~90 MB for all-MiniLM-L6-v2, a fraction of a second) means a
    fine-tuned copy of a model never reuses the pretrained model's cached embeddings.
    """
    digest = hashlib.sha256(type(model).__name__.encode())
    config = getattr(model, "config", None)
    if config is not None:
        digest.update(config.to_json_string(use_diff=False).encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu").contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _cache_key(
    texts: Sequence[str], model: torch.nn.Module, tokenizer: Any, settings: dict[str, Any]
) -> str:
    digest = hashlib.sha256(model_fingerprint(model).encode())
    tok = {"class": type(tokenizer).__name__, "vocab": len(tokenizer)}
    tok["name"] = str(getattr(tokenizer, "name_or_path", ""))
    digest.update(json.dumps({"tokenizer": tok, **settings}, sort_keys=True).encode())
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()[:32]


def tokenize(tokenizer: Any, texts: list[str], max_length: int) -> list[list[int]]:
    """Token ids of each text (special tokens included), cut to ``max_length`` the tokenizer's
    way. Never silently: when texts are cut, a ``UserWarning`` says how many and how long the
    longest was. Used by :func:`encode` and ``train.ClassificationData.from_texts``.
    """
    import logging

    hf_logger = logging.getLogger("transformers.tokenization_utils_base")
    level = hf_logger.level
    hf_logger.setLevel(logging.ERROR)  # its "longer than the maximum" note: ours is below
    try:
        ids = tokenizer(texts)["input_ids"]
    finally:
        hf_logger.setLevel(level)
    long = [i for i, x in enumerate(ids) if len(x) > max_length]
    if long:
        longest = max(len(ids[i]) for i in long)
        cut = tokenizer([texts[i] for i in long], truncation=True, max_length=max_length)
        for i, row in zip(long, cut["input_ids"], strict=True):
            ids[i] = row
        warnings.warn(
            f"{len(long)} of {len(texts)} texts are longer than max_length={max_length} tokens "
            f"and were cut (the longest has {longest}); raise max_length to keep them whole.",
            UserWarning,
            stacklevel=3,
        )
    return ids


def pad_batch(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask)`` for token-id rows padded on the right to the longest.

    The one padding rule of the course: :func:`encode` and
    :meth:`course_utils.classification.classifier.ClassificationData.collate` both batch with it.
    """
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for j, row in enumerate(rows):
        input_ids[j, : len(row)] = torch.as_tensor(row)
        mask[j, : len(row)] = 1
    return input_ids, mask


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("encode() takes a list of texts, not a single string: encode([text]).")
    texts = list(texts)
    if not texts:
        raise ValueError("encode() got an empty list of texts; pass at least one sentence.")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
    if bad:
        shown = ", ".join(map(str, bad[:5])) + (" ..." if len(bad) > 5 else "")
        raise ValueError(
            f"encode() got {len(bad)} empty or non-string text(s) at index {shown}; "
            "every text must be a non-empty string."
        )
    return texts


@torch.inference_mode()
def _encode_uncached(
    texts: list[str],
    model: torch.nn.Module,
    tokenizer: Any,
    *,
    pooling: Pooling,
    layers: tuple[int, ...] | None,
    max_length: int,
    batch_size: int,
    progress: bool,
    amp_dtype: torch.dtype | None = None,
) -> np.ndarray:
    from course_utils.core.devices import autocast  # looked up when called, as tests swap
    from course_utils.core.progress import progress as progress_bar

    device = model_device(model)
    ids = tokenize(tokenizer, texts, max_length)
    order = np.argsort([len(x) for x in ids], kind="stable")  # short to long
    pad_id = tokenizer.pad_token_id or 0
    was_training = model.training
    model.eval()
    chunks: list[torch.Tensor] = []
    try:
        for start in progress_bar(
            range(0, len(order), batch_size), desc="encode", unit="batch", disable=not progress
        ):
            input_ids, mask = pad_batch([ids[i] for i in order[start : start + batch_size]], pad_id)
            input_ids, mask = input_ids.to(device), mask.to(device)
            with autocast(device, amp_dtype):
                out = model(
                    input_ids=input_ids,
                    attention_mask=mask,
                    output_hidden_states=layers is not None,
                )
            if layers is None:
                pooled = pool(out.last_hidden_state, mask, pooling)
            else:
                pooled = torch.cat([pool(out.hidden_states[i], mask, pooling) for i in layers], -1)
            chunks.append(pooled.float().cpu())  # pooled in the model's precision, kept in fp32
    finally:
        model.train(was_training)
    sorted_vectors = torch.cat(chunks).numpy()
    vectors = np.empty_like(sorted_vectors)
    vectors[order] = sorted_vectors  # back to the input order
    return vectors


def encode(
    texts: Sequence[str],
    model: torch.nn.Module,
    tokenizer: Any,
    *,
    pooling: Pooling = "mean",
    layers: Sequence[int] | None = None,
    normalize: bool = False,
    max_length: int = 256,
    batch_size: int = 64,
    cache: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    mixed_precision: bool = True,
) -> np.ndarray:
    """Embed ``texts`` with a Hugging Face encoder; returns float32 ``(len(texts), d)``.

    ``pooling`` is ``"mean"`` (attention-mask-weighted average, as sentence-transformers)
    or ``"cls"`` (first token). ``layers`` picks hidden states to pool and concatenate
    (``0`` = embedding layer, ``-1`` = last; ``None`` = last only), so ``d`` is the hidden
    size times ``len(layers)``. ``normalize`` scales every row to unit L2 norm. Texts
    longer than ``max_length`` tokens (capped at the model's
    ``max_position_embeddings``) are truncated. Batches of ``batch_size`` texts are
    formed after sorting by token count; rows come back in the input order.

    With ``cache`` on, the result is stored in ``cache_dir`` (default
    :func:`default_cache_dir`) as ``<key>.npy``, ``key`` hashing the model's weights and
    config, the tokenizer, every setting above and the texts; a later call with the same
    inputs loads it (``allow_pickle=False``) without running the model.

    The model runs where its weights are. On CUDA, ``mixed_precision`` autocasts to
    :func:`~course_utils.core.devices.autocast_dtype` (bf16 or fp16; the vectors still come back
    as float32, and the precision is part of the cache key); on the CPU it changes nothing.

    Taught in notebook 03, section "Sentence embeddings"; notebook 05 uses it for frozen
    features. Raises ``ValueError`` for an empty list, empty strings or an unknown pooling.
    """
    texts = _check_texts(texts)
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}.")
    if batch_size < 1 or max_length < 1:
        raise ValueError("batch_size and max_length must be positive.")
    positions = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    max_length = min(max_length, positions or max_length)  # never beyond what the model embeds
    layer_tuple = tuple(int(i) for i in layers) if layers is not None else None
    settings: dict[str, Any] = {"pooling": pooling, "layers": layer_tuple, "max_length": max_length}
    from course_utils.core.devices import autocast_dtype  # looked up when called: tests swap it

    amp_dtype = autocast_dtype(model_device(model)) if mixed_precision else None
    if amp_dtype is not None:  # fp32 keys stay as they were
        settings["autocast"] = str(amp_dtype)
    path = None
    if cache:
        folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        path = folder / f"{_cache_key(texts, model, tokenizer, settings)}.npy"
        if path.is_file():
            vectors = np.load(path, allow_pickle=False)
            return _normalize(vectors) if normalize else vectors
    vectors = _encode_uncached(
        texts,
        model,
        tokenizer,
        pooling=pooling,
        layers=layer_tuple,
        max_length=max_length,
        batch_size=batch_size,
        progress=progress,
        amp_dtype=amp_dtype,
    )
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.save(buffer, vectors, allow_pickle=False)
        write_atomic(path, buffer.getvalue())  # a reader never sees a half-written file
    return _normalize(vectors) if normalize else vectors


def _normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
