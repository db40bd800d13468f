"""GPT-2 (online) and any decoder's causal attention, with the course's sampling API.

Taught in notebook 02, section 11 ("GPT-2, online") and the decoder's causal attention in
BertViz. Loading GPT-2 needs the Hugging Face Hub; :func:`decoder_attention` works for the
course's :class:`~course_utils.decoder.model.TinyGPT` and for GPT-2 alike.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from course_utils.decoder.model import TinyGPT
from course_utils.decoder.sampling import _prompt_ids


def load_gpt2(name: str = "openai-community/gpt2") -> tuple[Any, nn.Module]:
    """GPT-2 from the Hugging Face Hub (or its local cache) as ``(tokenizer, model)``.

    Safetensors weights only, eager attention so that its attention can be drawn; use it with
    :func:`generate` exactly like :class:`TinyGPT`. Needs the Hub (or a cached copy).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from course_utils.core.models import hub_status

    local_only = hub_status() is not None
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            name, local_files_only=local_only, trust_remote_code=False
        )
        model = AutoModelForCausalLM.from_pretrained(
            name,
            local_files_only=local_only,
            use_safetensors=True,
            trust_remote_code=False,
            attn_implementation="eager",
        )
    except OSError as err:
        raise RuntimeError(
            f"Could not load '{name}' ({str(err).splitlines()[0]}): GPT-2 needs the Hugging Face "
            "Hub once; offline, use the course's TinyGPT (load_course_decoder())."
        ) from err
    return tokenizer, model.eval()


def decoder_attention(model: nn.Module, tokenizer: Any, text: str) -> Any:
    """The causal self-attention of a decoder on ``text`` as a BertViz view.

    For :class:`TinyGPT` and Hugging Face causal LMs loaded with eager attention; the first
    position is the start (end-of-text) token. Taught in notebook 02, section 10.
    """
    from course_utils.views.attention import to_bertviz

    ids = _prompt_ids(model, tokenizer, text)[None]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        if isinstance(model, TinyGPT):
            _, attentions = model(ids[:, -model.config.context :], return_attention=True)
            tok_ids = model.token_ids[ids[0, -model.config.context :]].cpu()
        else:
            attentions = model(input_ids=ids, output_attentions=True).attentions
            tok_ids = ids[0].cpu()
    model.train(was_training)
    return to_bertviz(attentions, tokenizer.convert_ids_to_tokens(tok_ids.tolist()))
