"""A hostile user at every entry point: one clear line, a non-zero exit, no traceback, nothing already written lost.

Each case runs the real @hydra.main entry point in this process (conftest.run_entry) inside a directory that holds a
finished run, a killed run and some bad files; every file there is hashed before and compared after.
"""

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO, entry_point_modules
from PIL import Image

from mnist_design.report.research import RESEARCH_FILE
from mnist_design.runs.layout import FILES

TRAIN, EVALUATE, PREDICT = "mnist_design.train", "mnist_design.evaluate", "mnist_design.predict"
FIDELITY = "mnist_design.fidelity"
REPORT, BENCH, RF, SEARCH = (
    "mnist_design.report",
    "mnist_design.bench",
    "mnist_design.receptive_field",
    "mnist_design.search",
)
EXPORT, ROBUSTNESS = "mnist_design.export", "mnist_design.robustness"
LAST = "ckpt_path=run/checkpoints/last.ckpt"
HYDRA = 1  # Hydra's own exit status for a config it cannot compose (its message names the key)

# (module, arguments, exit status, what the error must name). {data} = MNIST, {run}/{killed} = run directories.
CASES = [
    (TRAIN, ["data.batch_size=1.5"], HYDRA, "data.batch_size"),
    (TRAIN, ["trainer.max_epochs=1.5"], HYDRA, "trainer.max_epochs"),
    (TRAIN, ["seed=abc"], HYDRA, "seed"),
    (TRAIN, ["test=maybe"], HYDRA, "test"),
    (TRAIN, ["model=nonexistent"], HYDRA, "model/nonexistent"),
    (TRAIN, ["trainer.max_epoch=3"], HYDRA, "trainer.max_epoch"),
    (TRAIN, ["model.layers=oops"], HYDRA, "model.layers"),
    (TRAIN, ["data.batch_size=0"], 2, "data.batch_size=0 is not allowed"),
    (TRAIN, ["-m", "seed=0,1", "data.batch_size=0"], 2, "data.batch_size=0 is not allowed"),
    (TRAIN, ["data.batch_size=60000"], 2, "data.batch_size=60000 is not allowed: it must be at most the 55,000"),
    (TRAIN, ["data.train_subset=100", "data.batch_size=128"], 2, "at most the 100 training images"),
    (TRAIN, ["seed=-1"], 2, "seed=-1 is not allowed: it must be an integer in [0, 4294967295]"),
    (TRAIN, ["seed=4294967296"], 2, "seed=4294967296 is not allowed"),
    (TRAIN, ["model.dropout=1.0"], 2, "model.dropout must be in [0, 1); got 1.0"),
    (TRAIN, ["optimizer.lr=0"], 2, "optimizer.lr=0.0 is not allowed"),
    (TRAIN, ["scheduler.max_lr=-1"], 2, "scheduler.max_lr=-1.0 is not allowed"),
    (TRAIN, ["trainer.max_epochs=0"], 2, "trainer.max_epochs=0 is not allowed"),
    (TRAIN, ["data.val_size=60000"], 2, "data.val_size=60000 is not allowed"),
    (TRAIN, ["data.train_subset=0"], 2, "data.train_subset=0 is not allowed"),
    (TRAIN, ["budget=100"], 2, "over budget=100"),
    (TRAIN, ["budget=-5"], 2, "budget=-5 is not allowed"),
    (TRAIN, ["threads=0"], 2, "threads=0 is not allowed"),
    (TRAIN, ["augment.degrees=-5"], 2, "augment.degrees=-5.0 is not allowed"),
    (TRAIN, ["augment.scale=1.5"], 2, "augment.scale=1.5 is not allowed"),
    (TRAIN, ["augment.degrees=400"], 2, "augment.degrees=400.0 is not allowed: it must be in [0, 180]"),
    (TRAIN, ["augment.shear=90"], 2, "augment.shear=90.0 is not allowed"),
    (TRAIN, ["data.split_seed=-1"], 2, "data.split_seed=-1 is not allowed: it must be an integer in [0, 4294967295]"),
    (TRAIN, ["trainer.limit_train_batches=-1"], 2, "trainer.limit_train_batches=-1 is not allowed"),
    (TRAIN, ["trainer.accumulate_grad_batches=0"], 2, "trainer.accumulate_grad_batches=0 is not allowed"),
    (TRAIN, ["trainer.check_val_every_n_epoch=0"], 2, "trainer.check_val_every_n_epoch=0 is not allowed"),
    (TRAIN, ["trainer.val_check_interval=0"], 2, "trainer.val_check_interval=0 is not allowed"),
    (TRAIN, ["trainer.max_steps=0"], 2, "trainer.max_steps=0 is not allowed"),
    (TRAIN, ["trainer.gradient_clip_val=-1"], 2, "trainer.gradient_clip_val=-1 is not allowed"),
    (TRAIN, ["trainer.num_sanity_val_steps=-5"], 2, "trainer.num_sanity_val_steps=-5 is not allowed"),
    (TRAIN, ["trainer.precision=bf17"], 2, "lightning.Trainer refused the trainer settings (accelerator=auto"),
    (TRAIN, ["trainer.strategy=foo"], 2, "invalid strategy name"),
    (TRAIN, ["trainer.devices=0"], 2, "devices=0 on this machine): `Trainer(devices=0)`"),
    (TRAIN, ["callbacks.model_checkpoint.save_top_k=-2"], 2, "callbacks.model_checkpoint: Invalid value for"),
    (TRAIN, ["callbacks.stop_on_nan.check_every=-1"], 2, "callbacks.stop_on_nan.check_every=-1 is not allowed"),
    (TRAIN, ["compile=true", "compile_mode=bogus"], 2, "compile_mode=bogus is not allowed: it must be one of default,"),
    (TRAIN, ["module.label_smoothing=1.5"], 2, "module.label_smoothing must be in [0, 1); got 1.5"),
    (TRAIN, ["model=family", "model.stage1=[8,-1]"], 2, "model: model widths must be >= 0"),
    (TRAIN, ["model=family", "model.gap=middle"], 2, "model.gap must be one of early, late"),
    (TRAIN, ["model=family", "model.padding=[2,0,0]"], 2, "model.padding must be three values of 0 or 1"),
    (TRAIN, ["model=family", "model.stage3=[20,20]"], 2, "shrinks the feature map below 1x1"),
    (TRAIN, ["model.layers=[{conv: 8}]"], 2, "must end in 10 channels on a 1x1 map"),
    (TRAIN, ["data.data_dir=afile/sub"], 2, "cannot be written"),
    (TRAIN, ["resume=nowhere"], 2, "resume=nowhere is not a run directory"),
    (TRAIN, ["debug=nonexistent"], HYDRA, "debug/nonexistent"),
    (TRAIN, ["step=nonexistent"], HYDRA, "step/nonexistent"),
    (TRAIN, ["tags=abc"], HYDRA, "tags"),
    (TRAIN, ["threads=1.5"], HYDRA, "threads"),
    (TRAIN, ["trainer.enable_checkpointing=perhaps"], HYDRA, "trainer.enable_checkpointing"),
    (TRAIN, ["resume=killed", "model=skeleton"], 2, "model=skeleton would change what the checkpoint holds"),
    (TRAIN, ["resume=killed", "trainer.max_epochs=9"], 2, "trainer.max_epochs=9 would change what the checkpoint"),
    (TRAIN, ["resume=broken"], 2, "broken/checkpoints/last.ckpt is unreadable, truncated or corrupt"),
    (EVALUATE, [], 2, "ckpt_path is required"),
    (EVALUATE, ["ckpt_path=nope.ckpt"], 2, "checkpoint nope.ckpt does not exist"),
    (EVALUATE, ["ckpt_path=trunc.ckpt"], 2, "trunc.ckpt is unreadable, truncated or corrupt"),
    (EVALUATE, ["ckpt_path=foreign.ckpt"], 2, "foreign.ckpt is not an mnist_design checkpoint"),
    (PREDICT, ["ckpt_path=extra_key.ckpt", "inputs=a.png"], 2, "extra_key.ckpt: its saved hyper_parameters do not"),
    (EVALUATE, ["ckpt_path=notes.txt"], 2, "notes.txt is unreadable, truncated or corrupt"),
    (EVALUATE, [LAST, "trainer.precision=bf17"], 2, "Precision 'bf17' is invalid"),
    (EVALUATE, ["ckpt_path=run"], 2, "checkpoint run is a directory; pass a file in it"),
    (PREDICT, ["inputs=[a.png]"], 2, "ckpt_path is required"),
    (PREDICT, ["ckpt_path=run/checkpoints/last.ckpt"], 2, "inputs is required"),
    (PREDICT, ["ckpt_path=run/checkpoints/last.ckpt", "inputs=[]"], 2, "no input files"),
    (PREDICT, ["ckpt_path=run/checkpoints/last.ckpt", "inputs=empty_dir"], 2, "no input files"),
    (PREDICT, ["ckpt_path=trunc.ckpt", "inputs=[a.png]"], 2, "trunc.ckpt is unreadable"),
    (PREDICT, ["ckpt_path=run/checkpoints/last.ckpt", "inputs=[a.png]", "json=maybe"], HYDRA, "json"),
    (EXPORT, [], 2, "ckpt_path is required"),
    (EXPORT, ["ckpt_path=nope.ckpt"], 2, "checkpoint nope.ckpt does not exist"),
    (EXPORT, ["ckpt_path=trunc.ckpt"], 2, "trunc.ckpt is unreadable, truncated or corrupt"),
    (EXPORT, ["ckpt_path=foreign.ckpt"], 2, "foreign.ckpt is not an mnist_design checkpoint"),
    (EXPORT, [LAST, "latency_runs=-1"], 2, "latency_runs=-1 is not allowed: it must be a whole number >= 0"),
    (EXPORT, [LAST, "calibration_images=0"], 2, "calibration_images=0 is not allowed: it must be a whole number >= 1"),
    (EXPORT, [LAST, "int8=maybe"], HYDRA, "int8"),
    (EXPORT, [LAST, "out_dir=afile"], 2, "afile is a file, not a directory"),
    (EXPORT, ["ckpt_path=[run/checkpoints/last.ckpt,trunc.ckpt]"], 2, "give one checkpoint file"),
    (ROBUSTNESS, [], 2, "ckpt_path is required"),
    (
        ROBUSTNESS,
        [LAST, "corruptions=[fog,fogg]"],
        2,
        "corruptions=fogg is not allowed: it must be one or more of shot_noise",
    ),
    (ROBUSTNESS, [LAST, "corruptions=[]"], 2, "corruptions=[] is not allowed: it must be one or more of"),
    (ROBUSTNESS, [LAST, "severity=6"], 2, "severity=6 is not allowed: it must be 1 to 5"),
    (ROBUSTNESS, [LAST, "severity=high"], HYDRA, "severity"),
    (ROBUSTNESS, ["ckpt_path=[run/checkpoints/last.ckpt,nope.ckpt]"], 2, "checkpoint nope.ckpt does not exist"),
    (ROBUSTNESS, ["ckpt_path=[run/checkpoints/last.ckpt,killed/checkpoints/last.ckpt]", "out_dir=x"], 2, "out_dir="),
    (REPORT, ["sweep_dirs=[empty_dir]"], 2, "no finished runs"),
    (REPORT, ["seeds=abc"], HYDRA, "seeds"),
    (REPORT, ["sweep_dirs=[empty_dir]", "schedulers=perhaps"], HYDRA, "schedulers"),
    (REPORT, ["steps=padding28"], HYDRA, "steps"),
    (REPORT, ["step_seeds=[abc]"], HYDRA, "step_seeds"),
    (REPORT, ["steps=[padding82]"], 2, "steps: step/padding82 does not exist; allowed: affine, base"),
    (REPORT, ["designs=[pareto9k]"], 2, "designs: experiment/pareto9k does not exist"),
    (BENCH, ["repeats=0"], 2, "repeats=0 is not allowed"),
    (BENCH, ["batches=0", "warmup=0"], 2, "batches=0 is not allowed"),
    (BENCH, ["warmup=-1"], 2, "warmup=-1 is not allowed"),
    (BENCH, ["busy=true", "busy_batches=0"], 2, "busy_batches=0 is not allowed"),
    (BENCH, ["busy=maybe"], HYDRA, "busy"),
    (BENCH, ["busy_batches=many"], HYDRA, "busy_batches"),
    (BENCH, ["data.batch_size=0"], 2, "data.batch_size=0 is not allowed"),
    (BENCH, ["repeats=1.5"], HYDRA, "repeats"),
    (RF, ["model=nonexistent"], HYDRA, "model/nonexistent"),
    (RF, ["model.layers=[{conv: 8}]"], 2, "must end in 10 channels"),
    (RF, ["model.dropout=abc"], HYDRA, "model.dropout"),
    (SEARCH, ["search.workers=0"], 2, "search.workers=0"),
    (SEARCH, ["search.n_trials=0"], 2, "search.n_trials=0"),
    (SEARCH, ["budget=abc"], HYDRA, "budget"),
    (SEARCH, ["search.timeout_min=-1"], 2, "search.timeout_min=-1.0 is not allowed"),
    (SEARCH, ["search_space=nonexistent"], HYDRA, "search_space/nonexistent"),
    (BENCH, ["parallel=maybe"], HYDRA, "parallel"),
    (SEARCH, ["search.sampler.seed=x", "search.workers=0"], 2, "search.workers=0"),
    # the recipe knobs and blocks: each class checks its own arguments, validate asks it before any data is read
    (TRAIN, ["optimizer.nesterov=true", "optimizer.momentum=0"], 2, "optimizer: Nesterov momentum requires"),
    (TRAIN, ["augment.p=1.5"], 2, "augment.p=1.5 is not allowed: it must be in [0, 1]"),
    (TRAIN, ["augment.contrast=-0.1"], 2, "augment.contrast=-0.1 is not allowed"),
    (TRAIN, ["scheduler=piecewise", "scheduler.points=[[1,0.1],[3,0]]"], 2, "scheduler.points: epochs must rise"),
    (TRAIN, ["scheduler=piecewise", "scheduler.points=[[0,0],[3,0]]"], 2, "not all 0"),
    (TRAIN, ["model=family", "model.first_kernel=7"], 2, "model.first_kernel must be one of 3, 5"),
    (TRAIN, ["model=family", "model.separable=[true]"], 2, "model.separable must be three"),
    # the search, before any trial: the objective, the space, the storage, the budget
    (SEARCH, ["search.monitor=val/accc"], 2, "search.monitor=val/accc: 'val/accc' is not a metric"),
    (SEARCH, ["search.monitor=test/acc"], 2, "validation metrics only"),
    (SEARCH, ["+search.space.foo=[1,2]"], 2, "search.space: foo is not a config key"),
    (SEARCH, ["search.storage=foo://nowhere"], 2, "search.storage=foo://nowhere: cannot open it"),
    (SEARCH, ["search.storage=journal:missing/j.log"], 2, "the folder missing does not exist"),
    (SEARCH, ["search.storage=sqlite:///afile/o.db"], 2, "the folder afile does not exist"),
    (SEARCH, ["budget=10"], 2, "no design in the space fits budget=10; the smallest is"),
    (SEARCH, ["search.direction=up"], 2, "search.direction=up is not allowed"),
    (SEARCH, ["search.selection.top=-1"], 2, "search.selection.top=-1 is not allowed: it must be >= 0"),
    (SEARCH, ["search.selection.seeds=[]"], 2, "search.selection.seeds=[] is not allowed"),
    (SEARCH, ["search.selection.seeds=[-1]"], 2, "search.selection.seeds=[-1] is not allowed"),
    (SEARCH, ["search.selection.seeds=abc"], HYDRA, "search.selection.seeds"),
    (SEARCH, ["search.enqueue_published=maybe"], HYDRA, "search.enqueue_published"),
    (SEARCH, ["search.rung_epochs=0"], 2, "search.rung_epochs=0 is not allowed: it must be null or >= 2"),
    (SEARCH, ["search.study_name=design_1000.select"], 2, "search.study_name=design_1000.select is not allowed"),
    (
        SEARCH,
        ["search.crosses=[base,nosuch]"],
        2,
        "search.crosses=nosuch is not allowed: it must be one or more of base",
    ),
    (SEARCH, ["search.rung_epochs=1"], 2, "search.rung_epochs=1 is not allowed: it must be null or >= 2"),
    (SEARCH, ["search.rung_epochs=null"], 2, "search.rung_epochs=null is not allowed with this pruner"),
    (SEARCH, ["pruner=none", "search.rung_epochs=3"], 2, "search.rung_epochs=3 is not allowed with pruner=none"),
    (SEARCH, ["search.rung_epochs=abc"], HYDRA, "search.rung_epochs"),
    (SEARCH, ["pruner=nonexistent"], HYDRA, "pruner/nonexistent"),
    (SEARCH, ["search.pruner.reduction_factor=0"], 2, "search.pruner: The value of `reduction_factor` is 0"),
    (SEARCH, ["search.gone_hosts=vm"], HYDRA, "search.gone_hosts"),
    # a finalist's preset may not replace another preset: refused before the study opens, not hours later
    (SEARCH, ["search.selection.preset=published_woolly"], 2, "search.selection.preset=published_woolly is not"),
    (SEARCH, ["search.selection.preset=row4"], 2, "row4.yaml is another preset; it must be a new name, or"),
    (SEARCH, ["search.selection.preset=pareto2k"], 2, "pareto2k.yaml is another preset"),
    (SEARCH, ["search.selection.preset=../x"], 2, "search.selection.preset=../x is not allowed"),
    # issue 36: a preset replaces only what the search wrote (conf/model/best.yaml is the default model)
    *[
        (
            SEARCH,
            ["budget=1000", "search_space=micro", f"search.selection.preset={name}"],
            2,
            "not written by the search",
        )
        for name in ("best", "skeleton", "bn_dropout", "augmented", "family", "pareto8k_v1")
    ],
    (SEARCH, ["search.storage=journal:afile/j.log"], 2, "the folder afile does not exist"),
    (TRAIN, ["augment.brightness=abc"], HYDRA, "augment.brightness"),
    (TRAIN, ["augment.brightness=1.5"], 2, "augment.brightness=1.5 is not allowed: it must be in [0, 1]"),
    (TRAIN, ["model=family", "model.first_kernel=abc"], HYDRA, "model.first_kernel"),
    (TRAIN, ["scheduler=piecewise", "scheduler.points=oops"], HYDRA, "scheduler.points"),
    (
        TRAIN,
        ["scheduler=piecewise", "scheduler.points=[[0,0.1,3]]"],
        2,
        "scheduler.points must be a list of [epoch, lr]",
    ),
    (TRAIN, ["scheduler=piecewise", "scheduler.max_lr=0"], 2, "scheduler.max_lr=0.0 is not allowed"),
    (
        TRAIN,
        ["scheduler=piecewise", "scheduler.span=0"],
        2,
        "scheduler.span=0.0 is not allowed: it must be > 0 or null",
    ),
    (REPORT, ["front=maybe"], HYDRA, "front"),
    (REPORT, ["front=true", "results_dir=nowhere"], 2, "nowhere/research.yaml does not exist"),
    (REPORT, ["front=true", "results_dir=finals_no_cap"], 2, "finals_no_cap/research.yaml is not a research file"),
    (REPORT, ["front=true", "results_dir=finals_cap_text"], 2, "finals_cap_text/research.yaml is not a research file"),
    (REPORT, ["front=true", "results_dir=finals_cap_low"], 2, "finals.seeds=[0, 1, 2, 3, 4] with finals.cap=3 is not"),
    (
        REPORT,
        ["front=true", f"results_dir={REPO / 'results'}", "readme=notes.txt"],
        2,
        "readme=notes.txt: cannot update its generated blocks",
    ),
    # run directories, checked before Hydra writes anything into them
    (TRAIN, ["hydra.run.dir=run"], 2, "hydra.run.dir=run already holds a run (metrics.json"),
    (
        TRAIN,
        ["hydra.run.dir=killed"],
        2,
        f"already holds a run ({FILES['history']}, {FILES['checkpoints']}); choose a new directory",
    ),
    (TRAIN, ["hydra.run.dir=afile"], 2, "afile is a file, not a directory"),
    (TRAIN, ["hydra.run.dir=" + "x" * 300], 2, "File name too long"),
    (TRAIN, ["hydra.run.dir=" + "/".join(["y" * 200] * 25)], 2, "File name too long"),
    (REPORT, ["out_dir=afile"], 2, "afile is a file, not a directory"),
    # a tag is always true of the run it names
    (TRAIN, ["experiment=pareto8k", "model=best"], 2, "model=best conflicts with experiment=pareto8k"),
    (TRAIN, ["step=padding28", "experiment=pareto8k"], 2, "experiment=pareto8k conflicts with step=padding28: both"),
    (SEARCH, ["step=padding28"], 2, "step=padding28: a search varies the design"),
    (SEARCH, ["experiment=pareto5k"], 2, "experiment=pareto5k: a search varies the design"),
    # issue 36: values checked before training
    (TRAIN, ["scheduler=piecewise", "scheduler.interval=step"], 2, "it must be epoch for scheduler=piecewise"),
    (TRAIN, ["scheduler.interval=banana"], 2, "scheduler.interval=banana is not allowed: it must be epoch or step"),
    (SEARCH, ["search.workers=1000"], 2, "search.workers=1000 is not allowed: it must be at most this machine's"),
    (TRAIN, ["scheduler=plateau", "scheduler.monitor=val/accc"], 2, "scheduler.monitor=val/accc is not allowed"),
    (TRAIN, ["augment.degrees=inf"], 2, "augment.degrees=inf is not allowed: it must be a finite number"),
    (
        TRAIN,
        ["scheduler=piecewise", "scheduler.points=[[0,0.1],[5,nan]]"],
        2,
        "scheduler.points.1.1=nan is not allowed",
    ),
    (TRAIN, ["scheduler=piecewise", "scheduler.points=[[0,0.1],[5,abc]]"], 2, "pairs of finite numbers"),
    (TRAIN, ["model.layers=[{conv: 8}, {maxpool: 0}, {conv: 10}, {gap: true}]"], 2, "maxpool must be a whole number"),
    (
        FIDELITY,
        # fidelity.docs: a copy of docs/search.md, whose committed table must not be emptied
        [
            "budget=5000",
            "search_space=small",
            "fidelity.configs=0",
            "fidelity.results_dir=empty_dir",
            "fidelity.docs=search.md",
        ],
        2,
        "its fidelity_5000 table was measured on 10 configurations, this sample (fidelity.results_dir=empty_dir) on 0",
    ),
    (
        FIDELITY,
        ["fidelity.results_dir=sample", "fidelity.docs=notes.txt"],  # refused before any configuration trains
        2,
        "fidelity.docs=notes.txt: cannot update its generated blocks (no <!-- fidelity_8000:begin -->",
    ),
    (FIDELITY, ["fidelity.worker=5"], 2, "fidelity.worker=5 is not allowed: it must be in [0, fidelity.workers - 1]"),
]


def digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


def husks(root: Path, before: set[Path]) -> list[str]:
    """Directories made since ``before`` that hold nothing, or nothing but Hydra's ``.hydra/``: what looks like a run
    but is only a refused command."""
    made = [p for p in root.rglob("*") if p.is_dir() and p not in before and ".hydra" not in p.parts]
    return sorted(str(p.relative_to(root)) for p in made)


@pytest.fixture
def hostile_dir(tiny_run, mnist_dir: Path, tmp_path: Path) -> Path:
    """A working directory with a finished run, a killed one, one with a broken checkpoint, and bad files."""
    run, _ = tiny_run
    shutil.copytree(run, tmp_path / "run")
    shutil.copytree(run, tmp_path / "killed")
    (tmp_path / "killed" / "metrics.json").unlink()
    shutil.copytree(tmp_path / "killed", tmp_path / "broken")
    (tmp_path / "broken" / "checkpoints" / "last.ckpt").write_bytes(b"PK\x03\x04 cut short")
    (tmp_path / "trunc.ckpt").write_bytes((run / "checkpoints" / "last.ckpt").read_bytes()[:5000])
    torch.save({"state_dict": {}}, tmp_path / "foreign.ckpt")
    extra = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    extra["hyper_parameters"]["colour"] = "blue"  # one key this version does not take
    torch.save(extra, tmp_path / "extra_key.ckpt")
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    (tmp_path / "afile").write_text("a file where a directory is expected")
    (tmp_path / "empty_dir").mkdir()
    shutil.copy(REPO / "docs" / "search.md", tmp_path / "search.md")
    Image.fromarray(np.zeros((28, 28), dtype=np.uint8)).save(tmp_path / "a.png")
    research = (REPO / "results" / RESEARCH_FILE).read_text()  # finals.cap missing, not a number, below a seed
    for folder, cap in {"finals_no_cap": "", "finals_cap_text": "cap: ten", "finals_cap_low": "cap: 3"}.items():
        (tmp_path / folder).mkdir()
        (tmp_path / folder / RESEARCH_FILE).write_text(re.sub(r"(?m)^  cap: 10", f"  {cap}", research))
    return tmp_path


@pytest.mark.parametrize(
    "module, args, status, names",
    CASES,
    ids=[f"{m.split('.')[-1]}:{' '.join(a) or '(nothing)'}" for m, a, _, _ in CASES],
)
def test_bad_input_is_one_clear_line_and_loses_nothing(
    run_entry, hostile_dir: Path, mnist_dir: Path, module: str, args: list[str], status: int, names: str
) -> None:
    before, folders = digests(hostile_dir), set(hostile_dir.rglob("*"))
    data = (
        []
        if any(a.startswith(("data.data_dir", "resume=")) for a in args)
        or module in (EVALUATE, PREDICT, REPORT, RF, EXPORT, ROBUSTNESS)
        else [f"data.data_dir={mnist_dir}"]
    )
    code, out, err = run_entry(module, *args, *data, cwd=hostile_dir)
    assert code == status, (out[-2000:], err[-2000:])
    assert "Traceback" not in out + err
    assert names in err, err[-2000:]
    if status == 2:  # our own errors: the first line says it all, the second is the HYDRA_FULL_ERROR hint
        assert err.startswith("error: ") and names in err.splitlines()[0]
        assert husks(hostile_dir, folders) == []  # nor a directory that looks like a run
    after = digests(hostile_dir)
    assert {name: after.get(name) for name in before} == before  # every file that was there is byte-identical


def read_only_bind(path: Path) -> None:
    """Make ``path`` a read-only bind mount of itself (root only); skip the test where mounting is refused."""
    path.mkdir(exist_ok=True)
    for command in (["mount", "--bind", str(path), str(path)], ["mount", "-o", "remount,ro,bind", str(path)]):
        if shutil.which("mount") is None or subprocess.run(command, capture_output=True).returncode != 0:
            subprocess.run(["umount", str(path)], capture_output=True)
            pytest.skip("cannot make a read-only bind mount here (needs root and mount)")


@pytest.mark.parametrize(
    "module, args",
    [
        (TRAIN, ["hydra.run.dir=ro/run"]),
        (EVALUATE, ["ckpt_path=run/checkpoints/last.ckpt", "hydra.run.dir=ro/evaluate"]),
    ],
)
def test_a_read_only_outputs_folder_is_one_line(
    run_entry, hostile_dir: Path, mnist_dir: Path, module: str, args: list[str]
) -> None:
    read_only_bind(hostile_dir / "ro")
    try:
        code, out, err = run_entry(
            module,
            *args,
            f"data.data_dir={mnist_dir}" if module == TRAIN else "trainer.accelerator=cpu",
            cwd=hostile_dir,
        )
    finally:
        subprocess.run(["umount", str(hostile_dir / "ro")], capture_output=True)
    assert code == 2 and "Traceback" not in out + err
    assert err.startswith("error: cannot create ro/") and "Read-only file system" in err.splitlines()[0]


def test_the_suite_covers_every_entry_point_forty_times_over() -> None:
    assert len(CASES) >= 40
    commands = {module.removesuffix(".__main__") for module in entry_point_modules()}
    assert {module for module, *_ in CASES} == commands


@pytest.mark.parametrize("jobs", ["abc", "", "0"])
def test_a_bad_jobs_variable_is_one_line_naming_it(
    run_entry, hostile_dir: Path, mnist_dir: Path, monkeypatch: pytest.MonkeyPatch, jobs: str
) -> None:
    monkeypatch.setenv("MNIST_DESIGN_JOBS", jobs)
    before = digests(hostile_dir)
    code, out, err = run_entry(TRAIN, f"data.data_dir={mnist_dir}", "hydra.run.dir=jobs", cwd=hostile_dir)
    assert code == 2 and "Traceback" not in out + err
    assert err.startswith(f"error: MNIST_DESIGN_JOBS={jobs!r} is not allowed: it must be a whole number >= 1")
    assert {name: digests(hostile_dir).get(name) for name in before} == before


def test_resuming_a_finished_run_says_so_and_rewrites_nothing(run_entry, hostile_dir: Path) -> None:
    before = digests(hostile_dir)
    code, out, err = run_entry(TRAIN, "resume=run", cwd=hostile_dir)
    assert code == 0 and "already finished" in out and "Traceback" not in out + err
    assert digests(hostile_dir) == before


def test_a_refusal_takes_away_its_own_record_and_empty_files_and_nothing_else(tmp_path: Path) -> None:
    from mnist_design.runs.preflight import tidy_for

    def tree(root: Path) -> list[str]:
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))

    study = tmp_path / "searches" / "s"  # a study continues in its folder: an earlier invocation and a trial stay
    (study / "invocations" / "old").mkdir(parents=True)
    (study / "trial_0000").mkdir()
    tidy = tidy_for(study, "invocations/new")
    (study / "invocations" / "new").mkdir()
    (study / "invocations" / "new" / "config.yaml").write_text("refused")
    (study / "search.log").touch()
    tidy()
    assert tree(study) == ["invocations", "invocations/old", "trial_0000"]

    run = tmp_path / "outputs" / "runs" / "r"  # a new run dir holding only the record of its command: all of it goes
    tidy = tidy_for(run)
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").write_text("refused")
    (run / "evaluate.log").touch()
    tidy()
    assert not (tmp_path / "outputs").exists()

    tidy = tidy_for(run)  # one that holds anything more keeps all of it
    (run / ".hydra").mkdir(parents=True)
    (run / "tensorboard").mkdir()
    (run / "tensorboard" / "events").write_text("written")
    tidy()
    assert tree(run) == [".hydra", "tensorboard", "tensorboard/events"]
