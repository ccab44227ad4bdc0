"""Realistic re-publications of a picture, and images that must never match one.

Why: the matcher is judged on how pictures are really re-published — re-encoded, resized,
cropped, stamped with an outlet's logo, captioned, framed in a social-media screenshot,
letterboxed, mirrored, colour-graded, straightened, collaged, photographed off a screen — and on
staying silent for images that carry no picture at all (flat colours, gradients, text pages, UI
screenshots). Everything is generated, offline and deterministic: each function takes a
``random.Random`` and draws every choice from it, so one seed gives the same bytes every run
(on the same Pillow/OpenCV/libjpeg and fonts).

Public API
----------
``EDITS``: name -> ``edit(img, rng) -> PIL.Image`` (RGB). ``collage_half`` also takes an optional
third argument ``other`` (the unrelated picture it is paired with; a generated scene by default).
``DEGENERATE``: name -> ``make(rng) -> PIL.Image`` (RGB), images that must match no photo.
``distractor(i) -> PIL.Image``: the i-th cheap generated 800x600 image for padding an index.

Text is drawn with DejaVu Sans when installed (Debian fonts-dejavu-core), else with Pillow's
built-in scalable font (Pillow >= 10.1).
"""

from __future__ import annotations

import io
import math
import random
from functools import lru_cache
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

# ==============================================================================================
# Shared helpers: fonts, words, JPEG, colours
# ==============================================================================================

_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")


@lru_cache(maxsize=256)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """A scalable font of ``size`` px: DejaVu Sans (Bold) if present, else Pillow's own."""
    size = max(6, int(size))
    path = _DEJAVU / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    if path.exists():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


# A neutral vocabulary for captions, posts and pages (no politics, no violence).
_WORDS = (
    "morning market river city garden festival weather coast train bridge museum harvest "
    "school library concert season photo local report update council park lake mountain "
    "forest coffee street evening sunrise travel bakery village island harbour spring summer "
    "autumn winter rain snow cloud light colour view walk road farm field flower tree bird "
    "water boat station square design studio craft recipe kitchen family weekend today new "
    "open week visitors team local opens returns shows brings looks under over near through "
    "after before first best quiet bright calm green blue golden old small big long"
).split()

# Fictional outlet names for logos and banners (invented, not real brands).
_OUTLETS = (
    "DEMO NEWS", "Kestrel 24", "Northwind", "Harbor TV", "LUMEN", "Orbit Daily", "Pine Post",
    "Quartz", "Meridian", "Tidal", "NOVA 9", "Bluebird", "Ridge", "Cobalt", "DEMO AGENCY",
    "Lantern", "Zephyr", "Atlas Now",
)

_LOGO_COLOURS = (
    (200, 30, 40), (20, 90, 180), (235, 130, 20), (30, 140, 80), (120, 50, 150),
    (0, 130, 140), (210, 20, 110), (40, 40, 40), (250, 200, 30),
)


def words(rng: random.Random, n: int, capitalise: bool = True) -> str:
    """``n`` neutral words as a sentence-like string."""
    text = " ".join(rng.choice(_WORDS) for _ in range(n))
    return text[:1].upper() + text[1:] if capitalise else text


def jpeg(img: Image.Image, quality: int, subsampling: int = 2) -> Image.Image:
    """Round-trip through JPEG at ``quality`` (subsampling 2 = 4:2:0, as most encoders do)."""
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=int(quality), subsampling=subsampling)
    buf.seek(0)
    with Image.open(buf) as out:
        return out.convert("RGB")


def _np_rng(rng: random.Random) -> np.random.Generator:
    """A numpy generator seeded from ``rng`` (so numpy noise is deterministic too)."""
    return np.random.default_rng(rng.getrandbits(64))


def _text_width(text: str, fnt: ImageFont.FreeTypeFont) -> float:
    return fnt.getlength(text)


def _fit_font(text: str, max_width: float, size: int, bold: bool = False, min_size: int = 8):
    """The largest font <= size in which ``text`` fits ``max_width``."""
    while size > min_size and _text_width(text, font(size, bold)) > max_width:
        size = max(min_size, int(size * 0.9))
    return font(size, bold)


def _wrap(text: str, fnt: ImageFont.FreeTypeFont, max_width: float) -> list[str]:
    """Greedy word wrap."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if current and _text_width(trial, fnt) > max_width:
            lines.append(current)
            current = word
        else:
            current = trial
    if current:
        lines.append(current)
    return lines


def _resize_long(img: Image.Image, long_side: int) -> Image.Image:
    """Resize so the longer side is ``long_side`` (up or down)."""
    scale = long_side / max(img.size)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, Image.LANCZOS)


def _cover(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale and centre-crop ``img`` to fill ``size`` exactly."""
    return ImageOps.fit(img.convert("RGB"), size, Image.LANCZOS)


# ==============================================================================================
# Building blocks of the edits: crops, logos
# ==============================================================================================


def crop_fraction(img: Image.Image, rng: random.Random, area: float) -> Image.Image:
    """A random crop keeping ``area`` of the pixels, its aspect within +-15% of the original's."""
    w, h = img.size
    aspect_jitter = rng.uniform(0.85, 1.15)
    cw = w * math.sqrt(area * aspect_jitter)
    ch = h * math.sqrt(area / aspect_jitter)
    # Keep the area when one side would overflow the picture.
    if cw > w:
        cw, ch = w, w * h * area / w
    if ch > h:
        ch, cw = h, w * h * area / h
    cw, ch = max(1, int(round(cw))), max(1, int(round(ch)))
    left = rng.randint(0, w - cw)
    top = rng.randint(0, h - ch)
    return img.crop((left, top, left + cw, top + ch))


def make_logo(rng: random.Random, width: int) -> Image.Image:
    """An outlet-style RGBA logo ``width`` px wide: a coloured shape plus the outlet's name."""
    name = rng.choice(_OUTLETS)
    colour = rng.choice(_LOGO_COLOURS)
    style = rng.choice(("box", "badge", "tag"))
    width = max(40, int(width))
    height = max(16, int(width * rng.uniform(0.28, 0.42)))
    logo = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(logo)
    if style == "box":  # a filled rounded box with the name in white
        draw.rounded_rectangle((0, 0, width - 1, height - 1), radius=height // 5, fill=colour)
        fnt = _fit_font(name, width * 0.86, int(height * 0.6), bold=True)
        ink = "white" if sum(colour) < 450 else (20, 20, 20)  # dark text on yellow
        draw.text((width / 2, height / 2), name, font=fnt, fill=ink, anchor="mm")
    elif style == "badge":  # a disc with an initial, the name beside it
        d = height
        draw.ellipse((0, 0, d - 1, d - 1), fill=colour)
        initial = name.replace("DEMO ", "")[0]
        draw.text((d / 2, d / 2), initial, font=font(int(d * 0.6), True), fill="white",
                  anchor="mm")
        fnt = _fit_font(name, width - d * 1.15, int(height * 0.55), bold=True)
        x = d * 1.12
        # A dark outline keeps white text readable on any background.
        draw.text((x, height / 2), name, font=fnt, fill="white", anchor="lm",
                  stroke_width=max(1, height // 14), stroke_fill=(0, 0, 0, 200))
    else:  # "tag": a colour bar on the left of a white plate with the name in the colour
        bar = max(4, width // 12)
        draw.rectangle((0, 0, width - 1, height - 1), fill=(255, 255, 255, 235))
        draw.rectangle((0, 0, bar, height - 1), fill=colour)
        fnt = _fit_font(name, width - bar * 2.2, int(height * 0.6), bold=True)
        draw.text((bar * 1.6, height / 2), name, font=fnt, fill=colour, anchor="lm")
    return logo


def stamp_logo(img: Image.Image, rng: random.Random) -> Image.Image:
    """Put an outlet logo (8-15% of the width) in a random corner, opaque or semi-opaque."""
    out = img.convert("RGBA")
    logo = make_logo(rng, img.width * rng.uniform(0.08, 0.15))
    if rng.random() < 0.5:
        alpha = rng.uniform(0.55, 0.9)
        logo.putalpha(logo.getchannel("A").point(lambda a: int(a * alpha)))
    margin = int(img.width * rng.uniform(0.015, 0.04))
    corner = rng.choice(("tl", "tr", "bl", "br"))
    x = margin if corner[1] == "l" else img.width - logo.width - margin
    y = margin if corner[0] == "t" else img.height - logo.height - margin
    out.alpha_composite(logo, (max(0, x), max(0, y)))
    return out.convert("RGB")


# ==============================================================================================
# Social-media UI drawing (shared by social_screenshot and the degenerate screenshots)
# ==============================================================================================

_THEMES = {
    "light": dict(bg=(255, 255, 255), text=(15, 20, 25), muted=(83, 100, 113),
                  line=(230, 236, 240), bar=(255, 255, 255)),
    "dark": dict(bg=(0, 0, 0), text=(231, 233, 234), muted=(113, 118, 123),
                 line=(47, 51, 54), bar=(10, 10, 10)),
    "dim": dict(bg=(21, 32, 43), text=(247, 249, 249), muted=(139, 152, 165),
                line=(56, 68, 77), bar=(21, 32, 43)),
}


def _status_bar(draw: ImageDraw.ImageDraw, w: int, s: float, th: dict, rng: random.Random) -> int:
    """Phone status bar (clock, signal, battery); returns its height."""
    h = int(64 * s)
    clock = f"{rng.randint(7, 22)}:{rng.randint(0, 59):02d}"
    draw.text((int(48 * s), h // 2), clock, font=font(int(30 * s), True), fill=th["text"],
              anchor="lm")
    x = w - int(48 * s)
    bw, bh = int(52 * s), int(24 * s)  # battery
    draw.rounded_rectangle((x - bw, h // 2 - bh // 2, x, h // 2 + bh // 2), radius=int(5 * s),
                           outline=th["text"], width=max(1, int(2 * s)))
    level = rng.uniform(0.2, 0.95)
    draw.rectangle((x - bw + int(4 * s), h // 2 - bh // 2 + int(4 * s),
                    x - bw + int(4 * s) + int((bw - 8 * s) * level), h // 2 + bh // 2 - int(4 * s)),
                   fill=th["text"])
    x -= bw + int(24 * s)
    for i in range(4):  # signal bars
        bar_h = int((8 + 5 * i) * s)
        draw.rectangle((x - int((4 - i) * 10 * s), h // 2 + int(11 * s) - bar_h,
                        x - int((4 - i) * 10 * s) + int(6 * s), h // 2 + int(11 * s)),
                       fill=th["text"])
    return h


def _app_bar(draw: ImageDraw.ImageDraw, y: int, w: int, s: float, th: dict,
             rng: random.Random) -> int:
    """App header (back arrow and title); returns the y below it."""
    h = int(110 * s)
    cy = y + h // 2
    x = int(48 * s)
    draw.line((x, cy, x + int(36 * s), cy), fill=th["text"], width=max(2, int(4 * s)))
    draw.line((x, cy, x + int(16 * s), cy - int(16 * s)), fill=th["text"], width=max(2, int(4 * s)))
    draw.line((x, cy, x + int(16 * s), cy + int(16 * s)), fill=th["text"], width=max(2, int(4 * s)))
    title = rng.choice(("Post", "Thread", "Home", "For you"))
    draw.text((x + int(90 * s), cy), title, font=font(int(40 * s), True), fill=th["text"],
              anchor="lm")
    draw.line((0, y + h - 1, w, y + h - 1), fill=th["line"], width=max(1, int(2 * s)))
    return y + h


def _post_header(draw: ImageDraw.ImageDraw, y: int, w: int, s: float, th: dict,
                 rng: random.Random) -> int:
    """Round avatar, display name, handle and age of the post; returns the y below it."""
    pad = int(36 * s)
    d = int(96 * s)
    colour = tuple(rng.randint(40, 220) for _ in range(3))
    draw.ellipse((pad, y, pad + d, y + d), fill=colour)
    first, last = rng.choice(_WORDS).title(), rng.choice(_WORDS).title()
    draw.text((pad + d // 2, y + d // 2), first[0] + last[0], font=font(int(d * 0.4), True),
              fill="white", anchor="mm")
    x = pad + d + int(24 * s)
    draw.text((x, y + int(8 * s)), f"{first} {last}", font=font(int(36 * s), True),
              fill=th["text"], anchor="lt")
    handle = f"@{first.lower()}_{last.lower()}{rng.randint(1, 99)} · {rng.randint(1, 23)}h"
    draw.text((x, y + int(56 * s)), handle, font=font(int(32 * s)), fill=th["muted"], anchor="lt")
    dots_x = w - pad - int(30 * s)
    for i in range(3):
        cx = dots_x + i * int(12 * s)
        r = max(1, int(3 * s))
        draw.ellipse((cx - r, y + int(30 * s) - r, cx + r, y + int(30 * s) + r), fill=th["muted"])
    return y + d + int(20 * s)


def _post_text(draw: ImageDraw.ImageDraw, y: int, w: int, s: float, th: dict,
               rng: random.Random, lines: int) -> int:
    """``lines`` lines of post text; returns the y below them."""
    pad = int(36 * s)
    fnt = font(int(36 * s))
    text = words(rng, lines * 9)
    wrapped = _wrap(text, fnt, w - 2 * pad)[:lines]
    step = int(48 * s)
    for line in wrapped:
        draw.text((pad, y), line, font=fnt, fill=th["text"], anchor="lt")
        y += step
    return y + int(16 * s)


def _heart(draw: ImageDraw.ImageDraw, cx: int, cy: int, r: int, colour, width: int) -> None:
    """A heart outline (the classic parametric curve) of radius ~r around (cx, cy)."""
    points = []
    for k in range(48):
        t = 2 * math.pi * k / 48
        x = 16 * math.sin(t) ** 3
        y = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
        points.append((cx + x * r / 16, cy - y * r / 16))
    draw.polygon(points, outline=colour, width=width)


def _actions(draw: ImageDraw.ImageDraw, y: int, w: int, s: float, th: dict,
             rng: random.Random) -> int:
    """Reply, repost, like and share buttons with counts; returns the y below them."""
    pad = int(36 * s)
    h = int(80 * s)
    cy = y + h // 2
    col = th["muted"]
    lw = max(1, int(3 * s))
    r = int(16 * s)
    step = (w - 2 * pad) / 4
    fnt = font(int(28 * s))
    for i in range(4):
        x = int(pad + i * step + r)
        if i == 0:  # reply bubble
            draw.rounded_rectangle((x - r, cy - r, x + r, cy + int(r * 0.7)), radius=r // 2,
                                   outline=col, width=lw)
        elif i == 1:  # repost arrows
            draw.rectangle((x - r, cy - r // 2, x + r, cy + r // 2), outline=col, width=lw)
            draw.polygon(((x + r - r // 2, cy - r), (x + r + r // 2, cy - r // 2),
                          (x + r - r // 2, cy)), fill=col)
        elif i == 2:  # like
            _heart(draw, x, cy, r, col, lw)
        else:  # share
            draw.line((x, cy + r, x, cy - r), fill=col, width=lw)
            draw.line((x, cy - r, x - r // 2, cy - r // 2), fill=col, width=lw)
            draw.line((x, cy - r, x + r // 2, cy - r // 2), fill=col, width=lw)
        if i < 3:
            count = rng.choice((str(rng.randint(1, 999)), f"{rng.uniform(1, 99):.1f}K"))
            draw.text((x + r + int(14 * s), cy), count, font=fnt, fill=col, anchor="lm")
    draw.line((0, y + h + int(8 * s), w, y + h + int(8 * s)), fill=th["line"],
              width=max(1, int(2 * s)))
    return y + h + int(24 * s)


def _nav_bar(draw: ImageDraw.ImageDraw, w: int, h: int, s: float, th: dict) -> int:
    """Bottom navigation (home, search, bell, mail) and home indicator; returns its top y."""
    bar_h = int(150 * s)
    top = h - bar_h
    draw.rectangle((0, top, w, h), fill=th["bar"])
    draw.line((0, top, w, top), fill=th["line"], width=max(1, int(2 * s)))
    col = th["text"]
    lw = max(1, int(3 * s))
    r = int(22 * s)
    cy = top + int(55 * s)
    for i in range(4):
        cx = int(w * (i + 0.5) / 4)
        if i == 0:
            draw.polygon(((cx - r, cy), (cx, cy - r), (cx + r, cy)), outline=col, width=lw)
            draw.rectangle((cx - int(r * 0.7), cy, cx + int(r * 0.7), cy + r), outline=col,
                           width=lw)
        elif i == 1:
            draw.ellipse((cx - r, cy - r, cx + int(r * 0.5), cy + int(r * 0.5)), outline=col,
                         width=lw)
            draw.line((cx + int(r * 0.4), cy + int(r * 0.4), cx + r, cy + r), fill=col, width=lw)
        elif i == 2:
            draw.pieslice((cx - r, cy - r, cx + r, cy + r), 180, 360, outline=col, width=lw)
            draw.rectangle((cx - r, cy, cx + r, cy + int(r * 0.5)), outline=col, width=lw)
        else:
            draw.rectangle((cx - r, cy - int(r * 0.7), cx + r, cy + int(r * 0.7)), outline=col,
                           width=lw)
            draw.line((cx - r, cy - int(r * 0.7), cx, cy), fill=col, width=lw)
            draw.line((cx + r, cy - int(r * 0.7), cx, cy), fill=col, width=lw)
    pill_w = int(w * 0.35)
    draw.rounded_rectangle(((w - pill_w) // 2, h - int(28 * s), (w + pill_w) // 2, h - int(18 * s)),
                           radius=int(5 * s), fill=col)
    return top


def _phone_canvas(rng: random.Random) -> tuple[Image.Image, float, dict]:
    """A blank phone screenshot canvas: ~1080 or ~720 px wide, 18:9 to 19.5:9, a theme."""
    w = rng.choice((1080, 720))
    h = int(w * rng.uniform(2.0, 2.17))
    th = _THEMES[rng.choice(("light", "light", "dark", "dim"))]
    return Image.new("RGB", (w, h), th["bg"]), w / 1080, th


# ==============================================================================================
# The edits
# ==============================================================================================


def recompress_q30(img: Image.Image, rng: random.Random) -> Image.Image:
    """JPEG at quality 30."""
    return jpeg(img, 30)


def resize_40(img: Image.Image, rng: random.Random) -> Image.Image:
    """Downscale to 40% per side with a resampling filter a CMS might use."""
    size = (max(1, round(img.width * 0.4)), max(1, round(img.height * 0.4)))
    return img.convert("RGB").resize(size, rng.choice((Image.BILINEAR, Image.BICUBIC,
                                                       Image.LANCZOS)))


def crop_80(img: Image.Image, rng: random.Random) -> Image.Image:
    """Keep 80% of the area, at a random position and an aspect near the original's."""
    return crop_fraction(img.convert("RGB"), rng, 0.80)


def crop_50(img: Image.Image, rng: random.Random) -> Image.Image:
    """Keep 50% of the area, at a random position and an aspect near the original's."""
    return crop_fraction(img.convert("RGB"), rng, 0.50)


def logo_corner(img: Image.Image, rng: random.Random) -> Image.Image:
    """An outlet logo (coloured shape and name, 8-15% of the width) in a random corner."""
    return stamp_logo(img.convert("RGB"), rng)


def caption_banner(img: Image.Image, rng: random.Random) -> Image.Image:
    """A solid band (12-25% of the height) with 1-2 lines of headline above or below."""
    img = img.convert("RGB")
    band_h = max(24, int(img.height * rng.uniform(0.12, 0.25)))
    bg, fg = rng.choice((((0, 0, 0), (255, 255, 255)), ((255, 255, 255), (0, 0, 0)),
                         ((190, 20, 30), (255, 255, 255)), ((15, 35, 80), (255, 255, 255)),
                         ((250, 210, 40), (20, 20, 20))))
    lines = rng.choice((1, 2))
    out = Image.new("RGB", (img.width, img.height + band_h), bg)
    top = rng.random() < 0.5
    out.paste(img, (0, band_h if top else 0))
    draw = ImageDraw.Draw(out)
    y0 = 0 if top else img.height
    margin = int(img.width * 0.04)
    size = int(band_h / (lines * 1.5 + 0.3))
    text_lines = [words(rng, rng.randint(4, 7)) for _ in range(lines)]
    fnt = font(size, bold=True)
    for line in text_lines:  # one size for all lines, small enough for the longest
        fnt = min(fnt, _fit_font(line, img.width - 2 * margin, size, True), key=lambda f: f.size)
    step = fnt.size * 1.3
    y = y0 + (band_h - step * lines) / 2 + step / 2
    centred = rng.random() < 0.5
    for line in text_lines:
        if centred:
            draw.text((img.width / 2, y), line, font=fnt, fill=fg, anchor="mm")
        else:
            draw.text((margin, y), line, font=fnt, fill=fg, anchor="lm")
        y += step
    return out


def social_screenshot(img: Image.Image, rng: random.Random) -> Image.Image:
    """The picture in a phone screenshot of a social-media post (light, dark or dim theme).

    Status bar, app bar, round avatar and name, 2-4 lines of text, the picture at ~85% of the
    ~1080 or ~720 px wide canvas (less if it would be taller than ~half the screen), action
    buttons, the top of the next post and the navigation bar.
    """
    canvas, s, th = _phone_canvas(rng)
    w, h = canvas.size
    draw = ImageDraw.Draw(canvas)
    y = _status_bar(draw, w, s, th, rng)
    y = _app_bar(draw, y, w, s, th, rng)
    y = _post_header(draw, y + int(28 * s), w, s, th, rng)
    y = _post_text(draw, y, w, s, th, rng, rng.randint(2, 4))
    pic_w = int(w * rng.uniform(0.83, 0.88))
    pic_h = round(pic_w * img.height / img.width)
    max_h = int(h * 0.5)
    if pic_h > max_h:
        pic_w, pic_h = round(pic_w * max_h / pic_h), max_h
    pic = img.convert("RGB").resize((pic_w, pic_h), Image.LANCZOS)
    mask = Image.new("L", pic.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, pic_w - 1, pic_h - 1), radius=int(24 * s),
                                           fill=255)
    x = (w - pic_w) // 2
    canvas.paste(pic, (x, y), mask)
    draw.rounded_rectangle((x, y, x + pic_w - 1, y + pic_h - 1), radius=int(24 * s),
                           outline=th["line"], width=max(1, int(2 * s)))
    y = _actions(draw, y + pic_h + int(12 * s), w, s, th, rng)
    nav_top = h - int(150 * s)
    while y + int(150 * s) < nav_top:  # the next text posts, the last one cut off
        y = _post_header(draw, y + int(28 * s), w, s, th, rng)
        y = _post_text(draw, y, w, s, th, rng, rng.randint(1, 4))
        y = _actions(draw, y, w, s, th, rng)
    _nav_bar(draw, w, h, s, th)  # drawn last: it covers whatever runs under it
    return canvas


def letterbox(img: Image.Image, rng: random.Random) -> Image.Image:
    """Pad to another aspect ratio (story, square or widescreen) with black or blurred bars."""
    img = img.convert("RGB")
    aspect = img.width / img.height
    if aspect >= 1.15:  # landscape -> square, 4:5 or 9:16 with bars above and below
        target = rng.choice((1.0, 4 / 5, 9 / 16))
    elif aspect <= 0.87:  # portrait -> 16:9 or square with bars left and right
        target = rng.choice((16 / 9, 1.0))
    else:  # about square -> widescreen or story
        target = rng.choice((16 / 9, 9 / 16))
    if target < aspect:
        size = (img.width, round(img.width / target))
    else:
        size = (round(img.height * target), img.height)
    if rng.random() < 0.5:
        canvas = Image.new("RGB", size, (0, 0, 0))
    else:  # blurred, darkened, enlarged copy of the picture behind it
        # Cover-crop and blur at 1/8 size, then enlarge: the same look, 50x cheaper.
        small = _cover(img, (max(1, size[0] // 8), max(1, size[1] // 8)))
        small = small.filter(ImageFilter.GaussianBlur(max(small.size) * 0.02))
        canvas = Image.eval(small.resize(size, Image.BILINEAR), lambda v: int(v * 0.7))
    canvas.paste(img, ((size[0] - img.width) // 2, (size[1] - img.height) // 2))
    if max(size) > 1920:  # platforms deliver such frames at 1080x1920 at most
        canvas = _resize_long(canvas, 1920)
    return canvas


def mirror(img: Image.Image, rng: random.Random) -> Image.Image:
    """Left-right flip."""
    return ImageOps.mirror(img.convert("RGB"))


def grayscale(img: Image.Image, rng: random.Random) -> Image.Image:
    """Black and white (kept as an RGB file, as most re-publications are)."""
    return img.convert("L").convert("RGB")


def colour_shift(img: Image.Image, rng: random.Random) -> Image.Image:
    """Hue, saturation, brightness, contrast and gamma changes, as a colour grade would do."""
    hsv = cv2.cvtColor(np.asarray(img.convert("RGB")), cv2.COLOR_RGB2HSV)  # H in 0..179
    hue_degrees = rng.uniform(4, 15) * rng.choice((-1, 1))
    hue = (hsv[..., 0].astype(np.int16) + round(hue_degrees / 2)) % 180
    saturation = np.clip(hsv[..., 1] * np.float32(rng.uniform(0.6, 1.4)), 0, 255)
    hsv = np.dstack([hue.astype(np.uint8), saturation.astype(np.uint8), hsv[..., 2]])
    rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    # Brightness, contrast (about the mean) and gamma as one 256-entry lookup table.
    brightness = rng.uniform(0.85, 1.15)
    contrast = rng.uniform(0.8, 1.25)
    gamma = rng.uniform(0.75, 1.35)
    mean = float(rgb.mean()) * brightness
    v = np.arange(256, dtype=np.float64) * brightness
    v = np.clip((v - mean) * contrast + mean, 0, 255)
    lut = np.clip(255.0 * (v / 255.0) ** gamma + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(cv2.LUT(rgb, lut), "RGB")


def _largest_rotated_rect(w: int, h: int, angle: float) -> tuple[float, float]:
    """Width and height of the largest axis-aligned rectangle inside a w x h box rotated by
    ``angle`` radians (the standard closed form)."""
    long_side, short_side = (w, h) if w >= h else (h, w)
    sin_a, cos_a = abs(math.sin(angle)), abs(math.cos(angle))
    if short_side <= 2 * sin_a * cos_a * long_side or abs(sin_a - cos_a) < 1e-10:
        x = 0.5 * short_side
        return (x / sin_a, x / cos_a) if w >= h else (x / cos_a, x / sin_a)
    cos_2a = cos_a * cos_a - sin_a * sin_a
    return (w * cos_a - h * sin_a) / cos_2a, (h * cos_a - w * sin_a) / cos_2a


def rotate_5(img: Image.Image, rng: random.Random) -> Image.Image:
    """Rotate by 1-5 degrees either way, then crop away the empty corners."""
    arr = np.asarray(img.convert("RGB"))
    h, w = arr.shape[:2]
    angle = rng.uniform(1.0, 5.0) * rng.choice((-1, 1))
    cw, ch = _largest_rotated_rect(w, h, math.radians(angle))
    cw, ch = int(cw) - 2, int(ch) - 2  # 1 px each side: no interpolated black at the edges
    # Rotate about the centre and shift so that the output is the centred cw x ch crop.
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    matrix[0, 2] += cw / 2 - w / 2
    matrix[1, 2] += ch / 2 - h / 2
    out = cv2.warpAffine(arr, matrix, (cw, ch), flags=cv2.INTER_CUBIC,
                         borderMode=cv2.BORDER_REFLECT)
    return Image.fromarray(out, "RGB")


def crop_logo_recompress(img: Image.Image, rng: random.Random) -> Image.Image:
    """Crop to ~70% of the area, add a logo, downscale to ~60% per side, JPEG at ~50."""
    out = crop_fraction(img.convert("RGB"), rng, rng.uniform(0.65, 0.75))
    out = stamp_logo(out, rng)
    scale = rng.uniform(0.55, 0.65)
    out = out.resize((max(1, round(out.width * scale)), max(1, round(out.height * scale))),
                     Image.LANCZOS)
    return jpeg(out, rng.randint(45, 55))


def collage_half(img: Image.Image, rng: random.Random,
                 other: Image.Image | None = None, *, tight: bool = False) -> Image.Image:
    """The picture as one half of a two-picture collage, side by side or one above the other.

    ``other`` is the unrelated second picture (centre-cropped to the picture's size); without
    it a generated scene is used. The picture itself is kept whole, with a thin gutter (none if
    ``tight``: the two pictures meet edge to edge).
    """
    img = img.convert("RGB")
    if max(img.size) > 1280:  # collages are made for the web, not at camera resolution
        img = _resize_long(img, 1280)
    if other is None:
        other = scene(rng, img.size, kinds=("landscape", "shapes", "texture"))
    other = _cover(other, img.size)
    side_by_side = rng.random() < 0.5
    gutter = max(2, int(max(img.size) * rng.uniform(0.005, 0.015)))
    colour = rng.choice(((255, 255, 255), (0, 0, 0), (240, 240, 235)))
    if tight:
        gutter = 0
    first, second = (img, other) if rng.random() < 0.5 else (other, img)
    if side_by_side:
        out = Image.new("RGB", (img.width * 2 + gutter, img.height), colour)
        out.paste(first, (0, 0))
        out.paste(second, (img.width + gutter, 0))
    else:
        out = Image.new("RGB", (img.width, img.height * 2 + gutter), colour)
        out.paste(first, (0, 0))
        out.paste(second, (0, img.height + gutter))
    return out


def _moire(h: int, w: int, rng: random.Random, amplitude: tuple[float, float] = (0.02, 0.05)) -> np.ndarray:
    """A faint multiplicative moire pattern (h, w, 3) float32: curved beat fringes with colour
    fringes, like the interference of a screen's pixel grid and a camera's sensor."""
    y = np.arange(h, dtype=np.float32)[:, None]
    x = np.arange(w, dtype=np.float32)[None, :]
    theta = rng.uniform(0, math.pi)
    period = rng.uniform(5.0, 14.0)  # px, the visible beat fringes
    curvature = rng.uniform(-1.0, 1.0) / max(h, w)  # slightly bent fringes, as on real moire
    u = x * math.cos(theta) + y * math.sin(theta)
    r2 = (x - w / 2) ** 2 + (y - h / 2) ** 2
    phase = np.float32(2 * math.pi / period) * (u + np.float32(curvature) * r2)
    amp = np.float32(rng.uniform(*amplitude))
    shift = rng.uniform(0.5, 1.5)  # per-channel phase offset -> rainbow fringes
    return np.stack([1 + amp * np.cos(phase + np.float32(k * shift)) for k in range(3)], axis=-1)


def screen_photo(img: Image.Image, rng: random.Random, *, corner_shift: float = 0.08,
                 blur: tuple[float, float] = (0.6, 1.3), noise: tuple[float, float] = (2.0, 5.0),
                 moire: tuple[float, float] = (0.02, 0.05)) -> Image.Image:
    """A phone photo of the picture shown on a monitor.

    The picture (with a faint moire and the screen's colour cast) sits in a dark bezel on a dim
    background; the monitor's corners are each moved by up to 8% of the frame's size (a
    perspective view), then vignetting, a slight blur, Gaussian sensor noise and JPEG. The
    keywords give those ranges (the issue's by default; screen_photo_harsh's beyond them).
    """
    nrng = _np_rng(rng)
    pic = img.convert("RGB")
    if max(pic.size) > 1200:  # a phone photo of a screen does not resolve more than this
        pic = _resize_long(pic, 1200)
    pw, ph = pic.size
    arr = np.asarray(pic, np.float32) * _moire(ph, pw, rng, moire)
    cast = np.float32([rng.uniform(0.92, 1.04), rng.uniform(0.95, 1.03), rng.uniform(0.98, 1.1)])
    gain, glow = np.float32(rng.uniform(0.9, 1.05)), np.float32(rng.uniform(5, 15))
    arr = np.clip(arr * (cast * gain) + glow, 0, 255)  # the screen's white balance and glow
    # Monitor: bezel 3-6% of the picture's long side, plus a black screen margin.
    bezel = int(max(pw, ph) * rng.uniform(0.03, 0.06))
    screen_margin = int(max(pw, ph) * rng.uniform(0.0, 0.03))
    mw, mh = pw + 2 * (bezel + screen_margin), ph + 2 * (bezel + screen_margin)
    # Frame: the monitor fills ~80-88% of the photo, on a dim wall/desk background.
    fill = rng.uniform(0.80, 0.88)
    fw, fh = int(mw / fill), int(mh / fill)
    wall = np.float32([rng.uniform(25, 90) for _ in range(3)])
    shade = np.linspace(rng.uniform(0.7, 1.0), rng.uniform(1.0, 1.3), fh, dtype=np.float32)
    frame = np.empty((fh, fw, 3), np.float32)
    frame[:] = (shade[:, None] * wall[None, :])[:, None, :]
    mx, my = (fw - mw) // 2, (fh - mh) // 2
    frame[my:my + mh, mx:mx + mw] = rng.uniform(12, 35)  # bezel grey
    sx, sy = mx + bezel, my + bezel
    frame[sy:sy + ph + 2 * screen_margin, sx:sx + pw + 2 * screen_margin] = 3.0  # black screen
    px, py = sx + screen_margin, sy + screen_margin
    frame[py:py + ph, px:px + pw] = arr
    # Perspective: each monitor corner moves by up to 8% of the frame's width / height.
    src = np.float32([[mx, my], [mx + mw, my], [mx + mw, my + mh], [mx, my + mh]])
    jitter = np.float32([[rng.uniform(-corner_shift, corner_shift) * fw,
                          rng.uniform(-corner_shift, corner_shift) * fh] for _ in range(4)])
    matrix = cv2.getPerspectiveTransform(src, src + jitter)
    frame = cv2.warpPerspective(frame, matrix, (fw, fh), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
    # Vignetting (radial fall-off), blur, sensor noise.
    vx = ((np.arange(fw, dtype=np.float32) - fw / 2) / (fw / 2)) ** 2
    vy = ((np.arange(fh, dtype=np.float32) - fh / 2) / (fh / 2)) ** 2
    strength = np.float32(rng.uniform(0.15, 0.35) / 2)
    frame *= (1 - strength * (vy[:, None] + vx[None, :]))[..., None]
    frame = cv2.GaussianBlur(frame, (0, 0), rng.uniform(*blur))
    sensor = nrng.standard_normal(frame.shape, dtype=np.float32)
    frame += sensor * np.float32(rng.uniform(*noise))
    out = Image.fromarray(np.clip(frame + 0.5, 0, 255).astype(np.uint8), "RGB")
    return jpeg(out, rng.randint(75, 90))


def screen_photo_harsh(img: Image.Image, rng: random.Random) -> Image.Image:
    """A photo of a screen beyond the issue's: corners moved by up to 12%, blur of 1-2 px, sensor
    noise of 4-8 levels, moire of 4-8%. Tuning material (more_seeds.py), not a kind of the
    benchmark's table."""
    return screen_photo(img, rng, corner_shift=0.12, blur=(1.0, 2.0), noise=(4.0, 8.0), moire=(0.04, 0.08))


def screen_photo_of_post(img: Image.Image, rng: random.Random) -> Image.Image:
    """A phone photo of a screen showing a social-media post of the picture (social_screenshot,
    then screen_photo): the picture is framed twice. Tuning material, not a kind of the table."""
    return screen_photo(social_screenshot(img, rng), rng)


def screen_photo_glare(img: Image.Image, rng: random.Random, *, area: tuple[float, float] = (0.05, 0.20),
                       strength: tuple[float, float] = (0.5, 0.85)) -> Image.Image:
    """A photo of a screen with a lamp's or window's glare on the glass: a soft, bright, washed-out
    ellipse over 5-20% of the picture (`area`), placed anywhere on it. Tuning material."""
    arr = np.asarray(img.convert("RGB"), np.float32)
    h, w = arr.shape[:2]
    cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
    covered = rng.uniform(*area) * w * h
    aspect = rng.uniform(0.4, 2.5)
    rx, ry = math.sqrt(covered * aspect / math.pi), math.sqrt(covered / aspect / math.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d2 = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2
    peak = np.float32(rng.uniform(*strength))
    veil = (peak * np.exp(-d2 * 1.5))[..., None]  # soft-edged: brightest at its centre
    arr = arr * (1 - veil) + np.float32(rng.uniform(225, 255)) * veil
    return screen_photo(Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8), "RGB"), rng)


def screen_photo_glare_harsh(img: Image.Image, rng: random.Random) -> Image.Image:
    """screen_photo_glare with a harsher glare: over 15-35% of the picture, 80-95% white at its
    centre. Tuning material."""
    return screen_photo_glare(img, rng, area=(0.15, 0.35), strength=(0.8, 0.95))


def collage_grid(img: Image.Image, rng: random.Random, *, tight: bool = False) -> Image.Image:
    """The picture as one cell of a 2x2 or 3x3 grid of pictures (a "photo report" collage) about
    1,280 px wide, the other cells generated scenes. Tuning material, not a kind of the table.

    `tight`: no gutters, and square cells, each picture centre-cropped to fill its cell (so the
    picture is cropped too, to its short side's square)."""
    n = rng.choice((2, 3))
    gutter = 0 if tight else rng.randint(2, 8)
    cell_w = (1280 - (n - 1) * gutter) // n
    cell_h = cell_w if tight else round(cell_w * img.height / img.width)
    colour = rng.choice(((255, 255, 255), (0, 0, 0), (240, 240, 235)))
    out = Image.new("RGB", (n * cell_w + (n - 1) * gutter, n * cell_h + (n - 1) * gutter), colour)
    mine = rng.randrange(n * n)
    for cell in range(n * n):
        if cell == mine:
            picture = _cover(img, (cell_w, cell_h)) if tight else \
                img.convert("RGB").resize((cell_w, cell_h), Image.LANCZOS)
        else:
            picture = scene(rng, (cell_w, cell_h), kinds=("landscape", "shapes", "texture"))
        out.paste(picture, ((cell % n) * (cell_w + gutter), (cell // n) * (cell_h + gutter)))
    return jpeg(out, rng.randint(70, 90))


def collage_grid_tight(img: Image.Image, rng: random.Random) -> Image.Image:
    """collage_grid without gutters, each picture cropped to a square cell. Tuning material."""
    return collage_grid(img, rng, tight=True)


def collage_half_tight(img: Image.Image, rng: random.Random,
                       other: Image.Image | None = None) -> Image.Image:
    """collage_half without a gutter: two pictures edge to edge ("before and after")."""
    return collage_half(img, rng, other, tight=True)


#: name -> edit(img, rng) -> RGB image. ``collage_half`` accepts an optional ``other`` picture.
EDITS: dict[str, Callable[..., Image.Image]] = {
    "recompress_q30": recompress_q30,
    "resize_40": resize_40,
    "crop_80": crop_80,
    "crop_50": crop_50,
    "logo_corner": logo_corner,
    "caption_banner": caption_banner,
    "social_screenshot": social_screenshot,
    "letterbox": letterbox,
    "mirror": mirror,
    "grayscale": grayscale,
    "colour_shift": colour_shift,
    "rotate_5": rotate_5,
    "crop_logo_recompress": crop_logo_recompress,
    "collage_half": collage_half,
    "screen_photo": screen_photo,
}

#: Edits beyond the issue's, for stress tests of the tune half (more_seeds.py --kinds).
STRESS_EDITS: dict[str, Callable[..., Image.Image]] = {
    "screen_photo_harsh": screen_photo_harsh,
    "screen_photo_of_post": screen_photo_of_post,
    "screen_photo_glare": screen_photo_glare,
    "screen_photo_glare_harsh": screen_photo_glare_harsh,
    "collage_grid": collage_grid,
    "collage_grid_tight": collage_grid_tight,
    "collage_half_tight": collage_half_tight,
}


def mirrored_then(edit: Callable[..., Image.Image]) -> Callable[..., Image.Image]:
    """The picture mirrored left to right, then re-published by `edit`: a re-poster who flips a
    picture to evade hash lists, then crops it, posts it or shows it on a screen."""
    def edited(img: Image.Image, rng: random.Random, **kwargs) -> Image.Image:
        return edit(ImageOps.mirror(img.convert("RGB")), rng, **kwargs)
    edited.__doc__ = f"Mirrored, then: {edit.__doc__.splitlines()[0] if edit.__doc__ else edit.__name__}"
    return edited


#: Mirrored, then each of these (more_seeds.py --kinds crop_50_mirrored,...): the whole query's
#: mirror image finds a mirrored picture, but not the later looks' unless they take it too.
for _kind in ("crop_50", "crop_logo_recompress", "social_screenshot", "screen_photo"):
    STRESS_EDITS[f"{_kind}_mirrored"] = mirrored_then(EDITS[_kind])
for _kind in ("screen_photo_of_post", "collage_grid"):
    STRESS_EDITS[f"{_kind}_mirrored"] = mirrored_then(STRESS_EDITS[_kind])


# ==============================================================================================
# Generated scenes (collage partners, distractors)
# ==============================================================================================


def _fractal_noise(nrng: np.random.Generator, h: int, w: int, octaves: int = 5,
                   base: int = 3) -> np.ndarray:
    """Value noise in [0, 1] of shape (h, w): random grids of doubling resolution, upsampled
    bilinearly and summed with halving weights."""
    total = np.zeros((h, w), np.float32)
    weight, norm = 1.0, 0.0
    for o in range(octaves):
        gh, gw = base * 2 ** o + 1, int(base * 2 ** o * w / h) + 1
        grid = nrng.random((gh, gw), dtype=np.float32)
        total += weight * cv2.resize(grid, (w, h), interpolation=cv2.INTER_LINEAR)
        norm += weight
        weight *= 0.5
    return total / norm


def _ridge(nrng: np.random.Generator, w: int, octaves: int = 5) -> np.ndarray:
    """A 1-D fractal profile in about [0, 1] of length w (a mountain ridge): random control
    points at 3, 6, 12... per width, linearly interpolated, with halving weights."""
    xs = np.arange(w, dtype=np.float32)
    total = np.zeros(w, np.float32)
    weight, norm = 1.0, 0.0
    for o in range(octaves):
        points = 3 * 2 ** o + 1
        total += weight * np.interp(xs, np.linspace(0, w - 1, points), nrng.random(points))
        norm += weight
        weight *= 0.45
    return total / norm


def _gradient(h: int, w: int, c0, c1, vertical: bool = True) -> np.ndarray:
    """A uint8 (h, w, 3) linear gradient from colour c0 to c1."""
    n = h if vertical else w
    t = np.linspace(0, 1, n, dtype=np.float32)[:, None]
    line = (np.float32(c0) * (1 - t) + np.float32(c1) * t + 0.5).astype(np.uint8)  # (n, 3)
    line = line[:, None, :] if vertical else line[None, :, :]
    # cv2's nearest-neighbour resize copies the line out ~5x faster than numpy broadcasting.
    return cv2.resize(line, (w, h), interpolation=cv2.INTER_NEAREST)


def _rand_colour(rng: random.Random, lo: int = 0, hi: int = 255) -> tuple[int, int, int]:
    return tuple(rng.randint(lo, hi) for _ in range(3))


def _scene_landscape(rng: random.Random, nrng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Sky gradient, then 1-3 fractal ridges, each nearer one lower and darker or lighter."""
    out = _gradient(h, w, _rand_colour(rng, 60, 200), _rand_colour(rng, 150, 255))
    xs = np.arange(w)
    for k in range(rng.randint(1, 3)):
        horizon = h * (0.35 + 0.15 * k + rng.uniform(-0.05, 0.05))
        line = horizon + (_ridge(nrng, w) - 0.5) * h * rng.uniform(0.2, 0.5)
        outline = np.stack([xs, np.clip(line, -1, h)], axis=1)
        polygon = np.concatenate([outline, [[w - 1, h], [0, h]]]).astype(np.int32)
        cv2.fillPoly(out, [polygon], _rand_colour(rng, 10, 150))
    return out


def _scene_shapes(rng: random.Random, nrng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A gradient; shapes are drawn later with PIL (see ``scene``)."""
    return _gradient(h, w, _rand_colour(rng), _rand_colour(rng), vertical=rng.random() < 0.5)


def _scene_texture(rng: random.Random, nrng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Fractal noise mapped through a random three-colour palette (a 256-entry lookup table)."""
    # Noise at half this resolution is smooth enough to upscale (and 3x faster).
    n = _fractal_noise(nrng, max(1, h // 2), max(1, w // 2), octaves=rng.randint(3, 5),
                       base=rng.randint(2, 6))
    lo, hi = float(n.min()), float(n.max())
    index = ((n - lo) * (255.0 / max(1e-6, hi - lo))).astype(np.uint8)
    index = cv2.resize(index, (w, h), interpolation=cv2.INTER_LINEAR)
    c0, c1, c2 = (np.float32(_rand_colour(rng)) for _ in range(3))
    t = np.linspace(0, 1, 256, dtype=np.float32)[:, None]
    lut = np.where(t < 0.5, c0 + (c1 - c0) * (t * 2), c1 + (c2 - c1) * (t * 2 - 1))
    return (lut + 0.5).astype(np.uint8)[index]


def _draw_shapes(img: Image.Image, rng: random.Random, count: int) -> None:
    draw = ImageDraw.Draw(img)
    w, h = img.size
    for _ in range(count):
        x0, y0 = rng.uniform(-0.1, 1) * w, rng.uniform(-0.1, 1) * h
        x1, y1 = x0 + rng.uniform(0.05, 0.5) * w, y0 + rng.uniform(0.05, 0.5) * h
        colour = _rand_colour(rng)
        kind = rng.randrange(3)
        if kind == 0:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif kind == 1:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.polygon([(rng.uniform(0, w), rng.uniform(0, h)) for _ in range(3)], fill=colour)


def _draw_card_page(img: Image.Image, rng: random.Random) -> None:
    """A web-page-like layout: header bar, image blocks and short text boxes."""
    draw = ImageDraw.Draw(img)
    w, h = img.size
    draw.rectangle((0, 0, w, h * rng.uniform(0.08, 0.14)), fill=_rand_colour(rng, 0, 200))
    draw.text((w * 0.04, h * 0.05), words(rng, 2), font=font(int(h * 0.045), True),
              fill="white", anchor="lm")
    cols = rng.randint(2, 3)
    for c in range(cols):
        x0 = w * (0.04 + c * 0.92 / cols)
        x1 = x0 + w * 0.92 / cols - w * 0.03
        y = h * rng.uniform(0.18, 0.24)
        draw.rectangle((x0, y, x1, y + h * 0.3), fill=_rand_colour(rng, 40, 230))
        y += h * 0.34
        fnt = font(int(h * 0.03))
        for line in _wrap(words(rng, rng.randint(6, 14)), fnt, x1 - x0)[:5]:
            draw.text((x0, y), line, font=fnt, fill=(40, 40, 40))
            y += h * 0.045


_SCENES = {
    "landscape": _scene_landscape,
    "shapes": _scene_shapes,
    "texture": _scene_texture,
    "card": None,  # a white page drawn with PIL only
}


def scene(rng: random.Random, size: tuple[int, int] = (800, 600),
          kinds: tuple[str, ...] = tuple(_SCENES)) -> Image.Image:
    """A procedurally generated picture-like image of ``size`` (one of ``kinds``)."""
    w, h = size
    kind = rng.choice(kinds)
    nrng = _np_rng(rng)
    if kind == "card":
        img = Image.new("RGB", size, _rand_colour(rng, 235, 255))
        _draw_card_page(img, rng)
        return img
    # The numpy part is computed at half resolution and upscaled: it is smooth anyway, and
    # this keeps a distractor at a few ms.
    small = _SCENES[kind](rng, nrng, max(1, w // 2), max(1, h // 2))
    img = Image.fromarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), "RGB")
    if kind == "shapes":
        _draw_shapes(img, rng, rng.randint(4, 14))
    elif rng.random() < 0.3:  # some scenes get a few shapes or a text box on top
        _draw_shapes(img, rng, rng.randint(1, 3))
    if rng.random() < 0.25:
        draw = ImageDraw.Draw(img)
        x, y = rng.uniform(0, 0.5) * w, rng.uniform(0, 0.8) * h
        fnt = font(int(h * rng.uniform(0.04, 0.08)), True)
        text = words(rng, rng.randint(1, 4))
        box = draw.textbbox((x, y), text, font=fnt)
        draw.rectangle((box[0] - 6, box[1] - 6, box[2] + 6, box[3] + 6),
                       fill=_rand_colour(rng, 0, 255))
        draw.text((x, y), text, font=fnt, fill=_rand_colour(rng, 0, 255))
    return img


def distractor(i: int) -> Image.Image:
    """The i-th padding image for an index: a cheap, deterministic 800x600 generated scene
    (landscape, shapes, fractal texture or web-page card), different for every i."""
    return scene(random.Random(f"distractor:{i}"), (800, 600))


# ==============================================================================================
# Degenerate images: nothing in them may match a photograph
# ==============================================================================================

_SIZES = ((800, 600), (1024, 768), (1280, 720), (1200, 800), (720, 1280), (1000, 1000))


def _size(rng: random.Random) -> tuple[int, int]:
    return rng.choice(_SIZES)


def flat_grey(rng: random.Random) -> Image.Image:
    level = rng.randint(30, 225)
    return Image.new("RGB", _size(rng), (level, level, level))


def flat_colour(rng: random.Random) -> Image.Image:
    return Image.new("RGB", _size(rng), _rand_colour(rng))


def gradient_linear(rng: random.Random) -> Image.Image:
    w, h = _size(rng)
    angle = rng.uniform(0, 2 * math.pi)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    t = x * math.cos(angle) + y * math.sin(angle)
    t = ((t - t.min()) / max(1e-6, float(t.max() - t.min())))[..., None]
    c0, c1 = np.float32(_rand_colour(rng)), np.float32(_rand_colour(rng))
    return Image.fromarray((c0 * (1 - t) + c1 * t + 0.5).astype(np.uint8), "RGB")


def gradient_radial(rng: random.Random) -> Image.Image:
    w, h = _size(rng)
    cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    t = np.hypot(x - cx, y - cy)
    t = (t / t.max())[..., None]
    c0, c1 = np.float32(_rand_colour(rng)), np.float32(_rand_colour(rng))
    return Image.fromarray((c0 * (1 - t) + c1 * t + 0.5).astype(np.uint8), "RGB")


def _checkerboard(rng: random.Random, cell_range: tuple[int, int]) -> Image.Image:
    w, h = _size(rng)
    cell = rng.randint(*cell_range)
    y, x = np.mgrid[0:h, 0:w]
    mask = ((x // cell + y // cell) % 2).astype(bool)[..., None]
    c0, c1 = ((0, 0, 0), (255, 255, 255)) if rng.random() < 0.5 else (_rand_colour(rng),
                                                                         _rand_colour(rng))
    return Image.fromarray(np.where(mask, np.uint8(c0), np.uint8(c1)).astype(np.uint8), "RGB")


def checkerboard_small(rng: random.Random) -> Image.Image:
    return _checkerboard(rng, (4, 12))


def checkerboard_medium(rng: random.Random) -> Image.Image:
    return _checkerboard(rng, (24, 64))


def checkerboard_large(rng: random.Random) -> Image.Image:
    return _checkerboard(rng, (100, 240))


def _page(rng: random.Random) -> Image.Image:
    """A blank page (letter-ish proportions) in white or off-white."""
    w = rng.choice((850, 1000, 1240))
    return Image.new("RGB", (w, int(w * 1.35)), _rand_colour(rng, 240, 255))


def near_blank_page(rng: random.Random) -> Image.Image:
    """An almost empty page: a few words in one or two lines."""
    page = _page(rng)
    draw = ImageDraw.Draw(page)
    w, h = page.size
    fnt = font(int(w * rng.uniform(0.02, 0.035)), rng.random() < 0.5)
    y = h * rng.uniform(0.05, 0.5)
    for _ in range(rng.randint(1, 2)):
        draw.text((w * 0.1, y), words(rng, rng.randint(2, 5)), font=fnt, fill=(30, 30, 30))
        y += fnt.size * 1.5
    return page


def text_page(rng: random.Random) -> Image.Image:
    """A full page of text: a title and paragraphs of many lines."""
    page = _page(rng)
    draw = ImageDraw.Draw(page)
    w, h = page.size
    margin = w * 0.09
    y = h * 0.07
    title = font(int(w * 0.04), True)
    draw.text((margin, y), words(rng, 4), font=title, fill=(10, 10, 10))
    y += title.size * 2
    body = font(int(w * rng.uniform(0.018, 0.024)))
    while y < h * 0.92:
        for line in _wrap(words(rng, rng.randint(40, 90)), body, w - 2 * margin):
            if y > h * 0.92:
                break
            draw.text((margin, y), line, font=body, fill=(25, 25, 25))
            y += body.size * 1.45
        y += body.size
    return page


def social_text_only(rng: random.Random) -> Image.Image:
    """A phone screenshot of a feed of text-only posts (no picture anywhere)."""
    canvas, s, th = _phone_canvas(rng)
    w, h = canvas.size
    draw = ImageDraw.Draw(canvas)
    y = _status_bar(draw, w, s, th, rng)
    y = _app_bar(draw, y, w, s, th, rng)
    nav_top = h - int(150 * s)
    while y < nav_top:
        y = _post_header(draw, y + int(28 * s), w, s, th, rng)
        y = _post_text(draw, y, w, s, th, rng, rng.randint(2, 6))
        y = _actions(draw, y, w, s, th, rng)
    _nav_bar(draw, w, h, s, th)
    return canvas


def app_interface(rng: random.Random) -> Image.Image:
    """An app screen made only of logos, icon buttons and text buttons."""
    canvas, s, th = _phone_canvas(rng)
    w, h = canvas.size
    draw = ImageDraw.Draw(canvas)
    y = _status_bar(draw, w, s, th, rng)
    logo = make_logo(rng, int(w * 0.45))
    canvas.paste(logo, ((w - logo.width) // 2, y + int(60 * s)), logo)
    y += int(60 * s) + logo.height + int(60 * s)
    cols = 4
    cell = w / cols
    for _row in range(rng.randint(2, 4)):  # a grid of round icon buttons with labels
        for c in range(cols):
            cx, cy = int(cell * (c + 0.5)), int(y + cell * 0.4)
            rad = int(cell * 0.28)
            draw.rounded_rectangle((cx - rad, cy - rad, cx + rad, cy + rad), radius=rad // 2,
                                   fill=rng.choice(_LOGO_COLOURS))
            draw.text((cx, cy), rng.choice(_WORDS)[0].upper(), font=font(int(rad), True),
                      fill="white", anchor="mm")
            draw.text((cx, cy + rad + int(26 * s)), rng.choice(_WORDS).title(),
                      font=font(int(26 * s)), fill=th["text"], anchor="mm")
        y += int(cell * 0.95)
    for label in ("Continue", "Sign in", "Settings")[: rng.randint(1, 3)]:
        bh = int(96 * s)
        if y + bh > h - int(180 * s):
            break
        filled = rng.random() < 0.6
        colour = rng.choice(_LOGO_COLOURS)
        draw.rounded_rectangle((int(60 * s), y, w - int(60 * s), y + bh), radius=bh // 2,
                               fill=colour if filled else None, outline=colour,
                               width=max(2, int(3 * s)))
        draw.text((w // 2, y + bh // 2), label, font=font(int(36 * s), True),
                  fill="white" if filled else colour, anchor="mm")
        y += bh + int(30 * s)
    _nav_bar(draw, w, h, s, th)
    return canvas


#: name -> make(rng) -> RGB image that must never match any photograph.
DEGENERATE: dict[str, Callable[[random.Random], Image.Image]] = {
    "flat_grey": flat_grey,
    "flat_colour": flat_colour,
    "gradient_linear": gradient_linear,
    "gradient_radial": gradient_radial,
    "checkerboard_small": checkerboard_small,
    "checkerboard_medium": checkerboard_medium,
    "checkerboard_large": checkerboard_large,
    "near_blank_page": near_blank_page,
    "text_page": text_page,
    "social_text_only": social_text_only,
    "app_interface": app_interface,
}
