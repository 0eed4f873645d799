"""Training throughput, measured side by side in one process: our Lightning path vs a raw loop vs the tutorial's ways.

    python -m mnist_design.bench                       # 5 rounds of A, B, C, D (E on CUDA), order reversed every other
    python -m mnist_design.bench quick=true            # about a minute on a 2-core CPU
    python -m mnist_design.bench parallel=true         # + 1 job alone vs 2 jobs sharing the machine
    python -m mnist_design.bench busy=true             # only: threads measured vs fixed, alone and beside a busy core
    python -m mnist_design.bench trainer.precision=bf16-mixed data.batch_size=256 model=skeleton

A  the project's real path: factory.build() -> Lightning fit with the real callbacks and logger, resident tensors,
   batched augmentation on the device.
B  a plain PyTorch loop over the same model, optimizer, scheduler and data path (no Lightning).
C  the tutorial's data pipeline: torchvision's MNIST dataset with per-sample PIL RandomRotation(7) + ToTensor +
   Normalize
   through a DataLoader, trained by a Lightning Trainer with default settings (same model, same fast dropout).
D  the tutorial's notebook as it is: the same pipeline as C, torch's own nn.Dropout, a plain PyTorch training loop.
E  path A with the network compiled (torch.compile, conf/train.yaml's compile_mode): measured on CUDA, or anywhere
   with compile=true (on a CPU compiling takes minutes and measured no gain). A and B are always eager.

Each measurement times ``batches`` training steps after ``warmup`` steps; every ratio is the median over repeats of
the two paths' rates within one repeat (paired_ratio), printed with the lowest and highest repeat. It ends with
``ratio_vs_tutorial_pipeline`` (A/C), ``ratio_vs_tutorial_notebook`` (A/D), ``ratio_vs_raw_loop`` (A/B) and, where E
ran, ``ratio_compiled_vs_raw_loop`` (E/B); with ``parallel=true`` also ``ratio_parallel_2_vs_1``: images per second
of two concurrent jobs together over one job alone. ``busy=true``
instead times path A with ``threads=null`` (measured, mnist_design/training/threads.py), ``threads=1`` and the core
share, alone and beside one busy process (a Python spin loop), and ends with ``ratio_measured_vs_1_beside_busy`` and
``ratio_measured_vs_share_alone``. Results also go to bench.json in the run dir.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from mnist_design.bench.concurrency import busy_rates, concurrent_rate
from mnist_design.bench.paths import BENCH_FILE, COMPILED, PER_REPEAT, RATES, flops_per_image, measured_paths
from mnist_design.config import config_dir, validate, with_runtime
from mnist_design.errors import exit_on_user_error
from mnist_design.runs.machine import cpu_model, hardware
from mnist_design.runs.portable import make_portable
from mnist_design.training import factory
from mnist_design.training.factory import training_device


def round_ratios(ours: list[float], theirs: list[float]) -> list[float]:
    """One path's rate over another's in each repeat, the two measured back to back."""
    return [a / b for a, b in zip(ours, theirs)]


def paired_ratio(ours: list[float], theirs: list[float]) -> float:
    """The median over repeats of one path's rate over another's, measured back to back in the same repeat: a shared
    machine's speed drifts between repeats (docs/performance.md), and the ratio of two medians would mix different
    repeats' speeds."""
    return statistics.median(round_ratios(ours, theirs))


def round_order(names: list[str], repeat: int) -> list[str]:
    """A, B, C, D in even rounds and D, C, B, A in odd ones: no path always runs first, when a shared machine's speed
    drifts within a round."""
    return names if repeat % 2 == 0 else names[::-1]


def paired_range(ours: list[float], theirs: list[float]) -> list[float]:
    """The lowest and highest of the per-repeat ratios: how far one run's median can be trusted."""
    ratios = round_ratios(ours, theirs)
    return [min(ratios), max(ratios)]


PAIRS = {  # ratio key: (our path, the path it is compared with)
    "ratio_vs_tutorial_pipeline": ("A", "C"),
    "ratio_vs_tutorial_notebook": ("A", "D"),
    "ratio_vs_raw_loop": ("A", "B"),
    "ratio_compiled_vs_raw_loop": (COMPILED, "B"),
}


def measure(cfg: DictConfig) -> dict[str, Any]:
    paths = measured_paths(cfg)
    rates: dict[str, list[float]] = {name: [] for name in paths}
    parallel: dict[str, list[float]] = {"1": [], "2": []}
    for repeat in range(cfg.repeats):
        for name in round_order(list(paths), repeat):
            L.seed_everything(cfg.seed + repeat, verbose=False)
            rates[name].append(paths[name][1](cfg))
        line = "  ".join(f"{n} {r[-1]:,.0f} img/s" for n, r in rates.items())
        if cfg.parallel:
            for jobs in parallel:
                parallel[jobs].append(concurrent_rate(cfg, int(jobs)))
            line += f"  | 1 job {parallel['1'][-1]:,.0f}, 2 jobs {parallel['2'][-1]:,.0f} img/s together"
        print(f"repeat {repeat + 1}: {line}", flush=True)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    measured = {key: (rates[ours], rates[theirs]) for key, (ours, theirs) in PAIRS.items() if ours in rates}
    if cfg.parallel:
        measured["ratio_parallel_2_vs_1"] = (parallel["2"], parallel["1"])
    result: dict[str, Any] = {RATES: rates, "median": medians}
    if cfg.parallel:
        result["parallel_images_per_second"] = parallel
    result.update({key: paired_ratio(*pair) for key, pair in measured.items()})
    result[PER_REPEAT] = {key: paired_range(*pair) for key, pair in measured.items()}
    return result


RATIOS = (  # what the bench ends with, when measured
    "ratio_parallel_2_vs_1",
    *PAIRS,
    "ratio_measured_vs_1_beside_busy",
    "ratio_measured_vs_share_alone",
)


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="bench")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        with open_dict(cfg):
            if cfg.quick:
                cfg.repeats, cfg.batches, cfg.warmup = cfg.quick_repeats, cfg.quick_batches, cfg.quick_warmup
            if not cfg.busy and cfg.threads is None:  # A/B/C/D compare code paths at one thread count; busy=true
                cfg.threads = factory.core_share(cfg)  # compares the thread policies themselves
        cfg = with_runtime(cfg)
        validate(cfg)
        factory.share_cores(cfg)
        factory.datamodule(cfg).prepare_data()  # fetch once, outside the timings
        flops = flops_per_image(cfg)
        steps = (
            f"{cfg.busy_batches} timed steps from the first, {cfg.repeats} repeats of path A at each thread setting"
            if cfg.busy
            else f"{cfg.batches} timed steps after {cfg.warmup} warm-up steps, {cfg.repeats} rounds of "
            f"{'/'.join(measured_paths(cfg))}"
        )
        machine = {"hardware": hardware(training_device(cfg)), "cpu": cpu_model()}
        print(
            f"{machine['hardware']} ({machine['cpu']}); batch {cfg.data.batch_size}, {steps}; precision "
            f"{cfg.trainer.precision}"
        )
        print(f"forward+backward FLOPs per image: {flops / 1e6:.2f} MFLOP")
        result = {**machine, "flops_per_image": flops, **(busy_rates(cfg) if cfg.busy else measure(cfg))}
        for name, (label, _) in measured_paths(cfg).items() if not cfg.busy else ():
            median = result["median"][name]
            print(f"{name} {label}: median {median:,.0f} img/s, {median * flops / 1e9:.2f} GFLOP/s")
        out_dir = Path(HydraConfig.get().runtime.output_dir)
        (out_dir / BENCH_FILE).write_text(json.dumps(result, indent=2) + "\n")
        make_portable(out_dir, Path(config_dir()))  # a bench kept under results/ reads the same on every clone
        spread = result.get(PER_REPEAT, {})
        for key in RATIOS:
            if key in result:
                low_high = f" (per repeat {spread[key][0]:.2f}-{spread[key][1]:.2f})" if key in spread else ""
                print(f"{key}={result[key]:.2f}{low_high}")


if __name__ == "__main__":
    main()
