"""Reading our checkpoints with one clear error for each way they can be wrong (missing, truncated, foreign)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from mnist_design.atomic import write_atomic
from mnist_design.errors import UserError
from mnist_design.runs.layout import RunDir


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written to a temporary file in the same directory, then renamed: a kill mid-save (SIGKILL too)
    leaves the previous checkpoint whole. Lightning's own writer may stage in /tmp and copy across filesystems."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None) -> None:
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        write_atomic(Path(path), buffer.getvalue())


class CheckpointError(UserError):
    """A checkpoint that cannot be used; the message names the file and what to do instead."""


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(
            f"checkpoint {path} is a directory; pass a file in it, e.g. ckpt_path={RunDir(path).last_checkpoint}"
        )
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {path} does not exist; pass ckpt_path={RunDir('<run dir>').last_checkpoint} (or best-*.ckpt)"
        )
    try:
        # Our checkpoints hold plain dicts and tensors, but Lightning's loop state needs the full unpickler:
        # load only checkpoints you trust.
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:
        raise CheckpointError(
            f"checkpoint {path} is unreadable, truncated or corrupt ({type(error).__name__}); "
            f"use another checkpoint of the run, e.g. {RunDir('').last_checkpoint.name} or best-*.ckpt"
        ) from error
    hparams = checkpoint.get("hyper_parameters") if isinstance(checkpoint, dict) else None
    if not isinstance(hparams, dict) or not {"net", "optimizer"} <= hparams.keys() or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path} is not an mnist_design checkpoint (no model hyperparameters inside)")
    return checkpoint
