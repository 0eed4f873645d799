"""The design search (``python -m mnist_design.search``, __main__.py): the Optuna study and its storage (studies.py,
journal.py), trials and their pruning (trials.py), the search space (space.py), baselines and crosses
(baselines.py), the finalist selection (finalists.py) and its preset (presets.py), extra workers (workers.py), and
the fidelity sample's signals (signals.py)."""
