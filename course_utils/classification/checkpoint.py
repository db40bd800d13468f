"""Crash-safe training checkpoints: resume an interrupted run and end exactly as an unbroken one.

Taught in notebook 05 (fine-tuning writes one every epoch). Each checkpoint holds the weights
as safetensors, the optimizer, scheduler and RNG state, and last a manifest with the
configuration and checksums (written atomically, :func:`course_utils.core.paths.write_atomic`), so
a run killed at any moment leaves either the previous checkpoint or the new one.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from safetensors.torch import load_model
from torch import nn

from course_utils.classification.config import TrainConfig
from course_utils.core import paths

CHECKPOINT_MANIFEST = "checkpoint.json"


CHECKPOINT_FORMAT = 1


class CheckpointError(RuntimeError):
    """A checkpoint folder cannot be resumed from (other settings, or damaged files)."""


def _weights_bytes(tensors: dict[str, torch.Tensor]) -> bytes:
    from safetensors.torch import save

    # cloned: tied weights share storage, which safetensors refuses; each name gets its own copy
    return save({k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()})


def _config_dict(config: TrainConfig) -> dict[str, Any]:
    return json.loads(json.dumps(asdict(config)))


def save_checkpoint(
    folder: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    state: dict[str, Any],
    best_state: dict[str, torch.Tensor],
    config: TrainConfig,
    rank: int,
) -> None:
    """Write one epoch's checkpoint (rank 0 only), crash-safe.

    Each file (``model-eN.safetensors``, ``best-eM.safetensors``, ``state-eN.pt``) is written
    atomically under a new name; the manifest ``checkpoint.json`` (epoch, configuration, file
    names and SHA-256 sums) is written last, atomically, and is the only thing a resume trusts.
    A crash at any point leaves the previous manifest and the files it names intact. Files no
    manifest names any more are then removed.
    """
    if rank == 0:
        folder.mkdir(parents=True, exist_ok=True)
        epoch = state["epoch"] + 1
        manifest_path = folder / CHECKPOINT_MANIFEST  # for the best file's name only:
        previous = json.loads(manifest_path.read_text()) if manifest_path.is_file() else None
        files = {"model": f"model-e{epoch}.safetensors", "state": f"state-e{epoch}.pt"}
        paths.write_atomic(folder / files["model"], _weights_bytes(model.state_dict()))
        if best_state and state["best_epoch"] == epoch:
            files["best"] = f"best-e{epoch}.safetensors"
            paths.write_atomic(folder / files["best"], _weights_bytes(best_state))
        elif previous is not None and "best" in previous["files"]:
            files["best"] = previous["files"]["best"]["name"]
        extra = {
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }
        buffer = io.BytesIO()
        torch.save(extra, buffer)
        paths.write_atomic(folder / files["state"], buffer.getvalue())
        manifest = {
            "format": CHECKPOINT_FORMAT,
            "config": _config_dict(config),
            "state": state,
            "files": {
                role: {"name": name, "sha256": paths.sha256(folder / name)}
                for role, name in files.items()
            },
        }
        paths.write_atomic(folder / CHECKPOINT_MANIFEST, json.dumps(manifest, indent=1).encode())
        keep = {CHECKPOINT_MANIFEST, *files.values()}
        for path in folder.iterdir():
            if path.name not in keep and path.suffix in {".safetensors", ".pt", ".tmp"}:
                path.unlink(missing_ok=True)
    if dist.is_initialized():
        dist.barrier()


def read_manifest(folder: Path, config: TrainConfig | None = None) -> dict[str, Any] | None:
    """The checkpoint manifest of ``folder``, its files verified; ``None`` when there is none.

    With ``config``, a checkpoint written under another configuration is refused: resuming it
    would mix two trainings. Raises :class:`CheckpointError` saying what differs.
    """
    path = folder / CHECKPOINT_MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
        files = manifest["files"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise CheckpointError(
            f"{path} is not a checkpoint manifest ({err}); delete the folder to start afresh."
        ) from err
    if manifest.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} has format {manifest.get('format')}, not {CHECKPOINT_FORMAT}; delete it."
        )
    ours = _config_dict(config) if config is not None else manifest["config"]
    if manifest["config"] != ours:
        differs = {
            k: (manifest["config"].get(k), ours.get(k))
            for k in sorted(set(ours) | set(manifest["config"]))
            if manifest["config"].get(k) != ours.get(k)
        }
        raise CheckpointError(
            f"The checkpoint in {folder} was written with other settings "
            f"((checkpoint, this run): {differs}). Resuming would mix two trainings: use "
            "another checkpoint_dir (train.run_key names one per configuration) or delete it."
        )
    for role, entry in files.items():
        file = folder / entry["name"]
        if not file.is_file() or paths.sha256(file) != entry["sha256"]:
            raise CheckpointError(
                f"{file} ({role}) is missing or does not match its checksum in {path}: the "
                "checkpoint was damaged after it was written. Delete the folder to start afresh."
            )
    return manifest


def load_checkpoint(
    folder: Path,
    manifest: dict[str, Any],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    device: torch.device,
) -> dict[str, Any]:
    files = manifest["files"]
    extra = torch.load(folder / files["state"]["name"], map_location="cpu", weights_only=True)
    load_model(model, str(folder / files["model"]["name"]), device=str(device))
    optimizer.load_state_dict(extra["optimizer"])
    scheduler.load_state_dict(extra["scheduler"])
    torch.set_rng_state(extra["torch_rng"])
    if extra["cuda_rng"]:
        torch.cuda.set_rng_state_all(extra["cuda_rng"])
    return manifest["state"]


def best_from_disk(
    folder: Path, manifest: dict[str, Any], model: nn.Module
) -> dict[str, torch.Tensor]:
    """The best epoch's weights, read without disturbing ``model``'s current ones."""
    from safetensors.torch import load_file

    if "best" not in manifest["files"]:
        return {}
    best = load_file(str(folder / manifest["files"]["best"]["name"]))
    current = model.state_dict()
    return {k: best.get(k, v.detach().cpu()) for k, v in current.items()}
