"""A study that is safe to kill, share and continue (mnist_design/search/studies.py), checked without training."""

import os
import shlex
import shutil
import socket
from pathlib import Path

import optuna
import pytest
from conftest import REPO, tiny

from mnist_design.config import ConfigError, reference, validate
from mnist_design.search import liveness, stores, studies
from mnist_design.search.baselines import enqueue_starting_points
from mnist_design.search.journal import JournalRefused
from mnist_design.training.factory import compose_run


@pytest.fixture
def search_cfg(compose_cfg, tmp_path: Path):
    def make(*overrides: str):
        cfg = compose_cfg(
            "search_space=tiny",
            "budget=2000",
            f"search.results_dir={tmp_path / 'res'}",
            *overrides,
            config_name="search",
        )
        return cfg

    return make


def test_the_default_storage_is_a_journal_file_in_the_results_folder(search_cfg, tmp_path: Path) -> None:
    cfg = search_cfg()
    study = studies.open_study(cfg, studies.identity(cfg, []))
    assert isinstance(study._storage, optuna.storages.JournalStorage)
    assert (tmp_path / "res" / stores.JOURNAL_FILE).is_file()


def test_opening_a_study_again_leaves_its_journal_as_it_was(search_cfg, tmp_path: Path) -> None:
    """A finished study is opened to write its presets; its committed journal must not change by that."""
    cfg = search_cfg()
    study = studies.open_study(cfg, studies.identity(cfg, []))
    study.enqueue_trial({"model.stage1.0": 4})
    journal = tmp_path / "res" / stores.JOURNAL_FILE
    before = journal.read_bytes()
    again = studies.open_study(cfg, studies.identity(cfg, []))
    assert journal.read_bytes() == before and len(again.trials) == 1


def test_a_continuation_with_another_budget_or_space_is_refused_before_any_trial(search_cfg) -> None:
    cfg = search_cfg()
    study = studies.open_study(cfg, studies.identity(cfg, []))
    study.enqueue_trial({"model.stage1.0": 4})
    other = search_cfg("budget=5000", "search.study_name=design_2000")
    with pytest.raises(stores.StudyError, match="was started with another budget"):
        studies.open_study(other, studies.identity(other, []))
    spaced = search_cfg("search_space=small", "search.study_name=design_2000")
    with pytest.raises(stores.StudyError, match="another space"):
        studies.open_study(spaced, studies.identity(spaced, []))
    how = ["search.n_trials=5", "search.workers=2", "search.gone_hosts=[vm]", "trainer.accelerator=cpu"]
    again = search_cfg(*how)  # how the work is done, and where, may change
    assert studies.open_study(again, studies.identity(again, how)).study_name == "design_2000"
    halving = search_cfg("pruner=halving")  # but not how trials are judged, in either direction
    with pytest.raises(stores.StudyError, match="rung_epochs: study 3 vs now None"):
        studies.open_study(halving, studies.identity(halving, []))
    per_epoch = search_cfg("pruner=halving", "search.study_name=per_epoch")
    studies.open_study(per_epoch, studies.identity(per_epoch, [])).enqueue_trial({"model.stage1.0": 4})
    rungs = search_cfg("search.study_name=per_epoch")
    with pytest.raises(stores.StudyError, match="rung_epochs: study None vs now 3"):
        studies.open_study(rungs, studies.identity(rungs, []))
    finished = search_cfg("search.study_name=per_epoch", "search.n_trials=0")  # nothing more to train: reopened
    assert studies.open_study(finished, studies.identity(finished, [])).study_name == "per_epoch"


def test_typing_out_the_default_study_name_continues_the_study(search_cfg) -> None:
    """search.study_name=design_2000 is what design_2000 was called anyway: the same study, not "another base"."""
    cfg = search_cfg()
    studies.open_study(cfg, studies.identity(cfg, [])).enqueue_trial({"model.stage1.0": 4})
    typed = ["search.study_name=design_2000"]
    named = search_cfg(*typed)
    assert len(studies.open_study(named, studies.identity(named, typed)).trials) == 1
    spaced = ["search.study_name=design_2000", "search_space=small"]  # the name never hides a real difference
    with pytest.raises(stores.StudyError, match="another base"):
        studies.open_study(named, studies.identity(named, spaced))


@pytest.mark.parametrize("study_dir", sorted(p.parent.name for p in (REPO / "results/studies").glob("*/journal.log")))
def test_the_command_each_committed_study_shows_continues_it(compose_cfg, tmp_path: Path, study_dir: str) -> None:
    """results/README shows studies.command(); a user who types it (with one more trial) must get the study back.
    Here the study's folder is a copy, so the committed journal is never written to."""
    shutil.copy(REPO / "results/studies" / study_dir / stores.JOURNAL_FILE, tmp_path)
    recorded = studies.load(REPO / "results/studies" / study_dir).user_attrs
    typed = shlex.split(studies.command(recorded, str(tmp_path)))[3:]
    assert typed[-1] == f"search.results_dir={tmp_path}"
    typed += ["search.n_trials=1000"]  # the name: the default or typed
    cfg = compose_cfg(*typed, config_name="search")
    assert studies.open_study(cfg, studies.identity(cfg, typed)).study_name == study_dir


@pytest.mark.parametrize(
    "storage, names",
    [
        ("foo://nowhere", "cannot open it"),
        ("journal:{tmp}/missing/j.log", "does not exist"),
        ("sqlite:///{tmp}/missing/o.db", "does not exist"),
        ("postgresql://nobody@127.0.0.1:9/none", r"cannot open it \(OperationalError"),  # a server that refuses
    ],
)
def test_a_storage_that_cannot_be_opened_is_one_line(search_cfg, tmp_path: Path, storage: str, names: str) -> None:
    cfg = search_cfg(f"search.storage={storage.format(tmp=tmp_path)}")
    with pytest.raises(stores.StudyError, match=names):
        studies.open_study(cfg, studies.identity(cfg, []))


def test_two_commands_creating_one_sqlite_study_at_once_both_open_it(search_cfg, tmp_path: Path) -> None:
    cfg = search_cfg(f"search.storage=sqlite:///{tmp_path}/o.db")
    pid = os.fork()
    if pid == 0:  # the second terminal
        try:
            studies.open_study(cfg, studies.identity(cfg, []))
        finally:
            os._exit(0)
    studies.open_study(cfg, studies.identity(cfg, []))
    _, status = os.waitpid(pid, 0)
    assert status == 0
    assert len(optuna.get_all_study_summaries(f"sqlite:///{tmp_path}/o.db")) == 1


@pytest.mark.parametrize(
    "monitor, direction, names",
    [
        ("val/accc", None, "'val/accc' is not a metric"),
        ("test/acc", None, "validation metrics only"),
        ("val/acc", "up", "search.direction=up"),
    ],
)
def test_a_bad_monitor_or_direction_is_refused_up_front(search_cfg, monitor: str, direction, names: str) -> None:
    cfg = search_cfg(f"search.monitor={monitor}", *([f"search.direction={direction}"] if direction else []))
    with pytest.raises(stores.StudyError, match=names):
        studies.direction(cfg)


def test_a_loss_is_minimised(search_cfg) -> None:
    assert studies.direction(search_cfg("search.monitor=val/loss")) == "minimize"


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_a_trial_of_a_dead_worker_is_failed_re_enqueued_and_never_counted(search_cfg, tmp_path: Path, kind) -> None:
    """What a killed search leaves, in either storage (tests/test_scale_out.py kills a real one, on the journal)."""
    cfg = search_cfg(*([f"search.storage=sqlite:///{tmp_path}/study.db"] if kind == "sqlite" else []))
    study = studies.open_study(cfg, studies.identity(cfg, []))
    dead = study.ask()
    dead.suggest_categorical("model.stage1.0", [4, 6])
    dead.set_user_attr(liveness.WORKER_ATTR, f"{socket.gethostname()}:{2**22 + 7}:0")  # a pid that is not running
    dead.set_user_attr("base", True)
    live = study.ask()
    live.set_user_attr(liveness.WORKER_ATTR, liveness.this_worker())
    assert studies.trained(study) == 0 and studies.in_flight(study) == 1
    assert studies.recover_dead(study) == [dead.number]
    states = {t.number: t.state.name for t in study.trials}
    assert states[dead.number] == "FAIL" and states[live.number] == "RUNNING"
    [retry] = [t for t in study.trials if t.state.name == "WAITING"]
    assert retry.user_attrs["base"] and retry.user_attrs["retry_of"] == dead.number
    assert studies.recover_dead(study) == []  # once only


def test_a_worker_on_another_host_is_not_judged_or_waited_for_unless_named_gone(search_cfg, capsys) -> None:
    from mnist_design.search import finalists

    assert liveness.alive("another-host:1:0") is None and liveness.alive("another-host:1:0", ["another-host"]) is False
    assert liveness.alive(liveness.this_worker()) is True
    assert liveness.alive(liveness.this_worker(), [socket.gethostname()]) is True  # this host: its pids decide
    cfg = search_cfg()
    study = studies.open_study(cfg, studies.identity(cfg, []))
    elsewhere = study.ask()  # a lent machine's trial, RUNNING when that machine was given back
    elsewhere.set_user_attr(liveness.WORKER_ATTR, "another-host:465:2819")
    assert studies.recover_dead(study) == [] and studies.in_flight(study) == 1
    assert finalists.wait_for_trials(study, cfg, poll_s=0) == [elsewhere.number]  # said, not waited on for ever
    assert "search.gone_hosts=[another-host]" in capsys.readouterr().out
    gone = search_cfg("search.gone_hosts=[another-host]")
    assert finalists.wait_for_trials(study, gone, poll_s=0) == []  # failed, and its design enqueued again
    assert [t.state.name for t in study.trials] == ["FAIL", "WAITING"]


def test_a_study_still_searching_gets_the_published_designs_added_since_it_began(search_cfg) -> None:
    """budget=2000 fits published_minimal and published_warn; the study began with the base config and warn only."""
    cfg = search_cfg()
    study = optuna.create_study(direction="maximize")
    study.enqueue_trial({}, user_attrs={"base": True})
    study.enqueue_trial({}, user_attrs={"published": "published_warn"})
    enqueue_starting_points(study, cfg, ["search_space=tiny", "budget=2000"])
    added = [t.user_attrs for t in study.trials[2:]]
    assert [attrs.get("published") for attrs in added] == ["published_minimal"]  # not the base, not warn again
    enqueue_starting_points(study, cfg, ["search_space=tiny", "budget=2000"])
    assert len(study.trials) == 3  # and never twice


def test_every_own_recipe_baseline_is_a_selection_candidate_and_seeds_see_their_own_split_from_protocol_2() -> None:
    """The search's finalist must beat each baseline at full length on the same seeds (a cross with another's recipe
    only from the top, as any trial); a study begun before keeps its own protocol (the committed ones)."""
    from optuna.distributions import FloatDistribution
    from optuna.trial import create_trial

    from mnist_design.search import finalists

    def study_with(protocol: int | None) -> optuna.Study:
        study = optuna.create_study(direction="maximize")
        if protocol:
            study.set_user_attr(studies.PROTOCOL_ATTR, protocol)
        for value, attrs in [
            (0.99, {}),
            (0.98, {}),
            (0.985, {"cross": "pareto8k×base"}),
            (0.95, {"cross": "pareto8k×pareto8k"}),
            (0.97, {"published": "p"}),
        ]:
            study.add_trial(
                create_trial(
                    value=value,
                    params={"x": value},
                    distributions={"x": FloatDistribution(0, 1)},
                    user_attrs=attrs,
                    intermediate_values={14: value},
                )
            )
        return study

    new, old = study_with(studies.PROTOCOL), study_with(None)
    assert [t.value for t in finalists.candidates(new, 1)] == [0.99, 0.95, 0.97]
    assert [t.value for t in finalists.candidates(new, 2)] == [0.99, 0.985, 0.95, 0.97]
    assert [t.value for t in finalists.candidates(old, 1)] == [0.99]
    cfg = compose_run("search", ["budget=8000"])
    assert [finalists.split_seed(new, cfg, s) for s in (0, 1, 2)] == [0, 1, 2]
    assert [finalists.split_seed(old, cfg, s) for s in (0, 1, 2)] == [0, 0, 0]
    assert studies.baseline_name({"cross": "pareto8k×base"}) == "pareto8k×base" and studies.baseline_name({}) is None


def test_crosses_put_each_baseline_design_under_each_baseline_recipe_with_a_true_tag() -> None:
    from mnist_design.search import baselines

    typed = ["budget=8000", "search_space=design"]
    cfg = compose_run("search", typed)
    pairs = baselines.crosses(cfg, {"base", "published_snehanshu"})
    assert len(pairs) == 14 and ("base", "base") not in pairs and ("pareto8k", "pareto8k") in pairs
    crossed = compose_run("search", [*typed, *baselines.cross("pareto8k_v1", "published_snehanshu", cfg)])
    assert crossed.hydra.runtime.choices.model == "pareto8k_v1" and crossed.data.batch_size == 64
    assert crossed.tags.design == "pareto8k_v1×published_snehanshu"  # not the recipe's own design tag
    assert crossed.optimizer._target_.endswith("Adam") and crossed.scheduler._target_.endswith("StepLR")
    validate(crossed)  # a cross is a run the tag checks accept: no experiment claims it


def test_a_cross_that_trains_what_another_starting_point_trains_is_not_enqueued(search_cfg, capsys) -> None:
    """pareto8k_v1's recipe is the base config's: its crosses repeat other starting points, each a full-length trial
    (design_8000_v3 trained four twice); each design's own recipe is the one kept."""
    from mnist_design.search import baselines

    typed = ["search_space=design", "budget=8000"]
    names = [studies.baseline_name(attrs) for attrs, _ in baselines.starting_points(search_cfg(*typed), typed)]
    assert {"base", "pareto8k_v1×pareto8k_v1", "pareto8k×base", "published_snehanshu×base"} <= set(names)
    assert not {"pareto8k_v1×base", "base×pareto8k_v1", "pareto8k×pareto8k_v1"} & set(names)
    assert len(names) == len(set(names)) == 15  # 19 less the four repeats
    assert "pareto8k_v1×base trains what pareto8k_v1×pareto8k_v1 trains" in capsys.readouterr().out


def journal_with_a_trial(path: Path) -> None:
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    optuna.create_study(study_name="s", storage=storage).optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)


@pytest.mark.parametrize("torn", [b'{"op_code": 5, "worker_id": "a', b'{"op_code": 5, "wor\n'])
def test_a_torn_last_record_is_moved_aside_before_anything_is_appended(tmp_path: Path, torn: bytes, capsys) -> None:
    journal = tmp_path / "journal.log"
    journal_with_a_trial(journal)
    whole = journal.read_bytes()
    journal.write_bytes(whole + torn)  # a process killed mid-write, or a full disk
    cfg = compose_run("search", [f"search.storage=journal:{journal}"])
    stores.storage(cfg)
    [side] = tmp_path.glob("journal.log.torn-*")
    assert journal.read_bytes() == whole and side.read_bytes() == torn
    assert "its last record was torn" in capsys.readouterr().out
    assert len(studies.load(tmp_path).trials) == 1  # readable again


WRITER = """
import sys, optuna
storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(sys.argv[1]))
study = optuna.create_study(study_name="s", storage=storage, load_if_exists=True)
print("writing", flush=True)
while True:  # records of several KB, back to back: a kill lands mid-record often
    trial = study.ask()
    trial.set_user_attr("pad", "x" * 4000)
    study.tell(trial, 0.5)
"""


@pytest.mark.slow
def test_a_journal_whose_writer_is_killed_mid_write_opens_readable_every_time(tmp_path: Path) -> None:
    """Optuna's own writer, SIGKILLed at a moment nobody chose, three times over: whatever the kill left (a whole
    record or a torn one), the next open leaves a journal Optuna reads, and the study goes on from it."""
    import signal
    import subprocess
    import sys
    import time

    journal = tmp_path / "journal.log"
    cfg = compose_run("search", [f"search.storage=journal:{journal}"])
    trials = 0
    for delay in (0.2, 0.35, 0.5):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(journal)], stdout=subprocess.PIPE, text=True)
        assert writer.stdout.readline().strip() == "writing"
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        # the writer died holding Optuna's lock file; Optuna takes it over after its 30 s grace period, which the
        # test does not wait for: it knows the holder is dead
        journal.with_name(journal.name + ".lock").unlink(missing_ok=True)
        stores.storage(cfg)  # sets a torn tail aside, if the kill left one
        now = len(studies.load(tmp_path).trials)
        assert now >= trials  # readable, and nothing whole was lost
        trials = now
    assert trials > 0


@pytest.mark.parametrize(
    "content, names",
    [(b"my notes\nmore notes\n", "is not an Optuna journal"), (None, "line 2 of")],
)
def test_a_file_that_is_not_a_journal_or_has_junk_inside_is_refused_untouched(
    tmp_path: Path, content: bytes | None, names: str
) -> None:
    journal = tmp_path / "journal.log"
    if content is None:
        journal_with_a_trial(journal)
        lines = journal.read_bytes().split(b"\n")
        content = b"\n".join([lines[0], b"junk", *lines[1:]])
    journal.write_bytes(content)
    cfg = compose_run("search", [f"search.storage=journal:{journal}"])
    with pytest.raises(JournalRefused, match=names):
        stores.storage(cfg)
    assert journal.read_bytes() == content


def test_a_zombie_worker_is_dead_though_its_proc_entry_remains() -> None:
    """A worker that exited but was not reaped keeps /proc/<pid>: it must not count as running its trial."""
    import subprocess
    import time

    child = subprocess.Popen(["true"])
    worker = f"{socket.gethostname()}:{child.pid}:{liveness.start_time(child.pid)}"
    for _ in range(100):  # until it has exited; nobody reaps it yet
        if liveness.zombie(child.pid):
            break
        time.sleep(0.05)
    assert Path(f"/proc/{child.pid}").exists() and liveness.alive(worker) is False
    child.wait()


@pytest.mark.parametrize("option", reference.on_disk("pruner"))
def test_every_pruner_option_is_an_optuna_pruner_the_study_uses(search_cfg, option: str) -> None:
    cfg = search_cfg(f"pruner={option}")
    study = studies.open_study(cfg, studies.identity(cfg, []))
    assert isinstance(study.pruner, optuna.pruners.BasePruner)
    assert type(study.pruner).__name__ == cfg.search.pruner._target_.rsplit(".", 1)[1]


def test_an_argument_the_pruner_refuses_is_one_line_naming_it_and_makes_no_study(search_cfg) -> None:
    refused = search_cfg("search.pruner.reduction_factor=0")
    with pytest.raises(ConfigError, match=r"^search.pruner: The value of `reduction_factor` is 0, but must be"):
        studies.open_study(refused, studies.identity(refused, []))
    assert not stores.journal_path(refused).exists()


def test_the_selection_shares_its_runs_through_a_second_study_and_retrains_a_dead_one(
    search_cfg, mnist_dir: Path, tmp_path: Path
) -> None:
    """Each (candidate, seed) run is one enqueued trial of <study>.select in the same storage: trained once, its
    record in select/; a run whose process died is failed, enqueued again and trained by the next command."""
    from optuna.distributions import CategoricalDistribution
    from optuna.trial import create_trial

    from mnist_design.runs.layout import RunDir
    from mnist_design.search import finalists

    cfg = search_cfg(*tiny(mnist_dir), "search.selection.top=1", "search.selection.seeds=[1,2]", "logger=none")
    study = studies.open_study(cfg, studies.identity(cfg, []))
    study.add_trial(
        create_trial(
            value=0.5,
            params={"model.stage1.0": 4},
            distributions={"model.stage1.0": CategoricalDistribution([4, 6])},
            user_attrs={finalists.OVERRIDES_ATTR: ["model.stage1.0=4"], "params": 1000},
            intermediate_values={0: 0.5},
        )
    )
    [trial] = study.trials
    picked = finalists.select(study, cfg, [*tiny(mnist_dir), "logger=none"])
    assert picked["finished"] and picked["finalist"] == trial.number
    select = finalists.selection_study(study, create=False)
    done = sorted((t.user_attrs[studies.CANDIDATE_ATTR], t.user_attrs[studies.SEED_ATTR]) for t in select.trials)
    assert done == [(trial.number, 1), (trial.number, 2)] and all(t.state.name == "COMPLETE" for t in select.trials)
    assert not list((tmp_path / "res").rglob("*.claim"))

    lost = finalists.run_dir(cfg, trial, 2)  # as if its process had died mid-run: a RUNNING trial, a partial record
    RunDir(lost).metrics.unlink()
    dead = select.ask()
    dead.set_user_attr(liveness.WORKER_ATTR, f"{socket.gethostname()}:{2**22 + 7}:0")  # a pid that is not running
    dead.set_user_attr(studies.CANDIDATE_ATTR, trial.number)
    dead.set_user_attr(studies.SEED_ATTR, 2)
    select.enqueue_trial({}, user_attrs={studies.CANDIDATE_ATTR: 99, studies.SEED_ATTR: 1})  # chosen under another top
    again = finalists.select(study, cfg, [*tiny(mnist_dir), "logger=none"])
    assert again["finished"] and RunDir(lost).finished()
    states = [t.state.name for t in finalists.selection_study(study, create=False).trials]
    assert states.count("FAIL") == 1 and states.count("COMPLETE") == 3 and states.count("PRUNED") == 1
    assert not list((tmp_path / "res").rglob(f"{studies.TRIAL_NAME.format(99)}_*"))  # dropped, not trained


def test_a_cross_trial_records_each_override_key_once(search_cfg, tmp_path: Path) -> None:
    """The recipe and the starting point both set data.batch_size: the later one wins in Hydra, so only it is kept."""
    from mnist_design.search import finalists, space
    from mnist_design.search.trials import compose_trial

    typed = ["search_space=design", "budget=8000"]
    cfg = search_cfg(*typed)
    study = optuna.create_study()
    enqueue_starting_points(study, cfg, typed)
    while "published_snehanshu" not in (trial := study.ask()).user_attrs.get("cross", ""):
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    with space.own_runtime(cfg):
        trial_cfg = compose_trial(trial, cfg, typed, tmp_path / "study")
    recorded = trial.user_attrs[finalists.OVERRIDES_ATTR]
    keys = [space.key_of(typed) for typed in recorded]
    assert len(keys) == len(set(keys)) and "data.batch_size=64" in recorded
    assert trial_cfg.data.batch_size == 64 and trial_cfg.tags.design == trial.user_attrs["cross"]


def test_a_database_that_goes_away_mid_study_is_one_line_and_keeps_finished_trials(search_cfg, tmp_path: Path) -> None:
    import pgserver

    server = pgserver.get_server(tmp_path / "pg", cleanup_mode="stop")
    url = server.get_uri()
    cfg = search_cfg(f"search.storage='{url}'")  # quoted: a socket URL holds ?host=
    study = studies.open_study(cfg, studies.identity(cfg, []))
    study.tell(study.ask(), 0.5)  # one finished trial
    server.cleanup()  # the database stops
    with pytest.raises(stores.StorageUnwritable, match=r"search.storage=postgresql://.*went away .* kept there"):
        with stores.storage_errors(cfg):
            study.tell(study.ask(), 0.7)
    server = pgserver.get_server(tmp_path / "pg", cleanup_mode="stop")  # back, on the same data
    try:
        kept = optuna.load_study(study_name=study.study_name, storage=stores.with_driver(server.get_uri()))
        assert [t.value for t in kept.trials if t.state.name == "COMPLETE"] == [0.5]
    finally:
        server.cleanup()


def test_a_storage_given_for_a_folder_that_holds_another_study_is_refused(search_cfg, tmp_path: Path) -> None:
    """Issue 46: search.storage= pointed elsewhere wrote its selection into the committed study's folder."""
    cfg = search_cfg()
    studies.open_study(cfg, studies.identity(cfg, []))  # the folder's own study: results_dir/journal.log
    other = search_cfg(f"search.storage=journal:{tmp_path / 'other.log'}")
    with pytest.raises(stores.StudyError, match=r"is not the storage of search.results_dir=.*search.results_dir=<"):
        stores.check_storage_and_folder(other)
    stores.check_storage_and_folder(search_cfg(f"search.storage=journal:{stores.journal_path(cfg)}"))  # its own


def test_a_search_that_trained_nothing_says_why(search_cfg) -> None:
    """Issue 46: 'no design in the space fits' was printed when the space fits, or when another host held the
    study's last trial; each case now has its own line."""
    from mnist_design.search.__main__ import stop_reason

    cfg = search_cfg()
    study = studies.open_study(cfg, studies.identity(cfg, []))
    assert "designs in a row over budget=2000, though the space's smallest design fits" in stop_reason(study, cfg)
    trial = study.ask()
    trial.set_user_attr(liveness.WORKER_ATTR, "node7:4242:99")
    line = stop_reason(study, cfg)
    assert f"trial(s) {trial.number} of study" in line and "search.gone_hosts=[node7]" in line


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_a_candidate_whose_seed_diverged_fails_and_the_selection_still_finishes(search_cfg, monkeypatch, order) -> None:
    """Issue 46: a NaN validation value was ranked as a candidate (the finalist then hung on candidate order)."""
    from types import SimpleNamespace

    from mnist_design.search import finalists

    cfg = search_cfg("search.selection.top=2", "search.selection.seeds=[0,1]")
    trials = [SimpleNamespace(number=n, user_attrs={"params": 1000}, value=0.9) for n in order]
    values = {0: float("nan"), 1: 0.98}  # trial 0 diverged on a seed; trial 1 is sound
    monkeypatch.setattr(finalists, "wait_for_trials", lambda study, cfg: [])
    monkeypatch.setattr(finalists, "train_pending", lambda study, cfg, typed: None)
    monkeypatch.setattr(finalists, "candidates", lambda study, top: trials)
    monkeypatch.setattr(finalists, "seed_value", lambda study, trial, seed, cfg: values[trial.number])
    monkeypatch.setattr(finalists, "reached", lambda trial: (15, 0.9))
    monkeypatch.setattr(finalists, "better_sign", lambda study: 1)
    monkeypatch.setattr(finalists, "protocol", lambda study: 1)
    result = finalists.select(None, cfg, [])
    assert result["finished"] and result["finalist"] == 1
    [failed] = [row for row in result["candidates"] if row.get("failed")]
    assert failed["trial"] == 0 and failed["mean"] is None


def test_a_lost_selection_folder_is_rebuilt_from_the_selection_study(compose_cfg, tmp_path: Path, monkeypatch) -> None:
    """Issue 46: with select/ lost, the same command recorded 'finished: false, finalist: null' for ever, though the
    selection study in the journal holds every run's value. Now the values come from there, and nothing retrains."""
    from omegaconf import OmegaConf

    from mnist_design.search import finalists

    committed = REPO / "results" / "studies" / "design_5000_v3"  # a study whose selection ran in its journal
    shutil.copy(committed / "journal.log", tmp_path / "journal.log")  # select/ is not copied: lost
    typed = ["budget=5000", "search.study_name=design_5000_v3", "search_space=small"]
    cfg = compose_cfg(*typed, f"search.results_dir={tmp_path}", config_name="search")
    study = stores_study(cfg)
    monkeypatch.setattr(finalists, "train_run", lambda *a, **k: pytest.fail("nothing may retrain"))
    result = finalists.select(study, cfg, typed)
    summary = OmegaConf.to_container(OmegaConf.load(committed / "summary.yaml"))["selection"]
    assert result["finished"] and result["finalist"] == summary["finalist"]
    assert [row["mean"] for row in result["candidates"]] == pytest.approx(
        [row["mean"] for row in summary["candidates"]]
    )


def stores_study(cfg):
    """The study of a copied journal, loaded as the search loads it."""
    return optuna.load_study(study_name=cfg.search.study_name, storage=stores.storage(cfg))


def test_a_trial_that_never_recorded_its_worker_is_an_orphan_once_old(search_cfg, monkeypatch) -> None:
    """Issue 46: after a full disk, the trial the failed write left RUNNING had no worker record and was counted in
    flight for ever (and the hint named an empty host). A fresh one is another process's that just asked."""
    cfg = search_cfg()
    study = studies.open_study(cfg, studies.identity(cfg, []))
    orphan = study.ask()  # no worker attr, as a process that died on its first write leaves it
    assert studies.in_flight(study) == 1 and studies.recover_dead(study) == []  # just asked: may be alive
    monkeypatch.setattr(studies, "ORPHAN_AFTER_S", 0)
    assert studies.in_flight(study) == 0
    assert studies.recover_dead(study) == [orphan.number]
    assert [t.user_attrs.get("retry_of") for t in study.get_trials(states=(optuna.trial.TrialState.WAITING,))] == [
        orphan.number
    ]


def test_a_refused_design_reads_refused_with_its_reason_and_is_counted_apart_from_pruned(
    search_cfg, capsys: pytest.CaptureFixture
) -> None:
    from optuna.trial import TrialState, create_trial

    from mnist_design.search.trials import progress

    cfg = search_cfg()
    study = optuna.create_study(direction="maximize")
    study.add_trial(create_trial(value=0.9, user_attrs={"params": 1900}))
    refused = create_trial(state=TrialState.PRUNED, user_attrs={"params": 3400, studies.REFUSED_ATTR: "over budget"})
    study.add_trial(refused)
    progress(cfg)(study, study.trials[-1])
    line = capsys.readouterr().out
    assert line.startswith("[search] trial 1 refused, 3,400 params (over budget) | best: trial 0 90.00% |")
    assert "1 trained, 1 complete, 0 pruned, 1 refused, 2 in the study" in line


def test_a_trial_stopped_by_ctrl_c_is_left_running_for_the_next_command_to_train_again() -> None:
    """Optuna records a KeyboardInterrupt in the objective as a failed trial, never retried; the search's objective
    leaves it running instead, as a dead worker's (the next command fails it and enqueues its design again)."""
    from optuna.trial import TrialState

    from mnist_design.errors import INTERRUPTED
    from mnist_design.search.trials import left_running_on_interrupt

    def interrupted(trial: optuna.Trial) -> float:
        raise KeyboardInterrupt

    study = optuna.create_study()
    with pytest.raises(SystemExit) as ended:
        study.optimize(left_running_on_interrupt(interrupted), n_trials=1)
    assert ended.value.code == INTERRUPTED
    assert [t.state for t in study.trials] == [TrialState.RUNNING]


def test_a_postgresql_url_without_its_driver_names_the_extra_that_brings_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    for driver in ("psycopg", "psycopg2"):
        monkeypatch.setitem(sys.modules, driver, None)
    with pytest.raises(studies.StudyError, match=r'cannot open it \(ImportError: .*pip install -e "\.\[cluster\]"'):
        stores.rdb_storage("postgresql://user@localhost:5999/db")


def test_a_first_search_keeps_its_study_out_of_the_committed_results(compose_cfg) -> None:
    """README's one-line search (budget=2000 search_space=tiny) has a committed study's name: it appended to
    results/studies/design_2000/journal.log and retrained that study's selection for hours. Its study is its own."""
    cfg = compose_cfg("budget=2000", "search_space=tiny", config_name="search")
    assert cfg.search.study_name == "design_2000"
    assert Path(cfg.search.results_dir) == Path("outputs/studies/design_2000")
