"""How to design a CNN step by step on MNIST, as a PyTorch Lightning + Hydra project.

The Python API (mnist_design/api.py) is importable from here: ``import mnist_design as md``, then
``md.train("experiment=row1")``.
Its names load on first use, so ``python -m mnist_design.<entry>`` does not pay for them.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
from typing import Any, ClassVar

# The public API, by name: only these load mnist_design.api (any other name is a submodule, imported as usual).
API = ("Model", "Prediction", "Run", "compose", "layer_table", "load_model", "load_runs", "receptive_field_table")
API += ("train",)
__all__ = list(API)


def __getattr__(name: str) -> Any:
    if name in API:
        return getattr(importlib.import_module("mnist_design.api"), name)
    raise AttributeError(f"module 'mnist_design' has no attribute {name!r}")


class Package(types.ModuleType):
    """``md.train`` stays the API function after the ``mnist_design.train`` entry point is imported in the same
    process (a test, a notebook cell): importing a submodule sets the package's attribute of that name, and a
    property of the module's class takes precedence over it. The entry point itself stays in sys.modules."""

    @property
    def train(self) -> Any:
        return importlib.import_module("mnist_design.api").train

    @train.setter
    def train(self, submodule: Any) -> None:
        pass  # the import system recording mnist_design.train: sys.modules has it already


sys.modules[__name__].__class__ = Package


# Committed records name modules by the paths they had before the package was grouped into wings (results/*/.hydra/
# config.yaml's _target_s, schedulers pickled in checkpoints): those names still import, as the modules now there.
MOVED = {
    "mnist_design.callbacks": "mnist_design.training.callbacks",
    "mnist_design.checkpoints": "mnist_design.training.checkpoints",
    "mnist_design.preflight": "mnist_design.runs.preflight",
    "mnist_design.schedules": "mnist_design.training.schedules",
}


class MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports an old module name as the module that replaced it (the same module object, not a copy)."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        return importlib.util.spec_from_loader(fullname, self) if fullname in MOVED else None

    own_specs: ClassVar[dict[str, Any]] = {}  # old name -> the spec the module was imported with under its new name

    def create_module(self, spec: Any) -> Any:
        module = importlib.import_module(MOVED[spec.name])
        self.own_specs[spec.name] = module.__spec__
        return module

    def exec_module(self, module: Any) -> None:
        # Already executed under its new name; the import system stamped the old name's spec on it: undo that.
        module.__spec__ = self.own_specs[module.__spec__.name]


sys.meta_path.append(MovedModules())
