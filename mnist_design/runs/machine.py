"""What a measurement ran on, recorded beside it: a run's metrics file, the bench's bench.json and the export's
latency quote it.

hardware(torch.device("cpu"))  # 'CPU x86_64 AVX512, 2 cores, 1 threads, torch 2.14.1+cu130'
cpu_model()                    # 'AMD EPYC': machines of one name change CPUs, so a speed says which it had
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

CPU_INFO = Path("/proc/cpuinfo")  # Linux; elsewhere the platform's own word for the processor, or its architecture


def hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return f"GPU {torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    return (
        f"CPU {platform.machine()} {torch.backends.cpu.get_cpu_capability()}, {os.cpu_count()} cores, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}"
    )


def cpu_model(cpu_info: Path = CPU_INFO) -> str:
    try:
        lines = cpu_info.read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        lines = []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name") and ":" in line]
    return names[0] if names else platform.processor() or platform.machine()
