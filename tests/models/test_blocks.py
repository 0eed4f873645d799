import pytest
import torch

from mnist_design.models.blocks import Dropout


@pytest.mark.parametrize("p", [0.05, 0.3])
def test_cpu_dropout_drops_at_rate_p_and_keeps_the_mean(p: float) -> None:
    torch.manual_seed(0)
    out = Dropout(p).train()(torch.ones(400_000))
    assert (out == 0).float().mean().item() == pytest.approx(p, abs=0.003)
    assert out.mean().item() == pytest.approx(1.0, abs=0.01)
    assert out.unique().tolist() == [0.0, pytest.approx(1 / (1 - p))]


def test_cpu_dropout_masks_every_element_independently() -> None:
    # Four elements share one 64-bit draw: the four 16-bit lanes must each drop at rate p and not together.
    torch.manual_seed(1)
    dropped = Dropout(0.5).train()(torch.ones(200_000, 4)) == 0
    assert dropped.float().mean(0).tolist() == pytest.approx([0.5] * 4, abs=0.01)
    assert (dropped.all(1)).float().mean().item() == pytest.approx(0.5**4, abs=0.01)


def test_cpu_dropout_follows_the_global_seed_and_passes_gradients_through_the_mask() -> None:
    x = torch.randn(2, 3, 5, 5, requires_grad=True)
    torch.manual_seed(7)
    a = Dropout(0.2).train()(x)
    torch.manual_seed(7)
    b = Dropout(0.2).train()(x)
    assert torch.equal(a, b)
    a.sum().backward()
    assert torch.equal(x.grad, (a.detach() != 0).float() / 0.8)


def test_dropout_is_identity_in_eval() -> None:
    x = torch.randn(3, 4)
    assert torch.equal(Dropout(0.5).eval()(x), x)
