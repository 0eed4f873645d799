"""How a checkpoint's exported model holds up off MNIST's test set, in float32 and int8.

    python -m mnist_design.robustness ckpt_path=results/runs/row4/seed_0/checkpoints/last.ckpt
    python -m mnist_design.robustness ckpt_path=... corruptions=[fog,zigzag] severity=5
    python -m mnist_design.robustness 'ckpt_path=[a/checkpoints/last.ckpt,b/checkpoints/last.ckpt]'   # several

Scores the clean test set, fifteen MNIST-C-like corruptions of it (those the training augmentations cover and those
they do not, reported apart), 1,797 UCI handwritten digits and digits printed in matplotlib's fonts. Writes
``robustness.json`` (accuracies) and ``robustness_correct.npz`` (which images were right) beside the export, in
deploy/ of the checkpoint's run directory or ``out_dir``; exports the checkpoint first if that folder has no export.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig, OmegaConf

from mnist_design.config import config_dir
from mnist_design.data.images import input_list
from mnist_design.errors import exit_on_user_error, extra_required
from mnist_design.training.checkpoints import read_checkpoint

with extra_required("deploy"):  # onnx, onnxruntime and scikit-learn are not in `pip install -e .`
    from mnist_design.deploy.settings import SettingError, check_export, output_dir
    from mnist_design.shift.corruptions import CORRUPTIONS, check
    from mnist_design.shift.suite import Set, robustness


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="robustness")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        settings = OmegaConf.to_container(cfg, resolve=True)
        chosen = settings["corruptions"]
        settings["corruptions"] = list(CORRUPTIONS) if chosen is None else list(chosen)
        check(settings["corruptions"], settings["severity"])
        check_export(cfg, several=True)
        checkpoints = input_list(cfg.ckpt_path)
        if len(checkpoints) > 1 and cfg.out_dir:
            raise SettingError("out_dir= takes one checkpoint; several write each into their own run's deploy/")
        for ckpt_path in checkpoints:  # every checkpoint readable and every folder writable before any work
            read_checkpoint(ckpt_path)
        out_dirs = [output_dir(cfg, ckpt_path) for ckpt_path in checkpoints]
        sets: list[Set] | None = None
        for ckpt_path, out_dir in zip(checkpoints, out_dirs):
            record, sets = robustness(ckpt_path, out_dir, settings, sets)
            for name, entry in record["sets"].items():
                values = "  ".join(f"{p} {100 * entry[p]:6.2f}%" for p in ("float32", "int8") if p in entry)
                print(f"{name:<14} {entry['kind']:<12} {values}")
            print(f"records in {out_dir}")


if __name__ == "__main__":
    main()
