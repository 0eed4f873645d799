"""One training run: the LightningModule (module.py), what builds a run from config (factory.py), its callbacks,
schedules and checkpoints, the thread tuner, test-set scoring, resume, and the run itself (run.py:
check -> fit -> evaluate -> write)."""
