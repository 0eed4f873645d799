"""Print the tutorial's receptive-field table for any model config (mnist_design/models/receptive_field.py).

python -m mnist_design.receptive_field model=best
python -m mnist_design.receptive_field model=skeleton 'model.layers=[{conv: 8, kernel: 5}, ...]'
"""

from __future__ import annotations

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig

from mnist_design.config import config_dir, model_parameters
from mnist_design.errors import exit_on_user_error
from mnist_design.models.receptive_field import field_table, receptive_fields


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="receptive_field")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        model_parameters(cfg)  # a model config that cannot be built is one clear line
        print(field_table(receptive_fields(instantiate(cfg.model))))


if __name__ == "__main__":
    main()
