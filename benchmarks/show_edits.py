"""Render contact sheets of the generated media, to check by eye that they look realistic.

Writes ``bench-cache/edits.png`` (the original and every edit of one photo),
``bench-cache/degenerate.png`` (every degenerate image) and ``bench-cache/distractors.png``
(the first distractors).

Usage: ``python benchmarks/show_edits.py [PHOTO_NAME] [--seed N]``; without a name it uses
scikit-image's ``coffee`` photograph, so it runs without the Debian wallpaper packages.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import edits, photos  # noqa: E402

OUT_DIR = photos.REPO_ROOT / "bench-cache"
CELL = (420, 420)  # thumbnail box of one sheet cell, px
LABEL_H = 40


def contact_sheet(items: list[tuple[str, Image.Image]], columns: int = 4) -> Image.Image:
    """A grid of labelled thumbnails (label: name and the image's size)."""
    rows = (len(items) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * CELL[0], rows * (CELL[1] + LABEL_H)), (128, 128, 128))
    draw = ImageDraw.Draw(sheet)
    for k, (label, image) in enumerate(items):
        thumb = image.copy()
        thumb.thumbnail((CELL[0] - 8, CELL[1] - 8))
        x = (k % columns) * CELL[0]
        y = (k // columns) * (CELL[1] + LABEL_H)
        sheet.paste(thumb, (x + (CELL[0] - thumb.width) // 2, y + (CELL[1] - thumb.height) // 2))
        draw.text((x + 6, y + CELL[1] + 4), f"{label}  {image.width}x{image.height}",
                  font=edits.font(18), fill="black")
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", nargs="?", default=None, help="a photo name from load_photos")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.photo is None:
        photo = photos.load_photos(min_count=1, sources=("skimage",))[3]  # skimage-coffee
    else:
        photo = next(p for p in photos.load_photos(min_count=1) if p.name == args.photo)
    items = [(f"original {photo.name}", photo.image)]
    for name, edit in edits.EDITS.items():
        items.append((name, edit(photo.image, random.Random(f"{args.seed}:{name}"))))
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    contact_sheet(items).save(OUT_DIR / "edits.png")
    degenerate = [(name, make(random.Random(args.seed))) for name, make in
                  edits.DEGENERATE.items()]
    contact_sheet(degenerate).save(OUT_DIR / "degenerate.png")
    contact_sheet([(f"distractor {i}", edits.distractor(i)) for i in range(16)]).save(
        OUT_DIR / "distractors.png")
    print(f"wrote {OUT_DIR / 'edits.png'}, degenerate.png and distractors.png")


if __name__ == "__main__":
    main()
