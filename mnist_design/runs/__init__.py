"""What a run leaves behind: the layout of a run directory (layout.py), the metrics registry (metrics.py), reading and
writing its records (records.py), its figures, portable paths, the checks made before a run directory is used
(preflight.py), and what a measurement ran on (machine.py)."""
