"""Frame or crop? The verdicts of provenance/surround.py on pictures built from nine photographs.

For each scikit-image photograph (freely licensed, bundled with the package) this builds crops of
it (central 50 %, 70 %, 85 %, an off-centre 60 % and the top 80 %) and framings of it (a caption
banner below it and a social-media-like frame around it, each white, navy and black with text),
then asks `surround()` about the earlier picture's place inside the later one and prints, for each
case, the verdict and the flat shares of the surround and of the picture (surround.flat_share).
Crops must never be called "frame" and framings never "crop"; "None" (undecided) leaves the
chain to the dates.

    python benchmarks/surround_cases.py
"""

from __future__ import annotations

import cv2
import numpy as np
import skimage.data
from PIL import Image, ImageDraw

from provenance import local_features
from provenance.surround import flat_share, surround

PHOTOS = [("coffee", 1), ("chelsea", 1), ("astronaut", 1), ("rocket", 1), ("immunohistochemistry", 1),
          ("camera", 1), ("hubble_deep_field", 0.6), ("coins", 1), ("clock", 1)]
FRAME_COLOURS = [((255, 255, 255), (0, 0, 0)), ((20, 30, 80), (255, 255, 255)), ((10, 10, 10), (255, 255, 255))]


def photo(name: str, scale: float) -> Image.Image:
    arr = getattr(skimage.data, name)()
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, -1)
    img = Image.fromarray(arr[..., :3].astype(np.uint8))
    return img if scale == 1 else img.resize((round(img.width * scale), round(img.height * scale)))


def rect(x0: int, y0: int, x1: int, y1: int) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def judge(later: Image.Image, quad: list[list[float]]) -> tuple[str | None, float, float]:
    """The verdict, and the flat shares of the surround and of the picture in the template."""
    feats = local_features.extract(later)
    t = feats.template
    th, tw = t.shape
    corners = np.round(np.asarray(quad, np.float32) * [tw / later.width, th / later.height]).astype(np.int32)
    mask = np.zeros((th, tw), np.uint8)
    cv2.fillPoly(mask, [corners], 1)
    band = np.ones((5, 5), np.uint8)
    around = flat_share(t[~cv2.dilate(mask, band).astype(bool)])
    inside = flat_share(t[cv2.erode(mask, band).astype(bool)])
    return surround(feats, quad, later.size), around, inside


def cases(img: Image.Image):
    """(kind, name, later picture, quad of the earlier picture inside it)."""
    w, h = img.size
    for share in (0.5, 0.7, 0.85):
        cw, ch = int(w * share), int(h * share)
        x0, y0 = (w - cw) // 2, (h - ch) // 2
        yield "crop", f"central {share:.0%}", img, rect(x0, y0, x0 + cw, y0 + ch)
    yield "crop", "off-centre 60%", img, rect(0, h - int(h * .6), int(w * .6), h)
    yield "crop", "top 80%", img, rect(0, 0, w, int(h * .8))
    size = max(12, int(h * .05))
    for bg, fg in FRAME_COLOURS:
        banner = Image.new("RGB", (w, h + int(h * .18)), bg)
        banner.paste(img, (0, 0))
        draw = ImageDraw.Draw(banner)
        draw.text((10, h + 10), "Farm today over quiet market", fill=fg, font_size=size)
        draw.text((10, h + 10 + int(h * .07)), "Square market before light evening", fill=fg, font_size=size)
        yield "frame", f"banner {bg}", banner, rect(0, 0, w, h)
        post = Image.new("RGB", (int(w * 1.2), int(h * 1.6)), bg)
        post.paste(img, (int(w * .1), int(h * .3)))
        ImageDraw.Draw(post).text((10, 10), "@someone · 3h", fill=fg, font_size=size)
        yield "frame", f"post {bg}", post, rect(int(w * .1), int(h * .3), int(w * .1) + w, int(h * .3) + h)


def main() -> None:
    wrong = {"crop": 0, "frame": 0}
    undecided = {"crop": 0, "frame": 0}
    for name, scale in PHOTOS:
        for kind, label, later, quad in cases(photo(name, scale)):
            verdict, around, inside = judge(later, quad)
            wrong[kind] += verdict is not None and verdict != kind
            undecided[kind] += verdict is None
            print(f"{name:22s} {kind:5s} {label:22s} verdict={verdict!s:5s} surround flat {around:.2f} "
                  f"picture flat {inside:.2f}")
    for kind in ("crop", "frame"):
        print(f"{kind}s: {wrong[kind]} judged the other way, {undecided[kind]} undecided")


if __name__ == "__main__":
    main()
