"""The baselines a search must beat at full length, enqueued as its first trials (mnist_design/search.py).

    enqueue_starting_points(study, cfg, typed)   # the base config, each published design, each cross
    own_overrides(trial.user_attrs, cfg)         # the overrides that make a trial that baseline

The base config's own point (the tutorial's design, when it fits), every published design that fits
(conf/experiment/published_*.yaml, each with its own recipe) and, where the space names ``search.crosses``, each of
those baselines' designs under each of their recipes. A baseline is never pruned (trials.py); with its
own recipe it is always a selection candidate (finalists.py), so what the search finds has beaten it on the same
seeds at full length, and a cross is one when it is among the top trials.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
from omegaconf import DictConfig, OmegaConf

from mnist_design.config import (
    ConfigError,
    config_dir,
    model_parameters,
    preset_choices,
)
from mnist_design.config.reference import on_disk
from mnist_design.errors import not_among
from mnist_design.search import presets, space, studies
from mnist_design.training import factory

NOT_RECIPE = ("defaults", "budget", "tags", "model")  # the keys of an experiment preset that are not its recipe
SAME_TRIAL_ASIDE = ("tags", "hydra", "search")  # what two starting points may differ in and train the same trial


def own_overrides(attrs: dict[str, Any], cfg: DictConfig) -> list[str]:
    """A baseline trial's own overrides: a published design's preset, or a cross of one design and one recipe."""
    if "cross" in attrs:
        design, recipe = attrs["cross"].split(studies.CROSS)
        return cross(design, recipe, cfg)
    return preset(attrs.get("published"), cfg)


def starting_points(cfg: DictConfig, typed: list[str]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(user attrs, point) of the base config (when it fits the budget), of each published design that fits, and of
    each cross of ``search.crosses``: every design there under every recipe there."""
    wanted = space.space_of(cfg)
    found = []
    if cfg.search.enqueue_base:
        found.append(({"base": True}, cfg))
    published = sorted((Path(config_dir()) / "experiment").glob(f"{presets.PUBLISHED_PREFIX}*.yaml"))
    with space.own_runtime(cfg) as run_dir:
        for path in published if cfg.search.enqueue_published else []:
            found.append(
                ({"published": path.stem}, factory.compose_run("search", [*typed, *preset(path.stem, cfg)], run_dir))
            )
        for design, recipe in crosses(cfg, {studies.baseline_name(attrs) for attrs, _ in found}):
            composed = factory.compose_run("search", [*typed, *cross(design, recipe, cfg)], run_dir)
            found.append(({"cross": f"{design}{studies.CROSS}{recipe}"}, composed))
    points = []
    for attrs, composed in distinct(found):
        name = studies.baseline_name(attrs)
        params = model_parameters(composed)
        if cfg.budget is not None and params > cfg.budget:
            print(f"[search] {name} ({params:,} params) is over budget={cfg.budget:,}: not a starting point")
            continue
        point = space.point_of(composed, wanted)
        kept = {key: value for key, value in point.items() if space.inside(key, value, wanted[key])}
        if len(kept) < len(point):  # the preset's own value stands for these; the trial records it in its config
            own = ", ".join(f"{key}={value}" for key, value in point.items() if key not in kept)
            print(f"[search] {name}: {own} not in the space, kept as the preset has it")
        points.append(({**attrs, space.FIXED_ATTR: sorted(kept)}, kept))
    return points


def distinct(found: list[tuple[dict[str, Any], DictConfig]]) -> list[tuple[dict[str, Any], DictConfig]]:
    """The starting points less any that trains exactly what an earlier one trains: a recipe can equal another's
    (pareto8k_v1's is the base config's), and its crosses would be the same trials again, at full length."""
    first: dict[str, str | None] = {}
    kept = []
    for attrs, composed in found:
        body = {k: v for k, v in OmegaConf.to_container(composed).items() if k not in SAME_TRIAL_ASIDE}
        key = json.dumps(body, sort_keys=True, default=str)
        name = studies.baseline_name(attrs)
        if key in first:
            print(f"[search] {name} trains what {first[key]} trains: not a starting point of its own")
            continue
        first[key] = name
        kept.append((attrs, composed))
    return kept


def crossed_finalists() -> set[str]:
    """Every earlier finalist some search space crosses as a baseline (``search.crosses`` of conf/search_space/),
    the base config and the published designs aside: the report shows each as a baseline once a later finalist of
    its budget has finals."""
    named = {
        str(name)
        for path in sorted((Path(config_dir()) / "search_space").glob("*.yaml"))
        for name in OmegaConf.select(OmegaConf.load(path), "search.crosses", default=None) or []
    }
    return {name for name in named if name != studies.BASE and not name.startswith(presets.PUBLISHED_PREFIX)}


def check_crosses(cfg: DictConfig) -> None:
    """Every name in search.crosses is the base config or an experiment preset, before any study is opened."""
    known = [studies.BASE, *on_disk("experiment")]
    unknown = [name for name in cfg.search.get("crosses") or [] if name not in known]
    if unknown:
        raise ConfigError(not_among("search.crosses", unknown, known))


def crosses(cfg: DictConfig, enqueued: set[str | None]) -> list[tuple[str, str]]:
    """Every (design, recipe) pair of ``search.crosses`` that is not already a starting point of its own."""
    names = list(cfg.search.crosses)
    pairs = [(d, r) for d in names for r in names if not (d == r and d in enqueued)]
    return sorted(pairs, key=lambda pair: pair[0] != pair[1])  # each design's own recipe first: kept if one repeats


def cross(design: str, recipe: str, cfg: DictConfig) -> list[str]:
    """The overrides of one baseline's design under another's recipe ("base" = the base config's own): the recipe
    spelled out key by key (not its experiment, whose design tag and model would be false of this trial), then the
    design's model, with a design tag that names both."""
    model = "family" if design == studies.BASE else preset_choices("experiment", design).get("model")
    return [
        *([] if recipe == studies.BASE else recipe_overrides(recipe)),
        f"model={model}",
        f"budget={cfg.budget}",
        f"++tags.design='{design}{studies.CROSS}{recipe}'",
    ]


def recipe_overrides(experiment: str) -> list[str]:
    """An experiment preset's recipe as plain overrides: its group choices but the model, then its values but the
    model's, its budget and its tags."""
    choices = [f"{group}={option}" for group, option in preset_choices("experiment", experiment).items()]
    body = OmegaConf.load(Path(config_dir()) / "experiment" / f"{experiment}.yaml")
    values = {k: v for k, v in OmegaConf.to_container(body).items() if k not in NOT_RECIPE}
    flat = [space.override(key, value) for key, value in flattened(values)]
    return [choice for choice in choices if not choice.startswith("model=")] + flat


def flattened(node: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """("data.batch_size", 32), ...: every leaf of a nested mapping with its dotted key."""
    leaves: list[tuple[str, Any]] = []
    for key, value in node.items():
        dotted = f"{prefix}{key}"
        leaves += flattened(value, f"{dotted}.") if isinstance(value, dict) else [(dotted, value)]
    return leaves


def preset(name: str | None, cfg: DictConfig) -> list[str]:
    """The overrides that make a trial a published design with its own recipe, under the study's budget. The
    search's own ``override model: family`` outranks an experiment's model choice, so that is repeated here, read
    from the experiment's defaults list."""
    if not name:
        return []
    model = preset_choices("experiment", name).get("model")
    return [f"experiment={name}", *([f"model={model}"] if model else []), f"budget={cfg.budget}"]


def enqueue_starting_points(study: optuna.Study, cfg: DictConfig, typed: list[str]) -> None:
    """Every starting point the study lacks: all of them in a new study; in one still searching, a published design
    (conf/experiment/published_*.yaml) or a cross added since it began, so what it finds from then on must beat that
    too."""
    had = {studies.baseline_name(t.user_attrs) for t in study.trials}
    new = not study.trials
    for attrs, point in starting_points(cfg, typed):
        if studies.baseline_name(attrs) in had or (not new and "base" in attrs):
            continue
        study.enqueue_trial(point, user_attrs=attrs)
        late = "" if new else " (added since the study began: enqueued now)"
        print(f"[search] starting point: {studies.baseline_name(attrs)}{late}", flush=True)
