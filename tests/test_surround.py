"""surround.py: a picture found whole inside a larger one is framed there, or was cut out of it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from provenance import local_features
from provenance.surround import flat_share, surround

from .conftest import photo


def rect(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def verdict(later: Image.Image, quad) -> str | None:
    return surround(local_features.extract(later), quad, later.size)


@pytest.mark.parametrize("name", ["rocket", "astronaut", "camera"])
@pytest.mark.parametrize("colours", [((20, 30, 80), "white"), ((10, 10, 10), "white"), ((255, 255, 255), "black")])
def test_a_caption_banner_under_a_picture_is_a_frame(name, colours):
    """The gradient across a dark banner under a dark picture edge shows no border; the banner's
    flat background still tells it from the rest of a photograph."""
    img = photo(name)
    w, h = img.size
    banner = Image.new("RGB", (w, h + h // 5), colours[0])
    banner.paste(img, (0, 0))
    ImageDraw.Draw(banner).text((10, h + 10), "Square market before light evening", fill=colours[1],
                                font_size=h // 16)
    assert verdict(banner, rect(0, 0, w, h)) == "frame"


@pytest.mark.parametrize("name", ["rocket", "astronaut", "camera", "clock"])
@pytest.mark.parametrize("box", [(0.15, 0.15, 0.85, 0.85), (0, 0, 1, 0.8), (0, 0.4, 0.6, 1)])
def test_a_crop_is_not_called_a_frame(name, box):
    img = photo(name)
    w, h = img.size
    quad = rect(box[0] * w, box[1] * h, box[2] * w, box[3] * h)
    assert verdict(img, quad) == "crop"


def test_flat_share():
    assert flat_share(np.full(50, 7)) == 1.0
    assert flat_share(np.arange(256)) == pytest.approx(13 / 256)
    assert flat_share(np.array([], dtype=np.uint8)) == 0.0
