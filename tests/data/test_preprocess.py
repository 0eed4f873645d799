import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.datasets import MNIST

from mnist_design.data.preprocess import NotADigit, mnist_like


@pytest.fixture(scope="module")
def digits(mnist_dir) -> torch.Tensor:
    return MNIST(str(mnist_dir), train=False).data[:20]


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(np.corrcoef(a.flatten().numpy(), b.flatten().numpy())[0, 1])


def variants(digit: np.ndarray) -> dict[str, Image.Image]:
    big = np.asarray(Image.fromarray(digit).resize((140, 140), Image.BILINEAR))
    framed = np.pad(big, ((30, 70), (90, 10)))  # off-centre, non-square canvas
    dark_on_light = 255 - framed
    rgba = np.zeros((*framed.shape, 4), dtype=np.uint8)
    rgba[..., 3] = framed  # black ink, transparent background
    return {
        "light-on-dark gray": Image.fromarray(framed),
        "dark-on-light RGB": Image.fromarray(np.stack([dark_on_light] * 3, axis=-1)),
        "black ink on transparent RGBA": Image.fromarray(rgba, mode="RGBA"),
    }


def test_variants_come_back_close_to_the_original(digits: torch.Tensor) -> None:
    for digit in digits:
        original = digit.float() / 255
        for name, image in variants(digit.numpy()).items():
            pixels = mnist_like(image)
            assert pixels.shape == (28, 28) and pixels.dtype == torch.float32, name
            assert correlation(pixels, original) > 0.85, name


def test_output_is_centred_by_mass_inside_20x20(digits: torch.Tensor) -> None:
    pixels = mnist_like(variants(digits[0].numpy())["dark-on-light RGB"])
    rows, cols = torch.nonzero(pixels > 0.2, as_tuple=True)
    assert (rows.max() - rows.min() + 1) <= 21 and (cols.max() - cols.min() + 1) <= 21
    grid = torch.arange(28, dtype=torch.float32)
    com = ((pixels.sum(1) * grid).sum() / pixels.sum(), (pixels.sum(0) * grid).sum() / pixels.sum())
    assert abs(com[0] - 14) < 1 and abs(com[1] - 14) < 1


def test_blank_image_is_not_a_digit() -> None:
    with pytest.raises(NotADigit, match="blank"):
        mnist_like(Image.new("L", (50, 50), color=255))
