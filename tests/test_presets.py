"""Each finalist preset (conf/experiment/pareto<N>k.yaml) is the trial its study selected, and the search writes it."""

import shutil
from pathlib import Path

import pytest
from conftest import REPO, journal_study, run_cli
from omegaconf import OmegaConf

from mnist_design.search import presets, studies

STUDIES = REPO / "results" / "studies"


def finished_selections() -> list[tuple[Path, dict, dict]]:
    """(study folder, the study's identity as it began, its finished selection) for every committed study."""
    found = []
    for summary_file in sorted(STUDIES.glob("*/summary.yaml")):
        selection = OmegaConf.load(summary_file).selection
        if selection and selection.finished:
            attrs = journal_study(summary_file.parent).user_attrs  # recorded when the study began
            found.append((summary_file.parent, attrs, OmegaConf.to_container(selection)))
    return found


def preset_of(study: Path, selection: dict) -> str:
    """The finalist's preset: the baseline preset it already is (design_5000_v3's), else the one the study wrote,
    the conf/model/pareto*.yaml whose first line names it (the earlier rounds' versioned finalists name a study of
    theirs no longer committed)."""
    already = studies.baseline_preset(selection.get("finalist_is_baseline"))
    if already:
        return already
    [name] = [
        path.stem
        for path in (REPO / "conf" / "model").glob("pareto*.yaml")
        if f" of study {study.name}, " in path.read_text().splitlines()[0]
    ]
    return name


def test_each_finalist_preset_trains_the_trial_its_study_selected() -> None:
    """conf/experiment/pareto<N>k.yaml composes to the point summary.yaml names as finalist, key by key."""
    checked = 0
    for study_dir, attrs, selection in finished_selections():
        budget = int(attrs["budget"])
        [finalist] = [row for row in selection["candidates"] if row["trial"] == selection["finalist"]]
        searched = presets.searched_config(budget, finalist["overrides"])
        assert presets.mismatches(preset_of(study_dir, selection), searched, finalist["params"]) == []
        checked += 1
    assert checked  # design_2000's selection is committed


def test_a_preset_the_search_wrote_is_byte_for_byte_what_it_writes_from_the_summary() -> None:
    """A preset marked as written by the search has not been edited by hand since (design_1000's, at least)."""
    checked = 0
    for study_dir, attrs, selection in finished_selections():
        if studies.baseline_preset(selection.get("finalist_is_baseline")):
            continue  # the finalist is a preset already: the search wrote none from this study
        budget, name = int(attrs["budget"]), preset_of(study_dir, selection)
        model_path = REPO / "conf" / "model" / f"{name}.yaml"
        if "mnist_design/search/presets.py" not in model_path.read_text():
            continue  # written by hand before the search wrote presets; the test above still holds it
        [finalist] = [row for row in selection["candidates"] if row["trial"] == selection["finalist"]]
        # the command as the search wrote it then: before studies recorded their pruner, none was shown
        command = studies.command({**attrs, studies.PRUNED_BY: attrs.get(studies.PRUNED_BY, "[]")})
        about = presets.header(study_dir.name, command, selection, {**finalist, "budget": budget})
        searched = presets.searched_config(budget, finalist["overrides"])
        assert model_path.read_bytes() == presets.model_file(name, searched, about)
        experiment = presets.experiment_file(name, budget, finalist["overrides"], searched, about)
        assert (REPO / "conf" / "experiment" / f"{name}.yaml").read_bytes() == experiment
        checked += 1
    assert checked


def test_the_recipe_is_split_into_group_choices_and_typed_values() -> None:
    overrides = ["optimizer=adamw", "augment=off", "model.stage1.0=4", "scheduler.max_lr=0.01"]
    choices, values = presets.split(overrides, presets.searched_config(1000, overrides))
    assert choices == {"optimizer": "adamw", "augment": "off"}
    assert values == {"scheduler.max_lr": 0.01}


@pytest.mark.parametrize("name", ["pareto1k", "a_new_name"])
def test_only_a_new_name_or_this_budgets_finalist_may_be_written(name: str) -> None:
    presets.check_replaceable(name, 1000)  # nothing raised


def test_another_budgets_finalist_is_not_replaced() -> None:
    with pytest.raises(presets.PresetUnwritable, match=r"pareto1k\.yaml is another preset"):
        presets.check_replaceable("pareto1k", 2000)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("study", "typed", "preset", "finalist"),
    [
        ("design_1000", ["budget=1000", "search_space=micro"], "pareto1k", 128),  # selection protocol 1
        (
            "design_8000_v3",
            ["budget=8000", "search_space=design", "search.study_name=design_8000_v3"],
            "pareto8k_v3",
            63,
        ),
    ],
)
def test_the_same_command_on_a_finished_study_writes_its_presets_and_trains_nothing(
    tmp_path: Path, study: str, typed: list[str], preset: str, finalist: int
) -> None:
    """A finished study, copied as a fresh checkout has it (journal, summary, selection runs), and its own command."""
    study_dir = shutil.copytree(STUDIES / study, tmp_path / study)
    summary, journal = (study_dir / "summary.yaml").read_bytes(), (study_dir / "journal.log").read_bytes()
    before = {path: path.read_bytes() for path in presets.preset_paths(preset).values()}
    result = run_cli(
        *typed,
        f"search.results_dir={study_dir}",
        f"search.selection.preset={preset}",
        cwd=tmp_path,
        module="mnist_design.search",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "[select] trial" not in result.stdout and f"finalist trial {finalist} written as" in result.stdout
    assert {path: path.read_bytes() for path in before} == before  # what it wrote is what is committed
    assert (study_dir / "summary.yaml").read_bytes() == summary  # the record of the invocation that did the work
    assert (study_dir / "journal.log").read_bytes() == journal  # opened to read, so the committed study is as it was
    assert not list((tmp_path / "outputs" / "searches" / study).glob("trial_*"))  # no trial ran


def test_a_finalist_that_is_a_baseline_preset_already_gets_no_second_name(tmp_path: Path) -> None:
    """design_5000_v3's selection chose pareto5k_v1×pareto5k_v1 (the first engine's finalist with its own recipe):
    its finals are experiment=pareto5k_v1's, so the search writes no pareto5k_v3 to train the same runs again."""
    study_dir = shutil.copytree(STUDIES / "design_5000_v3", tmp_path / "design_5000_v3")
    typed = ["budget=5000", "search_space=small", "search.study_name=design_5000_v3"]
    result = run_cli(
        *typed,
        f"search.results_dir={study_dir}",
        "search.selection.preset=pareto5k_v3",
        cwd=tmp_path,
        module="mnist_design.search",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "is the baseline pareto5k_v1×pareto5k_v1, which is experiment=pareto5k_v1 already" in result.stdout
    assert not any(path.exists() for path in presets.preset_paths("pareto5k_v3").values())
    assert studies.baseline_preset("published_woolly") == "published_woolly"
    assert studies.baseline_preset("pareto5k×pareto5k_v1") is None and studies.baseline_preset("base") is None


def test_a_preset_that_would_not_check_out_leaves_the_files_as_they_were(tmp_path: Path, monkeypatch) -> None:
    for group in ("model", "experiment"):
        (tmp_path / group).mkdir()
    kept = tmp_path / "experiment" / "pareto1k.yaml"
    kept.write_text("budget: 1000\ntags:\n  design: pareto1k\n")  # a finalist preset of this budget, replaceable
    monkeypatch.setattr(presets, "config_dir", lambda: str(tmp_path))
    monkeypatch.setattr(presets, "mismatches", lambda *args: ["model"])
    _, _, selection = next(found for found in finished_selections() if found[0].name == "design_1000")
    with pytest.raises(presets.PresetUnwritable, match="would differ from it in model"):
        presets.write("pareto1k", "design_1000", "python -m mnist_design.search budget=1000", selection, 1000)
    assert kept.read_text() == "budget: 1000\ntags:\n  design: pareto1k\n"
    assert not (tmp_path / "model" / "pareto1k.yaml").exists()  # it was not there before
