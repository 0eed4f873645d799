import json
from pathlib import Path

import numpy as np
from PIL import Image
from torchvision.datasets import MNIST

from conftest import run_cli


def predict(*args: str, cwd: Path):
    return run_cli(*args, cwd=cwd, module="mnist_design.predict")


def make_inputs(mnist_dir: Path, root: Path) -> None:
    digits = MNIST(str(mnist_dir), train=False).data[:3].numpy()
    (root / "more").mkdir(parents=True)
    Image.fromarray(255 - digits[0]).resize((100, 100)).convert("RGB").save(root / "a.png")
    Image.fromarray(digits[1]).save(root / "more" / "b.jpg")
    Image.fromarray(np.stack([digits[2]] * 4, axis=-1), mode="RGBA").save(root / "more" / "c.png")
    (root / "more" / "notes.txt").write_text("not an image")
    (root / "more" / "empty.png").write_bytes(b"")


def test_classifies_good_files_and_reports_bad_ones(tiny_run, mnist_dir: Path, tmp_path: Path) -> None:
    run, _ = tiny_run
    make_inputs(mnist_dir, tmp_path)
    result = predict(f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}", "inputs=[a.png,more]", cwd=tmp_path)
    assert result.returncode == 1  # some files failed
    good = result.stdout.splitlines()
    assert [line.split(":")[0] for line in good] == ["a.png", "more/b.jpg", "more/c.png"]
    assert all(line.split(": ")[1][0].isdigit() and "(p=" in line for line in good)
    errors = result.stderr.splitlines()
    assert "more/empty.png: error: empty file" in errors
    assert "more/notes.txt: error: not an image PIL can read (png, jpg, bmp, gif, tiff, webp, ...)" in errors
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "more"]  # prints only, writes nothing


def test_json_lines_and_exit_zero_when_all_good(tiny_run, mnist_dir: Path, tmp_path: Path) -> None:
    run, _ = tiny_run
    make_inputs(mnist_dir, tmp_path)
    result = predict(f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}", "inputs=[a.png,more/b.jpg]", "json=true",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["file"] for r in records] == ["a.png", "more/b.jpg"]
    for record in records:
        assert 0 <= record["label"] <= 9 and abs(sum(record["probabilities"]) - 1) < 1e-4
        assert abs(record["probability"] - max(record["probabilities"])) < 1e-6


def test_missing_checkpoint_is_exit_two(tmp_path: Path) -> None:
    result = predict(f"ckpt_path={tmp_path / 'nope.ckpt'}", "inputs=[x.png]", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.startswith("error: checkpoint")
