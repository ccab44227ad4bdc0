"""The cells of a collage: found along its gutters, never made up in a single picture or a page."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFilter

from provenance.collage import MAX_CELLS, collage_cells

from .conftest import jpeg_bytes, photo
from .test_framing import _phone_post

NAMES = ("astronaut", "coffee", "chelsea", "rocket", "camera", "immunohistochemistry", "clock", "retina", "coins")


def grid(names, columns: int, cell=(400, 300), gutter: int = 4, colour=(255, 255, 255)) -> tuple[Image.Image, list]:
    """A collage of the named photographs in rows of `columns`, each resized to `cell`; and each
    picture's box, in the order given."""
    rows = -(-len(names) // columns)
    width, height = cell
    out = Image.new("RGB", (columns * width + (columns - 1) * gutter, rows * height + (rows - 1) * gutter), colour)
    boxes = []
    for i, name in enumerate(names):
        x, y = (i % columns) * (width + gutter), (i // columns) * (height + gutter)
        out.paste(photo(name).resize(cell, Image.Resampling.LANCZOS), (x, y))
        boxes.append((x, y, x + width, y + height))
    return out, boxes


def _assert_cells(cells, boxes, tolerance: float) -> None:
    assert len(cells) == len(boxes), ([c.box for c in cells], boxes)
    for box in boxes:
        assert any(all(abs(a - b) <= tolerance for a, b in zip(c.box, box)) for c in cells), (box, cells)


@pytest.mark.parametrize("colour", [(255, 255, 255), (0, 0, 0), (240, 240, 235)])
@pytest.mark.parametrize("columns, count", [(2, 4), (3, 9), (2, 2), (1, 2)])
def test_the_pictures_of_a_grid_are_found(columns, count, colour):
    """2x2 and 3x3 grids, side by side and one above the other, after a JPEG round trip."""
    collage, boxes = grid(NAMES[:count], columns, colour=colour)
    collage = Image.open(io.BytesIO(jpeg_bytes(collage, 80)))
    _assert_cells(collage_cells(collage), boxes, tolerance=3)


@pytest.mark.parametrize("columns, count", [(2, 4), (3, 9)])
def test_the_pictures_of_a_grid_without_gutters_are_found(columns, count):
    """Pictures set edge to edge: the grid is cut along its seams, rows and columns, after a JPEG
    round trip (each seam's blended line is left out of both cells)."""
    collage, boxes = grid(NAMES[:count], columns, gutter=0)
    collage = Image.open(io.BytesIO(jpeg_bytes(collage, 80)))
    _assert_cells(collage_cells(collage), boxes, tolerance=4)


def test_seams_one_way_make_no_grid():
    """Two pictures stacked edge to edge (a seam across, none down) and a photograph over a blurred
    copy of itself (a letterbox of its own blur): no grid is made up of a single seam."""
    stacked, _ = grid(["coffee", "chelsea"], 1, gutter=0)
    picture = photo("rocket")
    blurred = picture.resize((picture.width, picture.height + 240)).filter(ImageFilter.GaussianBlur(12))
    blurred.paste(picture, (0, 120))
    for image in (stacked, blurred):
        assert collage_cells(image) == []


@pytest.mark.parametrize("square", [40, 100])
def test_a_checkerboard_is_no_grid(square):
    """A checkerboard breaks off along every row and column of its squares: a pattern, not a grid
    of pictures set edge to edge."""
    y, x = np.mgrid[0:600, 0:800]
    dark = ((x // square + y // square) % 2).astype(bool)[..., None]
    board = Image.fromarray(np.where(dark, np.uint8([20, 20, 20]), np.uint8([230, 230, 230])))
    assert collage_cells(board) == []


def test_a_layout_cut_again_and_again_is_found():
    """One large picture on the left, two stacked on the right: the gutters of the right-hand part
    do not run across the whole collage."""
    left, right_top, right_bottom = (photo(n) for n in ("astronaut", "coffee", "rocket"))
    collage = Image.new("RGB", (806, 606), (0, 0, 0))
    collage.paste(left.resize((400, 606)), (0, 0))
    collage.paste(right_top.resize((400, 300)), (406, 0))
    collage.paste(right_bottom.resize((400, 300)), (406, 306))
    _assert_cells(collage_cells(collage), [(0, 0, 400, 606), (406, 0, 806, 300), (406, 306, 806, 606)], 3)


def test_a_flat_cell_is_no_picture():
    """A grid whose one cell is an empty placeholder: the three pictures only."""
    collage, boxes = grid(NAMES[:4], 2)
    collage.paste((200, 200, 200), boxes[3])
    _assert_cells(collage_cells(collage), boxes[:3], tolerance=3)


@pytest.mark.parametrize("name", NAMES + ("hubble_deep_field", "moon", "grass", "brick"))
def test_a_plain_photograph_is_no_collage(name):
    """The Hubble deep field has flat rows and columns of night sky between its galaxies."""
    assert collage_cells(photo(name)) == []


def test_bars_pages_and_screenshots_are_no_collage():
    """A letterboxed picture (its bars touch the edges), a framed border, a phone screenshot of a
    post, a picture with a caption banner, flat grey."""
    picture = photo("coffee")
    letterbox = Image.new("RGB", (picture.width, picture.height + 200), (0, 0, 0))
    letterbox.paste(picture, (0, 100))
    border = Image.new("RGB", (picture.width + 40, picture.height + 40), (255, 255, 255))
    border.paste(picture, (20, 20))
    post, _ = _phone_post(picture)
    banner = Image.new("RGB", (picture.width, picture.height + 120), (200, 20, 30))
    banner.paste(picture, (0, 120))
    flat = Image.new("RGB", (800, 600), (128, 128, 128))
    for image in (letterbox, border, post, banner, flat):
        assert collage_cells(image) == []


@settings(max_examples=40, deadline=None)
@given(width=st.integers(1, 400), height=st.integers(1, 400), seed=st.integers(0, 1000),
       mode=st.sampled_from(["RGB", "L", "RGBA", "P"]), stripes=st.integers(0, 3))
def test_any_image_gives_separate_cells_inside_it(width, height, seed, mode, stripes):
    """Random blocks, crossed by a few flat lines (gutter-like): the cells lie inside the image and
    do not overlap, at most MAX_CELLS of them."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (max(1, height // 16), max(1, width // 16), 3), dtype=np.uint8)
    arr = np.asarray(Image.fromarray(blocks).resize((width, height), Image.Resampling.NEAREST)).copy()
    for _ in range(stripes):
        if rng.random() < 0.5:
            y = int(rng.integers(0, height))
            arr[y:y + 3] = 255
        else:
            x = int(rng.integers(0, width))
            arr[:, x:x + 3] = 255
    cells = collage_cells(Image.fromarray(arr).convert(mode))
    assert len(cells) <= MAX_CELLS
    for cell in cells:
        assert 0 <= cell.left < cell.right <= width and 0 <= cell.top < cell.bottom <= height
    for i, a in enumerate(cells):
        for b in cells[i + 1:]:
            assert min(a.right, b.right) <= max(a.left, b.left) or min(a.bottom, b.bottom) <= max(a.top, b.top)
