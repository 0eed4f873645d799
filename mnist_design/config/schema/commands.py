"""The entry points' top-level configs: conf/train.yaml, bench.yaml, search.yaml, fidelity.yaml, evaluate.yaml,
predict.yaml and report.yaml each start from theirs (``/schema/<entry>``); the groups inside them are typed by
schema/groups.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from omegaconf import MISSING

# Typing note: OmegaConf reads these annotations at run time, so they use typing's Dict/List/Optional.


@dataclass
class Train:
    """Every field MISSING: bench and search merge this schema's subclasses after train.yaml, and a MISSING field
    never overwrites a value already composed."""

    data: Any = MISSING
    model: Any = MISSING
    augment: Any = MISSING
    optimizer: Any = MISSING
    scheduler: Any = MISSING
    trainer: Any = MISSING
    logger: Any = MISSING
    callbacks: Any = MISSING
    module: Any = MISSING
    seed: int = MISSING
    test: bool = MISSING
    budget: Optional[int] = MISSING
    resume: Optional[str] = MISSING
    threads: Optional[int] = MISSING
    compile: Optional[bool] = MISSING
    compile_mode: str = MISSING
    tags: Dict[str, Any] = MISSING


@dataclass
class Bench(Train):
    repeats: int = MISSING
    batches: int = MISSING
    warmup: int = MISSING
    quick: bool = MISSING
    quick_repeats: int = MISSING
    quick_batches: int = MISSING
    quick_warmup: int = MISSING
    parallel: bool = MISSING
    busy: bool = MISSING
    busy_batches: int = MISSING


@dataclass
class Selection:
    top: int = MISSING
    seeds: List[int] = MISSING
    preset: Optional[str] = MISSING


@dataclass
class SearchSettings:
    study_name: str = MISSING
    results_dir: str = MISSING
    storage: Optional[str] = MISSING
    direction: Optional[str] = MISSING
    selection: Selection = field(default_factory=Selection)
    is_worker: bool = False  # set by the search itself on the processes it starts
    n_trials: int = MISSING
    refusal_streak: int = MISSING
    workers: int = MISSING
    timeout_min: Optional[float] = MISSING
    enqueue_base: bool = MISSING
    enqueue_published: bool = MISSING
    crosses: List[str] = field(default_factory=list)
    monitor: str = MISSING
    sampler: Any = MISSING
    pruner: Any = MISSING
    gone_hosts: List[str] = field(default_factory=list)
    rung_epochs: Optional[int] = MISSING
    space: Dict[str, Any] = MISSING


@dataclass
class Search(Train):
    search: SearchSettings = field(default_factory=SearchSettings)


@dataclass
class FidelitySettings:
    configs: int = MISSING
    sampler_seed: int = MISSING
    full_epochs: int = MISSING
    rungs: List[int] = MISSING
    compressed: List[int] = MISSING
    workers: int = MISSING
    worker: int = MISSING
    results_dir: str = MISSING
    docs: Optional[str] = MISSING


@dataclass
class Fidelity(Search):
    fidelity: FidelitySettings = field(default_factory=FidelitySettings)


@dataclass
class Evaluate:
    trainer: Any = MISSING
    ckpt_path: str = MISSING
    data_dir: Optional[str] = MISSING


@dataclass
class Predict:
    ckpt_path: str = MISSING
    inputs: Any = MISSING  # a path, or a list of paths (files or directories)
    json: bool = MISSING


@dataclass
class Export:
    ckpt_path: Any = MISSING  # export: one path; robustness: one or a list (its images are built once for all)
    out_dir: Optional[str] = MISSING
    data_dir: Optional[str] = MISSING
    int8: bool = MISSING
    calibration_images: int = MISSING
    latency_runs: int = MISSING


@dataclass
class Robustness(Export):
    corruptions: Optional[List[str]] = MISSING
    severity: int = MISSING
    suite_seed: int = MISSING


@dataclass
class Report:
    seeds: List[int] = MISSING
    sweep_dirs: List[str] = MISSING
    schedulers: bool = MISSING
    recipes: List[str] = MISSING
    recipe_seeds: List[int] = MISSING
    designs: List[str] = MISSING
    design_seeds: List[int] = MISSING
    steps: List[str] = MISSING
    step_seeds: List[int] = MISSING
    train_overrides: List[str] = MISSING
    out_dir: str = MISSING
    front: bool = MISSING
    results_dir: str = MISSING
    readme: Optional[str] = MISSING


COMMANDS: dict[str, Any] = {  # ConfigStore path under schema/ -> node
    "train": Train,
    "bench": Bench,
    "search": Search,
    "fidelity": Fidelity,
    "evaluate": Evaluate,
    "predict": Predict,
    "export": Export,
    "robustness": Robustness,
    "report": Report,
}
