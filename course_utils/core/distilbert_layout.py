"""The bundled all-MiniLM-L6-v2, rewritten exactly as a ``DistilBertModel`` (not DistilBERT).

Used to run the whole course through the DistilBERT code paths with real pretrained weights
where the Hub (and so ``distilbert-base-uncased``) is out of reach:
``COURSE_MODEL=distilbert-layout`` (``make learner``, part of CI, runs every notebook with it).

all-MiniLM-L6-v2 is a 6-layer post-LayerNorm BERT (384 dims, 12 heads, 1,536 FFN units, GELU,
LayerNorm eps 1e-12): the same block as DistilBERT's. The only difference is BERT's
token-type (segment) embedding, which DistilBERT does not have; with every token in segment
0 it is a constant vector added to every position, so it folds into the position embeddings.
The remaining weights are renamed one to one (``attention.self.query`` → ``attention.q_lin``,
``attention.output.LayerNorm`` → ``sa_layer_norm``, ``intermediate.dense`` → ``ffn.lin1``,
``output.dense`` → ``ffn.lin2``, ``output.LayerNorm`` → ``output_layer_norm``); BERT's pooler
is dropped (DistilBERT has none). The tokenizer is the same WordPiece vocabulary, configured
as a ``DistilBertTokenizer`` (no ``token_type_ids``). The last hidden states agree with the
original model to float32 rounding (``tests/test_distilbert_layout.py``: within 1e-5).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
from pathlib import Path

import torch

from course_utils.core.paths import course_subdir

NAME = "all-MiniLM-L6-v2 in DistilBERT layout"
ALIASES = {"distilbert-layout", "minilm-distilbert-layout", NAME.lower()}
FOLDER = "all-MiniLM-L6-v2-distilbert-layout"
FORMAT = 1  # bump when the written folder changes
_SENTENCE_TRANSFORMERS_FILES = (
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
)
_LAYER_RENAMES = {
    "attention.self.query": "attention.q_lin",
    "attention.self.key": "attention.k_lin",
    "attention.self.value": "attention.v_lin",
    "attention.output.dense": "attention.out_lin",
    "attention.output.LayerNorm": "sa_layer_norm",
    "intermediate.dense": "ffn.lin1",
    "output.dense": "ffn.lin2",
    "output.LayerNorm": "output_layer_norm",
}


def to_distilbert_state_dict(bert: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A ``BertModel`` state dict as a ``DistilBertModel`` one (see the module docstring).

    Raises ``ValueError`` for a checkpoint that is not a plain BERT encoder with absolute
    position embeddings (a weight this mapping does not know).
    """
    out: dict[str, torch.Tensor] = {}
    segment0 = bert["embeddings.token_type_embeddings.weight"][0]
    for key, tensor in bert.items():
        if key.startswith("pooler.") or key in (
            "embeddings.token_type_embeddings.weight",
            "embeddings.position_ids",
        ):
            continue
        if key == "embeddings.position_embeddings.weight":
            out[key] = tensor + segment0  # segment 0 folded into every position
        elif key.startswith("embeddings."):
            out[key] = tensor
        elif key.startswith("encoder.layer."):
            number, rest = key.removeprefix("encoder.layer.").split(".", 1)
            module, param = rest.rsplit(".", 1)
            if module not in _LAYER_RENAMES:
                raise ValueError(f"no DistilBERT counterpart for BERT weight {key!r}")
            out[f"transformer.layer.{number}.{_LAYER_RENAMES[module]}.{param}"] = tensor
        else:
            raise ValueError(f"no DistilBERT counterpart for BERT weight {key!r}")
    return {k: v.contiguous() for k, v in out.items()}


def distilbert_config(bert_config: dict) -> dict:
    """The ``DistilBertConfig`` (as JSON) of a BERT config that DistilBERT's block can express."""
    act = bert_config.get("hidden_act", "gelu")
    if act not in ("gelu", "relu") or bert_config.get("layer_norm_eps", 1e-12) != 1e-12:
        raise ValueError(
            f"DistilBERT's block has GELU/ReLU and LayerNorm eps 1e-12; this model has {act} and "
            f"eps {bert_config.get('layer_norm_eps')}"
        )
    return {
        "architectures": ["DistilBertModel"],
        "model_type": "distilbert",
        "vocab_size": bert_config["vocab_size"],
        "max_position_embeddings": bert_config["max_position_embeddings"],
        "sinusoidal_pos_embds": False,
        "n_layers": bert_config["num_hidden_layers"],
        "n_heads": bert_config["num_attention_heads"],
        "dim": bert_config["hidden_size"],
        "hidden_dim": bert_config["intermediate_size"],
        "dropout": bert_config.get("hidden_dropout_prob", 0.1),
        "attention_dropout": bert_config.get("attention_probs_dropout_prob", 0.1),
        "activation": act,
        "initializer_range": bert_config.get("initializer_range", 0.02),
        "qa_dropout": 0.1,
        "seq_classif_dropout": 0.2,
        "pad_token_id": bert_config.get("pad_token_id", 0),
        "converted_from": "sentence-transformers/all-MiniLM-L6-v2 (BertModel), "
        "by course_utils.distilbert_layout",
    }


def _tokenizer_config(source: Path) -> dict:
    config = json.loads((source / "tokenizer_config.json").read_text())
    config.pop("name_or_path", None)
    config["tokenizer_class"] = "DistilBertTokenizer"
    return config


_SOURCE_FILES = ("config.json", "tokenizer_config.json", "vocab.txt", "model.safetensors")


def _digest(source: Path) -> str:
    """What the converted folder depends on: the source weights and configs, and FORMAT.

    Every notebook resolves its model several times; the ~90 MB are hashed once per process
    and file state (path, size, modification time), not on every call.
    """
    stats = tuple((name, *_stat(source / name)) for name in _SOURCE_FILES)
    return _hashed(str(source), stats)


def _stat(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns


@functools.lru_cache(maxsize=8)
def _hashed(source: str, stats: tuple) -> str:  # stats: the cache key only
    digest = hashlib.sha256(str(FORMAT).encode())
    for name in _SOURCE_FILES:
        digest.update((Path(source) / name).read_bytes())
    return digest.hexdigest()[:16]


def distilbert_layout_path(source: str | os.PathLike[str] | None = None) -> Path:
    """The converted model's folder, written on first use under the course folder.

    ``source`` is a BERT folder (default: the bundled all-MiniLM-L6-v2). The folder holds
    ``model.safetensors`` and a DistilBERT ``config.json``, the tokenizer files configured as
    ``DistilBertTokenizer``, and sentence-transformers' module files (mean pooling, unit
    length), so ``AutoModel``, ``AutoTokenizer`` and ``SentenceTransformer`` all load it with no
    network. It is rebuilt when the source or the conversion changes; a half-written folder is
    never used (it is written aside and renamed into place).
    """
    from safetensors.torch import load_file, save_file

    from course_utils.core.bundled import bundled_model_path

    src = Path(source) if source is not None else bundled_model_path()
    stamp = _digest(src)
    target = course_subdir("models") / FOLDER
    marker = target / "converted.json"
    if marker.is_file() and json.loads(marker.read_text()).get("digest") == stamp:
        return target
    work = target.with_name(f".{FOLDER}.{os.getpid()}.tmp")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    state = to_distilbert_state_dict(load_file(str(src / "model.safetensors")))
    save_file(state, str(work / "model.safetensors"), metadata={"format": "pt"})
    config = distilbert_config(json.loads((src / "config.json").read_text()))
    (work / "config.json").write_text(json.dumps(config, indent=2))
    (work / "tokenizer_config.json").write_text(json.dumps(_tokenizer_config(src), indent=2))
    for name in ("vocab.txt", "tokenizer.json", "special_tokens_map.json",
                 *_SENTENCE_TRANSFORMERS_FILES):  # fmt: skip
        if (src / name).is_file():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / name, work / name)
    (work / "converted.json").write_text(json.dumps({"digest": stamp, "name": NAME}))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(work, target)
    return target
