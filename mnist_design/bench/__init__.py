"""Training throughput, measured side by side: ``python -m mnist_design.bench`` (its __main__ says how)."""

BENCH_FILE = "bench.json"  # what a bench run leaves in its run directory: every measurement, medians and ratios
