"""Training throughput, measured side by side: ``python -m mnist_design.bench`` (its __main__ says how)."""
