"""Issue 45: a training step that never waits for the device. On CPU there is no device to wait for, so the test
counts what would wait on a GPU: every read of a tensor's value on the host (``aten._local_scalar_dense``: ``.item()``,
``float(t)``, ``if t:``), ``torch.unique`` and ``nonzero`` (their output size needs the values), and copies to the CPU.
Steps that end an epoch or refresh the progress bar may read; every other step must not."""

from pathlib import Path
from typing import Any

import lightning as L
import pytest
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


class BatchLosses(L.Callback):
    """Each training batch's loss and size, as the module left them, per epoch."""

    def __init__(self) -> None:
        self.by_epoch: dict[int, list[tuple[float, int]]] = {}

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, idx: int) -> None:
        self.by_epoch.setdefault(trainer.current_epoch, []).append((pl_module.live["loss"].item(), len(batch[1])))


def test_metric_objects_are_handed_over_once_an_epoch_and_still_cover_every_batch(
    compose_cfg, mnist_dir: Path, monkeypatch
) -> None:
    cfg = compose_cfg(
        f"data.data_dir={mnist_dir}",
        "data.train_subset=200",  # 7 batches of 32, the last one short
        "data.batch_size=32",
        "trainer.max_epochs=2",
        "trainer.limit_val_batches=3",
        "callbacks=none",
        "logger=none",
        "trainer.enable_checkpointing=false",
        "threads=1",
    )
    logged: list[str] = []
    log = L.LightningModule.log

    def counted(self: L.LightningModule, name: str, *args: Any, **kwargs: Any) -> None:
        logged.append(name)
        log(self, name, *args, **kwargs)

    monkeypatch.setattr(L.LightningModule, "log", counted)
    losses = BatchLosses()
    datamodule, model, trainer = factory.build(cfg, [losses])
    trainer.fit(model, datamodule=datamodule)
    assert logged.count("train/loss") == 2 and logged.count("val/acc") == 2  # once an epoch, not once a step
    last = losses.by_epoch[1]
    assert len(last) == 7
    mean = sum(loss * size for loss, size in last) / sum(size for _, size in last)
    assert trainer.callback_metrics["train/loss"].item() == pytest.approx(mean, rel=1e-5)
    model.eval()
    batches = [datamodule.prepare_batch(batch, augment=False) for batch in list(datamodule.val_dataloader())[:3]]
    with torch.no_grad():
        right = sum((model(images).argmax(dim=1) == labels).sum().item() for images, labels in batches)
    accuracy = right / sum(len(labels) for _, labels in batches)
    assert trainer.callback_metrics["val/acc"].item() == pytest.approx(accuracy)
