"""A study's finalist as presets any run can name: conf/model/<name>.yaml and conf/experiment/<name>.yaml.

    python -m mnist_design.search budget=1000 search_space=micro search.selection.preset=pareto1k
    python -m mnist_design.train experiment=pareto1k seed=0      # then: the finalist, its own recipe

When a study's selection has its finalist and ``search.selection.preset`` names a preset, the search writes the two
files from the finalist's own overrides (its point in the space): the model file holds every field of the design,
the experiment file the recipe (group choices and values) with the budget and a ``design`` tag. Running the same
command on a finished study writes them without training anything. ``mismatches`` is the check, here and in the
tests, that the preset composes to what the search trained.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from mnist_design.atomic import write_atomic
from mnist_design.config import config_dir, model_parameters
from mnist_design.errors import UserError, not_allowed
from mnist_design.search import space, studies
from mnist_design.training.factory import compose_run

SEARCH_MARK = (
    "Written by the search (mnist_design/search/presets.py)"  # a model preset's header line: the search may replace it
)
LEGACY_MARK = "Written from the trial's overrides"  # the same, as the search wrote it before naming itself
PUBLISHED_PREFIX = "published_"  # conf/experiment/published_*.yaml: the public designs, never written by a search
# What a finalist's preset must reproduce of the trial the search trained, key by key.
RECIPE = ("model", "optimizer", "scheduler", "augment", "data.batch_size", "trainer.max_epochs", "budget")
MODEL_GROUP, EXPERIMENT_GROUP = "model", "experiment"


class PresetUnwritable(UserError):
    """The preset files cannot be written, or would not compose to the finalist's config."""


def split(overrides: Sequence[str], searched: DictConfig) -> tuple[dict[str, str], dict[str, Any]]:
    """The recipe's group choices (``optimizer=adamw``) and its values (``data.batch_size=32``, typed as Hydra reads
    them); the model's own fields are left to the model file."""
    choices, values = {}, {}
    for override in OverridesParser.create().parse_overrides(list(overrides)):
        key = override.key_or_group
        if key.split(".", 1)[0] == MODEL_GROUP:
            continue
        if space.is_group(key, searched):
            choices[key] = str(override.value())
        else:
            values[key] = override.value()
    return choices, values


def searched_config(budget: int, overrides: Sequence[str]) -> DictConfig:
    """The config the search trained the trial with (its base, the budget and the trial's overrides)."""
    return compose_run("search", [f"budget={budget}", *overrides])


def mismatches(name: str, searched: DictConfig, params: int) -> list[str]:
    """The RECIPE keys (and the parameter count) where ``experiment=<name>`` differs from the trial it names (its
    ``searched_config``, with ``params`` parameters)."""
    preset = compose_run("train", [f"{EXPERIMENT_GROUP}={name}"])
    wrong = [key for key in RECIPE if OmegaConf.select(preset, key) != OmegaConf.select(searched, key)]
    built = model_parameters(preset)
    return wrong + ([f"params ({built:,} != {params:,})"] if built != params else [])


def header(study: str, command: str, selection: dict[str, Any], finalist: dict[str, Any]) -> list[str]:
    """Why this design: the study, the command, and the selection's numbers (validation only)."""
    seeds = " / ".join(f"{100 * finalist['per_seed'][s]:.2f}" for s in selection["seeds"])
    ranked = sorted(selection["candidates"], key=lambda row: row["mean"], reverse=True)
    others = ", ".join(
        f"trial {row['trial']}{named(row, selection)} {100 * row['mean']:.2f}"
        for row in ranked
        if row["trial"] != finalist["trial"]
    )
    # protocol 2 (split_seeds recorded): the candidates are the top trials and every baseline with its own recipe
    pool = (
        f"its {len(selection['candidates'])} candidates (the top trials and every baseline with its own recipe)"
        if "split_seeds" in selection
        else f"the top {len(selection['candidates'])} trials"
    )
    return [
        f"The < {finalist['budget']:,}-parameter finalist: trial {finalist['trial']} of study {study}, "
        f"{finalist['params']:,} params.",
        f"  {command}",
        f"Chosen on validation only: of {pool}, each retrained on seeds "
        f"{', '.join(map(str, selection['seeds']))} for the full schedule,",
        f"the best mean validation accuracy, {100 * finalist['mean']:.2f} % (seeds: {seeds}; summary.yaml).",
        f"The others' means: {others}." if others else "It was the only candidate.",
        *(
            [f"No searched candidate beat the baseline {selection['finalist_is_baseline']}: the finalist is it."]
            if selection.get("finalist_is_baseline")
            else []
        ),
        f"{SEARCH_MARK} from the trial's overrides.",
    ]


def named(row: dict[str, Any], selection: dict[str, Any]) -> str:
    """The baseline a candidate is, in brackets after its trial number, under protocol 2 (older headers stay as
    they were written)."""
    name = studies.baseline_name(row) if "split_seeds" in selection else None
    return f" ({name})" if name else ""


def commented(lines: Sequence[str], body: dict[str, Any]) -> bytes:
    text = "".join(f"# {line}\n" for line in lines) + OmegaConf.to_yaml(OmegaConf.create(body))
    return text.encode()


def model_file(name: str, searched: DictConfig, about: list[str]) -> bytes:
    model = OmegaConf.to_container(searched.model)
    fields = {key: value for key, value in model.items() if not key.startswith("_")}
    return commented(
        [*about, f"Its recipe is conf/{EXPERIMENT_GROUP}/{name}.yaml."], {"defaults": ["family", "_self_"], **fields}
    )


def experiment_file(name: str, budget: int, overrides: Sequence[str], searched: DictConfig, about: list[str]) -> bytes:
    choices, values = split(overrides, searched)
    body: dict[str, Any] = {
        "defaults": [{f"override /{MODEL_GROUP}": name}, *({f"override /{g}": c} for g, c in choices.items())]
    }
    nested = OmegaConf.create({})
    for key, value in values.items():
        OmegaConf.update(nested, key, value, force_add=True)
    body.update({"budget": budget, **OmegaConf.to_container(nested), "tags": {"design": name}})
    lines = ["@package _global_", about[0], f"  python -m mnist_design.train {EXPERIMENT_GROUP}={name} seed=0"]
    return commented(lines, body)


def preset_paths(name: str) -> dict[str, Path]:
    """The preset's model and experiment files, by group."""
    return {group: Path(config_dir()) / group / f"{name}.yaml" for group in (MODEL_GROUP, EXPERIMENT_GROUP)}


def written_by_search(model: Path) -> bool:
    """Whether a model preset carries the header the search writes (a hand-written file never does)."""
    try:
        text = model.read_text()
    except (OSError, UnicodeDecodeError):
        return False
    return SEARCH_MARK in text or LEGACY_MARK in text


def check_replaceable(name: str, budget: int) -> None:
    """Only a finalist preset of the same budget may be replaced: a published design, a row of the tutorial or another
    budget's finalist under that name is refused before anything is written."""
    path = preset_paths(name)[EXPERIMENT_GROUP]
    allowed = (
        f"a new name, or the {EXPERIMENT_GROUP} preset of this budget's finalist (tags.design={name}, budget={budget})"
    )
    if name.startswith(PUBLISHED_PREFIX) or not name.isidentifier():
        raise PresetUnwritable(not_allowed("search.selection.preset", name, allowed))
    model = preset_paths(name)[MODEL_GROUP]
    if model.is_file() and not written_by_search(model):
        raise PresetUnwritable(
            f"search.selection.preset={name}: {model} was not written by the search (no '{SEARCH_MARK}' line); "
            f"it must be {allowed}"
        )
    if not path.is_file():
        return
    existing = OmegaConf.load(path)
    if OmegaConf.select(existing, "tags.design") != name or existing.get("budget") != budget:
        raise PresetUnwritable(f"search.selection.preset={name}: {path} is another preset; it must be {allowed}")


def write(name: str, study: str, command: str, selection: dict[str, Any], budget: int) -> list[Path]:
    """Write the finalist's two preset files, then check they compose to the trial it is; refuse otherwise."""
    check_replaceable(name, budget)
    [finalist] = [row for row in selection["candidates"] if row["trial"] == selection["finalist"]]
    finalist = {**finalist, "budget": budget}
    about = header(study, command, selection, finalist)
    paths, searched = preset_paths(name), searched_config(budget, finalist["overrides"])
    files = {
        MODEL_GROUP: model_file(name, searched, about),
        EXPERIMENT_GROUP: experiment_file(name, budget, finalist["overrides"], searched, about),
    }
    before = {path: path.read_bytes() if path.is_file() else None for path in paths.values()}
    try:
        for group, path in paths.items():
            write_atomic(path, files[group])
    except OSError as error:
        restore(before)
        raise PresetUnwritable(
            f"search.selection.preset={name}: cannot write {error.filename} ({error.strerror})"
        ) from None
    wrong = mismatches(name, searched, finalist["params"])
    if wrong:
        restore(before)
        raise PresetUnwritable(
            f"search.selection.preset={name}: a preset written from trial {finalist['trial']} would differ from it "
            f"in {', '.join(wrong)}; {paths[MODEL_GROUP]} and {paths[EXPERIMENT_GROUP]} are as they were"
        )
    return list(paths.values())


def restore(before: dict[Path, bytes | None]) -> None:
    """Put the preset files back as they were before a write that failed or did not check out."""
    for path, content in before.items():
        if content is None:
            path.unlink(missing_ok=True)
        else:
            write_atomic(path, content)
