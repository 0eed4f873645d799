"""The config groups' node types: one per conf/<group>/ kind (data, model, augment, optimizer, scheduler, trainer,
module). Each YAML in the group starts from its node (``defaults: [/schema/<group>/<kind>@_here_, _self_]``)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field, fields, make_dataclass
from typing import Any, List, Optional, get_type_hints

from omegaconf import MISSING

from mnist_design.data.augment import BatchAffine
from mnist_design.data.datamodule import MNISTDataModule

# Typing note: OmegaConf reads these annotations at run time, so they use typing's Dict/List/Optional.


@dataclass
class Target:
    """A node Hydra instantiates."""

    _target_: str = MISSING


@dataclass
class Partial(Target):
    """A node completed later with arguments only known at run time (the optimizer's parameters, ...)."""

    _partial_: bool = True


@dataclass
class Scheduler(Partial):
    """A learning-rate scheduler; ``interval`` (and ``monitor``) are Lightning's keys beside its own arguments."""

    interval: str = MISSING


@dataclass
class ConvNetModel(Target):
    layers: List[Any] = MISSING
    batch_norm: bool = MISSING
    dropout: float = MISSING


@dataclass
class FamilyModel(Target):
    stage1: List[int] = MISSING
    transition: int = MISSING
    squeeze_first: bool = MISSING
    stage2: List[int] = MISSING
    transition2: int = MISSING
    stage3: List[int] = MISSING
    padding: List[int] = MISSING
    separable: List[bool] = field(default_factory=lambda: [False, False, False])
    first_kernel: int = 3
    head: List[int] = MISSING
    gap: str = MISSING
    batch_norm: bool = MISSING
    dropout: float = MISSING


@dataclass
class SGD(Partial):
    lr: float = MISSING
    momentum: float = MISSING
    nesterov: bool = MISSING
    weight_decay: float = MISSING


@dataclass
class Adam(Partial):
    lr: float = MISSING
    weight_decay: float = MISSING


@dataclass
class AdamW(Partial):
    lr: float = MISSING
    weight_decay: float = MISSING


@dataclass
class Piecewise(Scheduler):
    points: List[Any] = MISSING  # [epoch, lr] pairs (OmegaConf cannot type nested lists)
    max_lr: Optional[float] = None
    span: Optional[float] = None


@dataclass
class OneCycle(Scheduler):
    max_lr: float = MISSING
    pct_start: float = MISSING
    div_factor: float = MISSING
    final_div_factor: float = MISSING
    anneal_strategy: str = MISSING
    three_phase: bool = MISSING


@dataclass
class StepLR(Scheduler):
    step_size: int = MISSING
    gamma: float = MISSING


@dataclass
class Plateau(Scheduler):
    mode: str = MISSING
    factor: float = MISSING
    patience: int = MISSING
    monitor: str = MISSING


@dataclass
class TrainerTyped(Target):
    """The lightning.Trainer arguments the configs set, with their types (so a wrong type is refused by Hydra)."""

    accelerator: str = MISSING
    devices: Any = MISSING
    precision: Any = MISSING
    max_epochs: Optional[int] = MISSING
    deterministic: Any = MISSING
    log_every_n_steps: int = MISSING
    num_sanity_val_steps: int = MISSING
    enable_model_summary: bool = MISSING
    enable_progress_bar: bool = MISSING
    enable_checkpointing: bool = True
    check_val_every_n_epoch: Optional[int] = 1


PASSED_BY_THE_FACTORY = ("self", "callbacks", "logger")  # built from their own config groups


def plain_default(value: Any) -> Any:
    """Lightning's default where OmegaConf can hold it, else None (= let Lightning use its own)."""
    return value if value is None or isinstance(value, (bool, int, float, str)) else None


def signature_node(name: str, cls: type, passed_by_code: tuple[str, ...] = ()) -> type:
    """A node whose keys, types and defaults are ``cls``'s own keyword arguments: the class signature holds each
    default once, the YAML sets only what differs, and a misspelt key is still refused by name. ``passed_by_code``:
    arguments the factory supplies (objects, facts of the data), never typed by a user."""
    hints = get_type_hints(cls.__init__)
    keys = [
        (key, hints[key], field(default=parameter.default))
        for key, parameter in inspect.signature(cls.__init__).parameters.items()
        if key != "self" and key not in passed_by_code
    ]
    return make_dataclass(name, keys, bases=(Target,))


# mean and std are MNIST's facts (mnist_design/data/__init__.py); augment and drop_last come from the factory
Data = signature_node("Data", MNISTDataModule, passed_by_code=("mean", "std", "augment", "drop_last"))
Augment = signature_node("Augment", BatchAffine)


def trainer_schema() -> type:
    """Every other argument of lightning.Trainer, read from its signature: ``trainer.min_epochs=3`` works without
    ``+``, and a misspelt one (``trainer.min_epoch=3``) is still refused by name. Their types are Lightning's own
    business (checked when the Trainer is built), so they are ``Any`` here."""
    import lightning

    typed = {f.name for f in fields(TrainerTyped)}
    extra = [
        (name, Any, field(default=plain_default(parameter.default)))
        for name, parameter in inspect.signature(lightning.Trainer.__init__).parameters.items()
        if name not in typed
        and name not in PASSED_BY_THE_FACTORY
        and parameter.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]
    return make_dataclass("Trainer", extra, bases=(TrainerTyped,))


Trainer = trainer_schema()


@dataclass
class Module:
    label_smoothing: float = MISSING
    tta_degrees: List[float] = MISSING


GROUPS: dict[str, Any] = {  # ConfigStore path under schema/ -> node
    "data/mnist": Data,
    "model/convnet": ConvNetModel,
    "model/family": FamilyModel,
    "augment/affine": Augment,
    "optimizer/sgd": SGD,
    "optimizer/adam": Adam,
    "optimizer/adamw": AdamW,
    "scheduler/onecycle": OneCycle,
    "scheduler/piecewise": Piecewise,
    "scheduler/step": StepLR,
    "scheduler/plateau": Plateau,
    "trainer/lightning": Trainer,
    "module/default": Module,
}
