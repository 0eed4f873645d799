"""Issue 45: a training step that never waits for the device. On CPU there is no device to wait for, so the test
counts what would wait on a GPU: every read of a tensor's value on the host (``aten._local_scalar_dense``: ``.item()``,
``float(t)``, ``if t:``), ``torch.unique`` and ``nonzero`` (their output size needs the values), and copies to the CPU.
Steps that end an epoch or refresh the progress bar may read; every other step must not."""

from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from mnist_design.training import factory

SYNCING = ("_local_scalar_dense", "unique", "nonzero", "equal", "is_nonzero")


class HostReads(TorchDispatchMode):
    """Records the aten ops that need a tensor's values on the host."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        name = func.__name__
        if any(word in name for word in SYNCING):
            self.seen.append(name)
        elif name.startswith("_to_copy") and (kwargs or {}).get("device") == torch.device("cpu"):
            self.seen.append(name)
        return func(*args, **(kwargs or {}))


class CountPerStep(L.Callback):
    """Host reads from the start of one training batch to the start of the next (so the hooks after a step count)."""

    def __init__(self) -> None:
        self.mode: HostReads | None = None
        self.per_step: dict[int, list[str]] = {}

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, idx: int) -> None:
        self.close()
        self.mode, self.step = HostReads(), idx
        self.mode.__enter__()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.close()

    def close(self) -> None:
        if self.mode is not None:
            self.mode.__exit__(None, None, None)
            self.per_step[self.step] = self.mode.seen
            self.mode = None


def test_no_step_reads_the_device_except_to_refresh_the_bar_or_end_the_epoch(compose_cfg, mnist_dir: Path) -> None:
    cfg = compose_cfg(
        f"data.data_dir={mnist_dir}",
        "data.train_subset=1280",
        "data.batch_size=32",
        "trainer.max_epochs=1",
        "trainer.limit_val_batches=1",
        "trainer.log_every_n_steps=3",  # logging steps must not read either
        "callbacks.model_summary=null",
        "logger=tensorboard",
    )
    counter = CountPerStep()
    datamodule, model, trainer = factory.build(cfg, [counter])
    refresh = cfg.callbacks.progress_bar.refresh_rate
    trainer.fit(model, datamodule=datamodule)
    steps = sorted(counter.per_step)
    assert len(steps) == 40
    last = steps[-1]
    reading = {step: ops for step, ops in counter.per_step.items() if ops and step != last and (step + 1) % refresh}
    assert reading == {}, (
        f"{reading}: host reads in steps that neither refresh the bar (every {refresh}) nor end the epoch"
    )


def test_a_compiled_run_trains_like_the_eager_one(compose_cfg, mnist_dir: Path) -> None:
    """torch.compile of the network (issue 45) on a few steps: the same losses and weights as eager, to float
    tolerance. The skeleton has no dropout, whose compiled random draws differ from eager ones by design."""
    finals = {}
    for compiled in (False, True):
        L.seed_everything(0, verbose=False)
        cfg = compose_cfg(
            f"data.data_dir={mnist_dir}",
            "model=skeleton",
            "data.train_subset=256",
            "data.batch_size=64",
            "trainer.max_epochs=1",
            "trainer.limit_val_batches=0",
            "callbacks=none",
            "logger=none",
            "trainer.enable_checkpointing=false",
            "threads=1",
            f"compile={str(compiled).lower()}",
            "compile_mode=default",  # CUDA graphs (reduce-overhead) need a GPU; the compiler is the same
        )
        datamodule, model, trainer = factory.build(cfg)
        assert factory.compiled(cfg) is compiled
        trainer.fit(model, datamodule=datamodule)
        finals[compiled] = {k: v.clone() for k, v in model.net.state_dict().items()}
    assert finals[True].keys() == finals[False].keys()  # compiled in place: checkpoints keep their keys
    for key, eager in finals[False].items():
        torch.testing.assert_close(finals[True][key], eager, rtol=1e-4, atol=1e-5)


def test_compile_follows_the_device_unless_set(compose_cfg) -> None:
    assert factory.compiled(compose_cfg("trainer.accelerator=cpu")) is False
    assert factory.compiled(compose_cfg("trainer.accelerator=cpu", "compile=true")) is True
    cfg = compose_cfg("trainer.accelerator=cpu", "compile=true")
    assert factory.datamodule(cfg).drop_last  # one CUDA graph serves every step: no short last batch
