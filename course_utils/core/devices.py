"""Where the course's tensors run: the device, and mixed precision on it.

Every notebook's setup cell picks the device (:func:`pick_device`, called by
:func:`course_utils.core.notebook.setup`; ``$COURSE_DEVICE`` forces one); a model's inputs go
where its weights are (:func:`model_device`); on a CUDA GPU encoding and training compute in
bf16 or fp16 (:func:`autocast_dtype`, :func:`autocast`), while the CPU and Apple's MPS compute
in plain fp32, so the results are the same on every machine. The model loader
(:mod:`course_utils.core.models`) and the setup cell both use this module; it imports nothing
of the course.
"""

from __future__ import annotations

import os
from typing import Any

import torch


def pick_device(prefer: str | None = None) -> torch.device:
    """The best available device: ``cuda``, then Apple ``mps``, then ``cpu``.

    ``prefer`` (or ``$COURSE_DEVICE``) forces one, e.g. ``"cpu"`` for exact reproducibility.
    """
    prefer = prefer or os.environ.get("COURSE_DEVICE") or None
    if prefer:
        device = torch.device(prefer)
        usable = {
            "cuda": torch.cuda.is_available,
            "mps": lambda: (
                getattr(torch.backends, "mps", None) is not None
                and torch.backends.mps.is_available()
            ),
        }
        if device.type in usable and not usable[device.type]():
            raise ValueError(
                f"Device {prefer!r} was requested (argument or COURSE_DEVICE), but this PyTorch "
                f"({torch.__version__}) cannot use it here. Use 'cpu', or install a PyTorch "
                f"build with {device.type.upper()} support on a machine that has the hardware."
            )
        if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
            raise ValueError(
                f"Device {prefer!r}: only {torch.cuda.device_count()} CUDA device(s) here."
            )
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def model_device(model: torch.nn.Module) -> torch.device:
    """Where a model's weights are (its first parameter's device): its inputs go there."""
    return next(model.parameters()).device


def autocast_dtype(device: torch.device | str) -> torch.dtype | None:
    """The mixed-precision type the course computes in on ``device``, or ``None`` for full fp32.

    On a CUDA GPU: bfloat16 where the GPU supports it, else float16 (training then scales the
    loss with a gradient scaler). On the CPU and on Apple's MPS: ``None``, since autocast was not
    measured to help there and fp32 keeps the results the same on every machine.
    """
    device = torch.device(device)
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device | str, dtype: torch.dtype | None) -> Any:
    """A ``with`` context computing in ``dtype`` on ``device`` (from :func:`autocast_dtype`);
    ``None`` is a no-op, so the CPU computes in plain fp32. Used by ``encode`` and ``fit``."""
    return torch.autocast(torch.device(device).type, dtype=dtype, enabled=dtype is not None)
