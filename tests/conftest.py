"""Shared fixtures: photographs from scikit-image's bundled data, media written in code,
and a fresh ledger per test (SQLite, or PostgreSQL when PROVENANCE_TEST_PG_URL is set)."""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from provenance.ledger import Ledger

SAMPLE_MEDIA = Path(__file__).resolve().parents[1] / "sample_media"
PG_URL = os.environ.get("PROVENANCE_TEST_PG_URL")


def photo(name: str = "astronaut", scale: float = 1.0) -> Image.Image:
    """A freely licensed photograph from scikit-image's bundled data, as RGB."""
    import skimage.data

    arr = getattr(skimage.data, name)()
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    img = Image.fromarray(arr[..., :3].astype(np.uint8))
    if scale != 1.0:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
    return img


#: Where small_copy_of_a_crop's quarter lies in its large picture (x0, y0, x1, y1).
SMALL_COPY_BOX = (384, 128, 1024, 768)


def small_copy_of_a_crop() -> tuple[Image.Image, Image.Image]:
    """(a large picture, a 144-px copy of a quarter of it): too few corners at its own size to meet
    the original's; found by the second look at the index's scale (local_match.search). (At 192 px,
    since blocks under a sloped light agree, the first look verifies it through a file.)"""
    base = photo("astronaut")
    large = base.resize((base.width * 5 // 2, base.height * 5 // 2), Image.Resampling.BICUBIC)
    return large, large.crop(SMALL_COPY_BOX).resize((144, 144), Image.Resampling.LANCZOS)


def cloudy_sky(seed: int = 0, size: tuple[int, int] = (1020, 1530)) -> Image.Image:
    """A portrait photo of a cloudy sky, made in code: soft cloud shapes over a gradient, with fine
    sensor grain. Its corners at full size are mostly grain, which the index (at 640 px) never saw."""
    import cv2

    rng = np.random.default_rng(seed)
    w, h = size
    gray = np.linspace(150, 210, h, dtype=np.float32)[:, None] + rng.normal(0, 4.0, (h, w))
    for octave in range(2, 9):
        n = 2 ** octave
        field = rng.normal(0, 1, (max(2, n * h // w), n)).astype(np.float32)
        gray += cv2.resize(field, (w, h), interpolation=cv2.INTER_CUBIC) * (60.0 / 1.6 ** octave)
    rgb = np.stack([gray * 0.8, gray * 0.9, gray * 1.05], axis=-1)
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


def jpeg_bytes(img: Image.Image, quality: int = 90, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, **kw)
    return buf.getvalue()


def save(img: Image.Image, path: Path, quality: int = 90) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        img.save(path, "JPEG", quality=quality)
    else:
        img.save(path)
    return path


@pytest.fixture
def ledger(tmp_path) -> Ledger:
    """An empty SQLite ledger in a temporary folder."""
    with Ledger(tmp_path / "ledger.db") as led:
        yield led


def _pg_database() -> str:
    """A fresh PostgreSQL database on the test server; its URL."""
    import psycopg

    name = "prov_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_URL.rsplit("/", 1)[0] + "/" + name


BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path) -> str:
    """A ledger location for every backend under test (PostgreSQL when the server is there)."""
    if request.param == "sqlite":
        return str(tmp_path / "ledger.db")
    return _pg_database()
