"""Export a checkpoint's network to ONNX, float32 and int8, with what it costs to run.

    python -m mnist_design.export ckpt_path=results/runs/row4/seed_0/checkpoints/last.ckpt
    python -m mnist_design.export ckpt_path=... int8=false out_dir=deploy/

Writes ``model.onnx`` (pixels in [0, 1] -> logits, batch size free), ``model.int8.onnx`` and ``export.json`` (MACs,
weight bytes, peak activation memory, the largest logit difference against PyTorch, float32 and int8 test accuracy,
batch-1 latency) into deploy/ of the checkpoint's run directory, or ``out_dir``.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from mnist_design.config import config_dir
from mnist_design.errors import exit_on_user_error, extra_required
from mnist_design.training.checkpoints import read_checkpoint

with extra_required("deploy"):  # onnx and onnxruntime are not in `pip install -e .`
    from mnist_design.deploy.record import export_checkpoint
    from mnist_design.deploy.settings import check_export, output_dir


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="export")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        check_export(cfg)
        read_checkpoint(cfg.ckpt_path)  # a missing or foreign checkpoint is refused before any folder is made
        out_dir = output_dir(cfg)
        record = export_checkpoint(
            cfg.ckpt_path, out_dir, cfg.data_dir, cfg.int8, cfg.calibration_images, cfg.latency_runs
        )
        cost, fp32 = record["cost"], record["float32"]
        print(
            f"{out_dir}: {cost['params']:,} params, {cost['macs']:,} MACs, float32 {fp32['weight_bytes']:,} B, "
            f"test {100 * fp32['test_acc']:.2f}%, logits within {fp32['largest_logit_difference']:.1e} of PyTorch"
        )
        if "int8" in record:
            q, drop = record["int8"], 100 * record["int8_drop"]
            print(f"int8 {q['weight_bytes']:,} B, test {100 * q['test_acc']:.2f}% (drop {drop:+.2f} pp)")


if __name__ == "__main__":
    main()
