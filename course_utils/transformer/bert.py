"""BERT from the course's own blocks, loading real BERT, DistilBERT and MiniLM weights.

Taught in notebook 01, section 7 (a real model: MiniLM from these blocks): :class:`BertEncoder`
is :class:`~course_utils.transformer.blocks.EncoderBlock` stacked as BERT does it, with BERT's
embeddings; :func:`split_bert_state_dict` renames the common Hugging Face checkpoint layouts to
its parameter names.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor, nn

from course_utils.transformer.blocks import EncoderBlock


@dataclass(frozen=True)
class BertConfig:
    """The fields of a BERT ``config.json`` that the architecture needs."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_dropout_prob: float = 0.1

    @classmethod
    def from_json(cls, path: str | Path) -> BertConfig:
        """Read ``config.json`` (BERT, or DistilBERT: the same post-norm blocks without segment
        embeddings); refuse variants these blocks do not implement."""
        raw = json.loads(Path(path).read_text())
        if raw.get("model_type") == "distilbert":
            if raw.get("sinusoidal_pos_embds"):
                raise ValueError(f"{path}: sinusoidal DistilBERT positions are not implemented")
            raw = {
                "vocab_size": raw["vocab_size"], "hidden_size": raw["dim"],
                "num_hidden_layers": raw["n_layers"], "num_attention_heads": raw["n_heads"],
                "intermediate_size": raw["hidden_dim"],
                "max_position_embeddings": raw["max_position_embeddings"],
                "type_vocab_size": 1,  # no segments: one all-zero segment embedding
                "hidden_dropout_prob": raw.get("dropout", 0.1),
                "hidden_act": raw.get("activation", "gelu"),
            }  # fmt: skip
        if raw.get("model_type", "bert") != "bert":
            raise ValueError(f"{path}: model_type {raw.get('model_type')!r} is not 'bert'")
        if raw.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"{path}: hidden_act {raw['hidden_act']!r} is not 'gelu'")
        if raw.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"{path}: only absolute position embeddings are implemented")
        return cls(**{f.name: raw[f.name] for f in fields(cls) if f.name in raw})


class BertEmbeddings(nn.Module):
    """Token + learned position + segment (token type) embeddings, layer norm, dropout.

    Taught in notebook 01, sections 5 and 7.
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: Tensor, token_type_ids: Tensor | None = None) -> Tensor:
        """``input_ids`` (B, L) -> embeddings (B, L, hidden_size)."""
        seq_len, max_len = input_ids.size(1), self.position_embeddings.num_embeddings
        if seq_len > max_len:
            raise ValueError(f"{seq_len} tokens exceed the model's {max_len} positions")
        positions = torch.arange(seq_len, device=input_ids.device)  # (L,)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        x = (
            self.word_embeddings(input_ids)
            + self.position_embeddings(positions)
            + self.token_type_embeddings(token_type_ids)
        )
        return self.dropout(self.norm(x))


class BertOutput(NamedTuple):
    """What :class:`BertEncoder` returns (names as in Hugging Face's ``BertModel``)."""

    last_hidden_state: Tensor  # (B, L, hidden_size)
    attentions: tuple[Tensor, ...] | None  # per layer (B, heads, L, L), if asked for


class BertEncoder(nn.Module):
    """BERT's encoder from the course's blocks: :class:`BertEmbeddings` and
    ``num_hidden_layers`` post-norm GELU :class:`EncoderBlock` (no pooler).

    One ``dropout`` (``hidden_dropout_prob``) is used throughout, as ``nn.Transformer`` does;
    at inference (``eval()``) the outputs equal Hugging Face's ``BertModel``.
    Taught in notebook 01, section 7.
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.ignored_weights: list[str] = []  # set by from_pretrained: heads left out
        self.embeddings = BertEmbeddings(config)
        self.layers = nn.ModuleList(
            EncoderBlock(
                config.hidden_size,
                config.num_attention_heads,
                config.intermediate_size,
                dropout=config.hidden_dropout_prob,
                activation="gelu",
                layer_norm_eps=config.layer_norm_eps,
            )
            for _ in range(config.num_hidden_layers)
        )

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        output_attentions: bool = False,
    ) -> BertOutput:
        """``input_ids`` and ``attention_mask`` (B, L) as a tokenizer returns them."""
        x = self.embeddings(input_ids, token_type_ids)  # (B, L, hidden)
        attentions = []
        for block in self.layers:
            x, weights = block(x, padding_mask=attention_mask, need_weights=output_attentions)
            attentions.append(weights)
        return BertOutput(x, tuple(attentions) if output_attentions else None)

    @classmethod
    def from_pretrained(cls, path: str | Path) -> BertEncoder:
        """Build from a Hugging Face BERT folder (``config.json`` + ``model.safetensors``).

        Reads the common layouts (see :func:`convert_bert_state_dict`): ``BertModel``, a
        ``bert.``-prefixed checkpoint with task heads (``BertForPreTraining``, ...), old
        ``LayerNorm.gamma``/``beta`` names, and DistilBERT. Weights are read with
        ``safetensors`` only (no pickle); every weight of the encoder must be found. Task heads
        are not part of the encoder: their names are kept in ``model.ignored_weights``.
        Returns the model in ``eval()`` mode.
        """
        from safetensors.torch import load_file

        folder = Path(path)
        weights = folder / "model.safetensors"
        if not weights.is_file():
            raise FileNotFoundError(f"{folder} has no model.safetensors (only safetensors load)")
        config = BertConfig.from_json(folder / "config.json")
        model = cls(config)
        state, ignored = split_bert_state_dict(load_file(str(weights)))
        if "embeddings.token_type_embeddings.weight" not in state and config.type_vocab_size == 1:
            state["embeddings.token_type_embeddings.weight"] = torch.zeros(1, config.hidden_size)
        model.load_state_dict(state)
        model.ignored_weights = ignored
        return model.eval()


_BERT_RENAMES = (
    (r"^embeddings\.LayerNorm\.", "embeddings.norm."),
    (r"^encoder\.layer\.(\d+)\.attention\.self\.query\.", r"layers.\1.self_attn.q_proj."),
    (r"^encoder\.layer\.(\d+)\.attention\.self\.key\.", r"layers.\1.self_attn.k_proj."),
    (r"^encoder\.layer\.(\d+)\.attention\.self\.value\.", r"layers.\1.self_attn.v_proj."),
    (r"^encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"layers.\1.self_attn.out_proj."),
    (r"^encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.", r"layers.\1.norm1."),
    (r"^encoder\.layer\.(\d+)\.intermediate\.dense\.", r"layers.\1.ff.linear1."),
    (r"^encoder\.layer\.(\d+)\.output\.dense\.", r"layers.\1.ff.linear2."),
    (r"^encoder\.layer\.(\d+)\.output\.LayerNorm\.", r"layers.\1.norm2."),
)


_DISTILBERT_RENAMES = (  # DistilBERT names -> BERT names (same post-norm block)
    (r"^distilbert\.", ""),
    (r"^transformer\.layer\.(\d+)\.attention\.q_lin\.", r"encoder.layer.\1.attention.self.query."),
    (r"^transformer\.layer\.(\d+)\.attention\.k_lin\.", r"encoder.layer.\1.attention.self.key."),
    (r"^transformer\.layer\.(\d+)\.attention\.v_lin\.", r"encoder.layer.\1.attention.self.value."),
    (
        r"^transformer\.layer\.(\d+)\.attention\.out_lin\.",
        r"encoder.layer.\1.attention.output.dense.",
    ),
    (
        r"^transformer\.layer\.(\d+)\.sa_layer_norm\.",
        r"encoder.layer.\1.attention.output.LayerNorm.",
    ),
    (r"^transformer\.layer\.(\d+)\.ffn\.lin1\.", r"encoder.layer.\1.intermediate.dense."),
    (r"^transformer\.layer\.(\d+)\.ffn\.lin2\.", r"encoder.layer.\1.output.dense."),
    (r"^transformer\.layer\.(\d+)\.output_layer_norm\.", r"encoder.layer.\1.output.LayerNorm."),
)


# Task heads on top of the encoder: BERT's MLM/NSP (cls.), DistilBERT's MLM (vocab_*),
# sequence classification and question answering. Names as bert_name gives them.
TASK_HEADS = ("cls.", "classifier.", "qa_outputs.", "pre_classifier.", "vocab_")


def is_task_head(name: str) -> bool:
    """Whether a weight (named as :func:`bert_name` names it) belongs to a task head, not to the
    encoder. The one rule for every reader of checkpoints: :class:`BertEncoder` and the neuron
    view (:mod:`course_utils.views.neuron`)."""
    return name.startswith(TASK_HEADS)


def bert_name(name: str) -> str:
    """A Hugging Face BERT or DistilBERT weight name as ``BertModel`` names it.

    Drops a ``bert.``/``distilbert.`` prefix, maps DistilBERT's layer names onto BERT's (the
    same post-norm block) and TensorFlow-era ``LayerNorm.gamma``/``beta`` onto
    ``weight``/``bias``. Task heads and the pooler keep their names.
    """
    name = name.removeprefix("bert.")
    for pattern, replacement in _DISTILBERT_RENAMES:
        name = re.sub(pattern, replacement, name)
    return re.sub(r"\.gamma$", ".weight", re.sub(r"\.beta$", ".bias", name))


def split_bert_state_dict(
    state_dict: dict[str, Tensor],
) -> tuple[dict[str, Tensor], list[str]]:
    """``(encoder weights renamed for BertEncoder, names of the weights left out)``.

    Accepts ``BertModel`` names, the same with a ``bert.`` prefix and task heads
    (``BertForPreTraining``, ``BertForSequenceClassification``, ...), TensorFlow-era
    ``LayerNorm.gamma``/``beta`` names, and DistilBERT names (see :func:`bert_name`). Left
    out: the pooler, task heads (``cls.*``, ``classifier.*``, ``vocab_*``, ...) and the
    ``position_ids`` buffer.
    """
    converted, ignored = {}, []
    for original, tensor in state_dict.items():
        name = bert_name(original)
        if is_task_head(name) or name.startswith("pooler.") or name.endswith("position_ids"):
            ignored.append(original)
            continue
        for pattern, replacement in _BERT_RENAMES:
            name = re.sub(pattern, replacement, name)
        converted[name] = tensor
    return converted, sorted(ignored)


def convert_bert_state_dict(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Rename Hugging Face ``BertModel`` weights to :class:`BertEncoder`'s names; drop the
    pooler, task heads and the ``position_ids`` buffer, which the encoder does not use
    (:func:`split_bert_state_dict` also says which were dropped).
    Taught in notebook 01, section 7.
    """
    return split_bert_state_dict(state_dict)[0]
