import pytest
import torch

from mnist_design.data.augment import BatchAffine, rotate


def digit_batch(n: int = 16) -> torch.Tensor:
    images = torch.zeros(n, 1, 28, 28)
    images[:, :, 6:22, 12:16] = 1.0  # a vertical bar, like a "1"
    return images


def test_keeps_shape_and_dtype_and_changes_pixels() -> None:
    torch.manual_seed(0)
    images = digit_batch()
    out = BatchAffine(degrees=7)(images)
    assert out.shape == images.shape and out.dtype == images.dtype
    change = (out - images).abs().amax(dim=(1, 2, 3))
    assert (change > 1e-3).all() and change.mean() > 0.1  # every image moved, most of them visibly


def test_each_image_gets_its_own_angle() -> None:
    torch.manual_seed(0)
    out = BatchAffine(degrees=7)(digit_batch())
    assert not torch.allclose(out[0], out[1])


def test_background_stays_background_and_ink_is_kept() -> None:
    torch.manual_seed(0)
    images = digit_batch()
    out = BatchAffine(degrees=7)(images)
    assert out[:, :, :3, :].abs().max() == 0 and out[:, :, :, :3].abs().max() == 0
    assert torch.allclose(out.sum(dim=(1, 2, 3)), images.sum(dim=(1, 2, 3)), rtol=0.05)


def test_zero_ranges_are_the_identity() -> None:
    images = digit_batch()
    assert torch.allclose(BatchAffine(degrees=0)(images), images, atol=1e-5)


def test_bad_ranges_are_refused() -> None:
    with pytest.raises(ValueError, match="degrees"):
        BatchAffine(degrees=-1)


def test_elastic_warps_each_image_differently_and_keeps_the_ink() -> None:
    torch.manual_seed(0)
    images = digit_batch()
    affine_only = BatchAffine(degrees=0)(images)
    out = BatchAffine(degrees=0, elastic_alpha=20, elastic_sigma=4)(images)
    assert not torch.allclose(out, affine_only, atol=1e-3) and not torch.allclose(out[0], out[1], atol=1e-3)
    # A non-rigid warp stretches and squeezes strokes locally, so ink is kept only roughly, per image.
    assert torch.allclose(out.sum(dim=(1, 2, 3)), images.sum(dim=(1, 2, 3)), rtol=0.25)


def test_rotate_is_exact_at_zero_and_fills_corners_with_each_images_background() -> None:
    normalised = digit_batch(4) * 3 - 0.42
    assert torch.allclose(rotate(normalised, 0.0), normalised, atol=1e-5)
    turned = rotate(normalised, 45.0)
    assert turned[:, :, 0, 0].eq(-0.42).all() and turned.amax() > 2  # corner = background, ink still there
