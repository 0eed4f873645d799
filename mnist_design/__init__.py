"""How to design a CNN step by step on MNIST, as a PyTorch Lightning + Hydra project.

The Python API (mnist_design/api.py) is importable from here: ``import mnist_design as md``, then
``md.train("experiment=row1")``.
Its names load on first use, so ``python -m mnist_design.<entry>`` does not pay for them.
"""

from __future__ import annotations

import importlib
from typing import Any

# The public API, by name: only these load mnist_design.api (any other name is a submodule, imported as usual).
API = ("Model", "Prediction", "Run", "compose", "layer_table", "load_model", "load_runs", "receptive_field_table")
API += ("train",)
__all__ = list(API)


def __getattr__(name: str) -> Any:
    if name in API:
        return getattr(importlib.import_module("mnist_design.api"), name)
    raise AttributeError(f"module 'mnist_design' has no attribute {name!r}")
