"""Batch-1 CPU latency of an ONNX model in ONNX Runtime, one thread: recorded with the machine, never used to rank.

latency_ms(path, runs=300)   # {"median_ms": ..., "p90_ms": ..., "runs": 300, "machine": "AMD EPYC ..., 1 thread"}
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from mnist_design.deploy.onnx_model import INPUT, OUTPUT, session
from mnist_design.runs.machine import cpu_model

WARMUP = 20  # runs before timing: the first ones allocate and page in


def latency_ms(path: Path, runs: int) -> dict[str, object]:
    runner = session(path, threads=1)
    image = np.zeros((1, 1, 28, 28), dtype=np.float32)
    for _ in range(WARMUP):
        runner.run([OUTPUT], {INPUT: image})
    times = np.empty(runs)
    for i in range(runs):
        start = time.perf_counter()
        runner.run([OUTPUT], {INPUT: image})
        times[i] = time.perf_counter() - start
    return {
        "median_ms": round(float(np.median(times)) * 1e3, 4),
        "p90_ms": round(float(np.percentile(times, 90)) * 1e3, 4),
        "runs": runs,
        "machine": f"{cpu_model()}, 1 thread, onnxruntime {ort.__version__}",
    }
