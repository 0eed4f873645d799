"""Structured configs: the type of every config field, so Hydra itself refuses a wrong type or an unknown key.

    python -m mnist_design.train data.batch_size=1.5   ->  Value '1.5' of type 'float' could not be converted to Integer

Each group's YAML starts from its schema (``defaults: [/schema/<group>/<kind>@_here_, _self_]``), and each entry
point's top-level config from its own (``/schema/<entry>``). The field comments live in the YAML files, where the
values are set; ranges are checked in mnist_design/config.py.
"""

from __future__ import annotations

from hydra.core.config_store import ConfigStore

from mnist_design.config.schema.commands import COMMANDS
from mnist_design.config.schema.groups import GROUPS


def register() -> None:
    """Put every schema in Hydra's ConfigStore under schema/..., where the YAML defaults lists find them."""
    store = ConfigStore.instance()
    for path, node in {**GROUPS, **COMMANDS}.items():
        group, _, name = f"schema/{path}".rpartition("/")
        store.store(group=group, name=name, node=node)
