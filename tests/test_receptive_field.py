import pytest
from conftest import run_cli
from torch import nn

from mnist_design.models.receptive_field import field_table, receptive_fields


def test_conv_pool_conv_by_hand() -> None:
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 8, 3))
    rows = receptive_fields(net)
    assert [(r.operation, r.n_in, r.n_out, r.ch_in, r.ch_out) for r in rows] == [
        ("CONVOLUTION", 28, 26, 1, 4),
        ("MaxPool", 26, 13, 4, 4),
        ("CONVOLUTION", 13, 11, 4, 8),
    ]
    assert [(r.j_in, r.j_out) for r in rows] == [(1, 1), (1, 2), (2, 2)]
    assert [r.r_out for r in rows] == [3, 4, 8]  # 1+2, 3+1*1, 4+2*2


def test_strided_padded_conv_by_hand() -> None:
    net = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.Sequential(nn.Conv2d(4, 4, 3)))
    first, second = receptive_fields(net)
    assert (first.n_out, first.j_out, first.r_out, first.padding) == (14, 2, 3, 1)  # (28+2-3)//2+1
    assert (second.n_out, second.r_in, second.r_out) == (12, 3, 7)  # 3 + (3-1)*2


def test_gap_spans_the_whole_map() -> None:
    rows = receptive_fields(nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(1)))
    assert (rows[1].operation, rows[1].kernel, rows[1].n_out, rows[1].r_out) == ("GAP", 26, 1, 28)


@pytest.mark.slow
def test_best_model_reproduces_the_seed_table(tmp_path) -> None:
    result = run_cli("model=best", cwd=tmp_path, module="mnist_design.receptive_field")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line for line in result.stdout.splitlines() if line.split("|")[1:2] and "**" in line.split("|")[1]]
    assert [int(line.split("|")[-2]) for line in rows] == [3, 5, 6, 6, 10, 14, 18, 28, 28, 28]
    assert rows[2].split("|")[1].strip() == "**MaxPool**" and rows[7].split("|")[1].strip() == "**GAP**"
    assert list(tmp_path.iterdir()) == []  # prints only


def test_the_field_table_has_the_tutorials_columns() -> None:
    table = field_table(receptive_fields(nn.Sequential(nn.Conv2d(1, 2, 3))))
    assert table.splitlines()[0].count("|") == 13 and "r<sub>out</sub>" in table
