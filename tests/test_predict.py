import json
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from PIL import Image
from torchvision.datasets import MNIST


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


@pytest.mark.slow
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


@pytest.mark.slow
def test_json_lines_and_exit_zero_when_all_good(tiny_run, mnist_dir: Path, tmp_path: Path) -> None:
    run, _ = tiny_run
    make_inputs(mnist_dir, tmp_path)
    result = predict(
        f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}", "inputs=[a.png,more/b.jpg]", "json=true", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["file"] for r in records] == ["a.png", "more/b.jpg"]
    for record in records:
        assert 0 <= record["label"] <= 9 and abs(sum(record["probabilities"]) - 1) < 1e-4
        assert abs(record["probability"] - max(record["probabilities"])) < 1e-6


def test_missing_checkpoint_is_exit_two(tmp_path: Path) -> None:
    result = predict(f"ckpt_path={tmp_path / 'nope.ckpt'}", "inputs=[x.png]", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.startswith("error: checkpoint")


@pytest.mark.slow
def test_sixteen_bit_images_one_path_without_brackets_and_a_decompression_bomb(
    tiny_run, mnist_dir: Path, tmp_path: Path
) -> None:
    run, _ = tiny_run
    digit = MNIST(str(mnist_dir), train=False).data[0].numpy().astype(np.uint16) * 257  # full 16-bit range
    Image.fromarray(digit).save(tmp_path / "deep.png")  # mode I;16: convert("L") would clip it to white
    with Image.open(tmp_path / "deep.png") as image:
        assert image.mode.startswith("I")
    Image.fromarray(digit.astype(np.uint8)).save(tmp_path / "plain.png")  # the same digit, 8-bit
    (tmp_path / "bomb").mkdir()
    Image.new("L", (9500, 9500)).save(tmp_path / "bomb" / "huge.png")  # 90 Mpx: over PIL's bomb limit
    Image.fromarray(digit.astype(np.uint8)).save(tmp_path / "bomb" / "ok.png")
    ckpt = f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}"
    deep, plain = (predict(ckpt, f"inputs={name}", "json=true", cwd=tmp_path) for name in ("deep.png", "plain.png"))
    assert deep.returncode == 0 and plain.returncode == 0, deep.stderr[-2000:]
    deep_record, plain_record = (json.loads(r.stdout) for r in (deep, plain))
    assert deep_record["label"] == plain_record["label"]
    assert deep_record["probabilities"] == pytest.approx(plain_record["probabilities"], abs=0.02)
    bomb = predict(ckpt, "inputs=bomb", cwd=tmp_path)
    assert bomb.returncode == 1 and "Traceback" not in bomb.stderr
    assert "bomb/huge.png: error: too large to decode safely" in bomb.stderr
    assert bomb.stdout.startswith("bomb/ok.png: ")  # the others are still classified


@pytest.mark.slow
def test_a_sub_folder_and_a_symlink_loop_are_named(run_entry, tiny_run, mnist_dir: Path, tmp_path: Path) -> None:
    run, _ = tiny_run
    make_inputs(mnist_dir, tmp_path)
    (tmp_path / "more" / "nested").mkdir()
    (tmp_path / "more" / "loop.png").symlink_to(tmp_path / "more" / "loop.png")
    code, out, err = run_entry(
        "mnist_design.predict", f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}", "inputs=[more]", cwd=tmp_path
    )
    assert code == 1 and "Traceback" not in out + err
    assert "more/nested: a sub-folder, skipped" in err
    assert "more/loop.png: error: a symlink loop" in err
