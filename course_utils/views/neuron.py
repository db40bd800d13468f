"""BertViz's neuron view (queries, keys and their product) from safetensors weights.

Taught in notebook 02, section 8. BertViz's neuron view ships its own BERT class that reads
only ``pytorch_model.bin`` (pickle); :func:`load_neuron_view_model` converts a safetensors
BERT or DistilBERT checkpoint into a cache folder (safetensors + JSON, no pickle anywhere) and
loads it into that class; :func:`render_neuron_view` draws it with rounded, stable HTML.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from course_utils.core.paths import course_subdir
from course_utils.transformer.bert import bert_name, is_task_head
from course_utils.views.attention import _stable_ids

NEURON_CACHE_SUBDIR = "neuron_view"


_NEURON_PARAMS = re.compile(r"window\.bertviz_params = (\{.*\})")


_FORMAT = 2  # bump when the converted folder changes (2: tokenizer_class always named)
_TOKENIZER_CLASS = {"bert": "BertTokenizer", "distilbert": "DistilBertTokenizer"}
_TOKENIZER_FILES = (
    "vocab.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)


def neuron_cache_dir() -> Path:
    """``neuron_view/`` in the course folder (:func:`course_utils.core.paths.course_dir`)."""
    return course_subdir(NEURON_CACHE_SUBDIR)


def _neuron_config(config: dict[str, Any]) -> dict[str, Any]:
    """BertViz's BERT config (JSON) for a Hugging Face BERT or DistilBERT config."""
    kind = config.get("model_type")
    if kind == "bert":
        keys = (
            "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
            "intermediate_size", "hidden_act", "max_position_embeddings", "type_vocab_size",
            "layer_norm_eps",
        )  # fmt: skip
        out = {k: config[k] for k in keys if k in config}
    elif kind == "distilbert":
        out = {
            "vocab_size": config["vocab_size"],
            "hidden_size": config["dim"],
            "num_hidden_layers": config["n_layers"],
            "num_attention_heads": config["n_heads"],
            "intermediate_size": config["hidden_dim"],
            "hidden_act": config.get("activation", "gelu"),
            "max_position_embeddings": config["max_position_embeddings"],
            "type_vocab_size": 2,
            "layer_norm_eps": 1e-12,
        }
    else:
        raise ValueError(
            f"BertViz's neuron view has BERT-style classes only; model_type {kind!r} is "
            "not supported here (BERT and DistilBERT are)"
        )
    if out.get("hidden_act") != "gelu":
        raise ValueError(f"activation {out.get('hidden_act')!r}: the neuron view model uses gelu")
    out.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, output_attentions=True)
    return out


def _neuron_state_dict(
    state: dict[str, torch.Tensor], config: dict[str, Any], neuron_config: dict[str, Any]
) -> dict[str, torch.Tensor]:
    """Rename a Hugging Face state dict to BertViz's BERT names (DistilBERT mapped onto BERT)."""
    out: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        name = bert_name(key)
        if name.endswith("position_ids") or is_task_head(name):  # BertEncoder's rule too
            continue
        out[name] = tensor.contiguous()
    hidden = neuron_config["hidden_size"]
    if config.get("model_type") == "distilbert":
        # DistilBERT has no segment embeddings: zero segments change nothing
        out["embeddings.token_type_embeddings.weight"] = torch.zeros(2, hidden)
    if "pooler.dense.weight" not in out:
        # DistilBERT and masked-LM checkpoints have no pooler; the view's attention never uses it
        out["pooler.dense.weight"] = torch.zeros(hidden, hidden)
        out["pooler.dense.bias"] = torch.zeros(hidden)
    return out


def convert_for_neuron_view(
    source: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Convert a safetensors BERT/DistilBERT folder for BertViz's neuron view; return the folder.

    ``source`` defaults to the bundled all-MiniLM-L6-v2. The result (``config.json``,
    ``model.safetensors`` with BertViz's parameter names, the tokenizer files) is cached in
    ``cache_dir`` (default :func:`neuron_cache_dir`) under a key made from the source's
    config and weights, so a changed checkpoint is converted again. Reads JSON and
    safetensors only: nothing is unpickled. Taught in notebook 02, section 8.
    """
    from safetensors.torch import load_file, save_file

    if source is None:
        from course_utils.core.models import bundled_model_path

        source = bundled_model_path()
    src = Path(source)
    weights, config_file = src / "model.safetensors", src / "config.json"
    if not weights.is_file() or not config_file.is_file():
        raise FileNotFoundError(
            f"{src} needs config.json and model.safetensors (only safetensors weights are read)"
        )
    digest = hashlib.sha256(f"format {_FORMAT}".encode() + config_file.read_bytes())
    with weights.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 24), b""):
            digest.update(block)
    folder = Path(cache_dir or neuron_cache_dir()) / f"{src.name}-{digest.hexdigest()[:16]}"
    if (folder / "model.safetensors").is_file():
        return folder

    config = json.loads(config_file.read_text(encoding="utf-8"))
    neuron_config = _neuron_config(config)
    state = _neuron_state_dict(load_file(weights), config, neuron_config)
    _check_neuron_keys(state, neuron_config)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "config.json").write_text(json.dumps(neuron_config, indent=2), encoding="utf-8")
    for name in _TOKENIZER_FILES:
        if (src / name).is_file():
            shutil.copy2(src / name, tmp / name)
    # The folder's config.json is BertViz's (no model_type), so the tokenizer class must be
    # named: the real distilbert-base-uncased's tokenizer_config.json names none.
    tok_config_file = tmp / "tokenizer_config.json"
    tok_config = json.loads(tok_config_file.read_text()) if tok_config_file.is_file() else {}
    tok_config.setdefault("tokenizer_class", _TOKENIZER_CLASS[config["model_type"]])
    tok_config_file.write_text(json.dumps(tok_config, indent=2), encoding="utf-8")
    save_file(state, str(tmp / "model.safetensors"))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


def _neuron_model(neuron_config: dict[str, Any]) -> torch.nn.Module:
    from bertviz.transformers_neuron_view import BertConfig, BertModel

    return BertModel(BertConfig.from_dict(neuron_config))


def _check_neuron_keys(state: dict[str, torch.Tensor], neuron_config: dict[str, Any]) -> None:
    expected = _neuron_model(neuron_config).state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        raise ValueError(
            "the checkpoint does not map onto BertViz's BERT: "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}, wrong shapes {wrong[:5]}"
        )


def load_neuron_view_model(
    source: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> tuple[torch.nn.Module, Any]:
    """BertViz's BERT (with query/key outputs) and the tokenizer, from safetensors weights.

    See :func:`convert_for_neuron_view` for ``source`` and ``cache_dir``. The model is in eval
    mode. Taught in notebook 02, section 8.
    """
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    folder = convert_for_neuron_view(source, cache_dir)
    neuron_config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    model = _neuron_model(neuron_config)
    model.load_state_dict(load_file(folder / "model.safetensors"), strict=True)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(
        str(folder), local_files_only=True, trust_remote_code=False
    )
    return model, tokenizer


def neuron_attention(model: torch.nn.Module, tokenizer: Any, text: str) -> np.ndarray:
    """The neuron-view model's attention for ``text``: ``(layers, heads, n, n)``.

    Used to check that the converted model attends exactly like the Hugging Face model.
    """
    from bertviz.neuron_view import get_attention

    data = get_attention(model, "bert", tokenizer, text)
    return np.asarray(data["all"]["attn"], dtype=np.float64)


def render_neuron_view(
    model: torch.nn.Module,
    tokenizer: Any,
    sentence_a: str,
    sentence_b: str | None = None,
    *,
    layer: int | None = None,
    head: int | None = None,
    decimals: int = 3,
) -> str:
    """BertViz's neuron view (queries, keys, their product) as HTML, rounded and stable.

    ``model`` and ``tokenizer`` come from :func:`load_neuron_view_model`. Attention, query and
    key values are rounded to ``decimals`` so the page is smaller and identical run to run.
    Taught in notebook 02, section 8.
    """
    from bertviz.neuron_view import show as neuron_show

    html = neuron_show(
        model,
        "bert",
        tokenizer,
        sentence_a,
        sentence_b,
        display_mode="light",
        layer=layer,
        head=head,
        html_action="return",
    ).data
    match = _NEURON_PARAMS.search(html)
    if match is None:  # pragma: no cover - guards against a BertViz layout change
        raise RuntimeError("unexpected BertViz neuron-view HTML: no window.bertviz_params")
    params = _round_floats(json.loads(match.group(1)), decimals)
    html = html[: match.start(1)] + json.dumps(params) + html[match.end(1) :]
    return _stable_ids(html)


def _round_floats(value: Any, decimals: int) -> Any:
    if isinstance(value, float):
        return round(value, decimals)
    if isinstance(value, list):
        return [_round_floats(v, decimals) for v in value]
    if isinstance(value, dict):
        return {k: _round_floats(v, decimals) for k, v in value.items()}
    return value
