"""Whether the Hugging Face Hub can be used: decided once per process, said in one line.

Every notebook's setup cell prints the decision (:func:`course_utils.core.notebook.setup`); the
model resolver (:mod:`course_utils.core.models`) and the data resolver
(:mod:`course_utils.core.data`) both follow it, so a notebook never mixes an online model with
offline data by accident.

* ``HF_HUB_OFFLINE=1`` (or ``TRANSFORMERS_OFFLINE=1``) means offline, no probe.
* Otherwise one TCP connection to the Hub's endpoint (``$HF_ENDPOINT``, default
  ``huggingface.co:443``) with a :data:`PROBE_TIMEOUT_S` limit, once per process.
* When the probe fails, the process goes offline for the Hugging Face libraries too
  (``HF_HUB_OFFLINE=1`` and their already-imported flags), so that no later call waits on
  connection retries: an offline classroom gets local files or a clear error at once.
"""

from __future__ import annotations

import functools
import os
import socket
import sys
import time
from dataclasses import dataclass
from urllib.parse import urlparse

PROBE_TIMEOUT_S = 2.0
OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
_TRUTHY = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class HubDecision:
    """``online``: whether to use the Hub; ``reason``: why, for the one printed line."""

    online: bool
    reason: str

    def describe(self) -> str:
        """``hub: offline - HF_HUB_OFFLINE is set`` (printed once by each notebook's setup)."""
        return f"hub: {'online' if self.online else 'offline'} - {self.reason}"


def offline_requested() -> bool:
    """True when ``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` asks for offline mode."""
    return any(os.environ.get(var, "").strip().lower() in _TRUTHY for var in OFFLINE_VARS)


def _endpoint() -> tuple[str, int]:
    parsed = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host = parsed.hostname or "huggingface.co"
    return host, parsed.port or (443 if parsed.scheme != "http" else 80)


@functools.lru_cache(maxsize=4)
def _probe(host: str, port: int, timeout: float) -> HubDecision:
    start = time.perf_counter()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as err:
        waited = time.perf_counter() - start
        return HubDecision(
            False, f"{host}:{port} unreachable ({type(err).__name__} after {waited:.1f} s)"
        )
    return HubDecision(True, f"{host}:{port} answered")


def _go_offline() -> None:
    """Tell the Hugging Face libraries, imported or not, to stay offline in this process."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    for module, attr in (
        ("huggingface_hub.constants", "HF_HUB_OFFLINE"),
        ("datasets.config", "HF_HUB_OFFLINE"),
        ("datasets.config", "HF_DATASETS_OFFLINE"),
    ):
        loaded = sys.modules.get(module)
        if loaded is not None and hasattr(loaded, attr):
            setattr(loaded, attr, True)


_probe_failed_reason: str | None = None  # set when this process went offline after a probe


def hub_decision(timeout: float = PROBE_TIMEOUT_S) -> HubDecision:
    """Whether to use the Hub, and why (see the module docstring). Cheap after the first call."""
    global _probe_failed_reason
    if _probe_failed_reason is not None:
        return HubDecision(False, _probe_failed_reason)
    if offline_requested():
        return HubDecision(False, "HF_HUB_OFFLINE is set")
    decision = _probe(*_endpoint(), timeout)
    if not decision.online:
        _probe_failed_reason = decision.reason
        _go_offline()
    return decision


def hub_status(timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """``None`` when the Hub can be used, else the short reason why not."""
    decision = hub_decision(timeout)
    return None if decision.online else decision.reason


def _reset_for_tests() -> None:
    """Forget the decision (tests only): the next call decides again."""
    global _probe_failed_reason
    _probe_failed_reason = None
    _probe.cache_clear()
