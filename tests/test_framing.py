"""The picture framed in a query: found in screenshots and on pages, never in a plain photograph."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFont

from provenance.framing import framed_on_screen, framed_picture

from .conftest import jpeg_bytes, photo


def _phone_post(picture: Image.Image, background=(255, 255, 255), ink=(20, 20, 20)) -> tuple[Image.Image, tuple]:
    """A phone screenshot of a post showing `picture`; and where the picture lies in it."""
    canvas = Image.new("RGB", (1080, 2340), background)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=36)
    draw.rectangle((0, 0, 1080, 160), fill=(29, 161, 242))
    draw.ellipse((40, 210, 140, 310), fill=(120, 90, 200))
    for row, line in enumerate(["Some Account @someaccount", "What we saw this morning,", "more soon #news"]):
        draw.text((40 if row else 170, 230 + row * 60), line, fill=ink, font=font)
    width = 918
    pasted = picture.resize((width, round(width * picture.height / picture.width)), Image.Resampling.LANCZOS)
    canvas.paste(pasted, (81, 440))
    bottom = 440 + pasted.height
    for i, label in enumerate(["Reply", "Repost", "Like", "Share"]):
        draw.text((80 + i * 250, bottom + 40), label, fill=ink, font=font)
    for row in range(6):  # the next post's text
        draw.text((40, bottom + 160 + row * 60), "Another post about something else entirely", fill=ink, font=font)
    return canvas, (81, 440, 81 + width, bottom)


def lit_unevenly(image: Image.Image, seed: int = 0) -> Image.Image:
    """`image` as a photographed screen shows it once straightened: vignetting, light falling off
    from one side, the screen's glow, faint moire stripes and sensor noise."""
    rng = np.random.default_rng(seed)
    rgb = np.asarray(image.convert("RGB"), np.float32)
    h, w = rgb.shape[:2]
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    radius = ((x - w / 2) / (w / 2)) ** 2 + ((y - h / 2) / (h / 2)) ** 2
    light = (1 - 0.15 * radius) * (0.85 + 0.2 * x / w)
    moire = 1 + 0.03 * np.cos(2 * np.pi * (x + 0.6 * y) / 9.0)
    rgb = rgb * (light * moire)[..., None] + 10 + rng.normal(0, 4, rgb.shape)
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


def _assert_near(box, want, tolerance):
    assert all(abs(a - b) <= tolerance for a, b in zip(box, want)), (box, want)


@pytest.mark.parametrize("theme", [((255, 255, 255), (20, 20, 20)), ((21, 32, 43), (230, 230, 230))])
@pytest.mark.parametrize("name", ["coffee", "astronaut", "rocket"])
def test_the_photo_of_a_screenshot_is_found(name, theme):
    """Light and dark themes, landscape and square pictures, after a JPEG round trip."""
    shot, want = _phone_post(photo(name), *theme)
    shot = Image.open(io.BytesIO(jpeg_bytes(shot, 85)))
    frame = framed_picture(shot)
    assert frame is not None
    _assert_near(frame.box, want, tolerance=12)  # the reduction works in blocks of 5 pixels
    assert 0.15 < frame.share < 0.6


def test_a_picture_between_black_bars_is_found():
    picture = photo("chelsea")
    page = Image.new("RGB", (picture.width, picture.height * 2), (0, 0, 0))
    page.paste(picture, (0, picture.height // 2))
    frame = framed_picture(page)
    assert frame is not None
    _assert_near(frame.box, (0, picture.height // 2, picture.width, picture.height * 3 // 2), tolerance=4)


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket", "camera", "immunohistochemistry"])
def test_a_plain_photograph_has_no_frame(name):
    assert framed_picture(photo(name)) is None


def _text_and_buttons(scale: float) -> tuple[Image.Image, Image.Image]:
    """Two phone pages with no picture, `scale` times 1080 x 2340: lines of text, a column of buttons."""
    size = (round(1080 * scale), round(2340 * scale))
    text = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(text)
    for row in range(35):
        draw.text((40 * scale, (40 + row * 64) * scale), "A line of text that fills the page from one side",
                  fill="black", font=ImageFont.load_default(size=round(40 * scale)))
    buttons = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(buttons)
    for i in range(8):
        draw.rounded_rectangle([v * scale for v in (100, 200 + i * 250, 980, 380 + i * 250)],
                               radius=round(40 * scale), fill=(29, 161, 242))
    return text, buttons


def test_pages_without_a_picture_have_no_frame():
    """Flat grey, a gradient, a text-only page, an interface of buttons and a small logo."""
    flat = Image.new("RGB", (800, 1200), (128, 128, 128))
    gradient = Image.fromarray(np.tile(np.linspace(0, 255, 800, dtype=np.uint8), (1200, 1))).convert("RGB")
    text, buttons = _text_and_buttons(1.0)
    logo = Image.new("RGB", (1080, 1080), "white")
    ImageDraw.Draw(logo).rectangle((480, 480, 600, 600), fill=(200, 20, 30))
    for page in (flat, gradient, text, buttons, logo):
        assert framed_picture(page) is None


@pytest.mark.parametrize("theme", [((255, 255, 255), (20, 20, 20)), ((21, 32, 43), (230, 230, 230))])
@pytest.mark.parametrize("name", ["coffee", "rocket"])
def test_the_picture_in_a_page_on_a_photographed_screen_is_found(name, theme):
    """Unevenly lit and noisy, the page's background is no one colour: framed_picture finds no
    frame in the light theme, framed_on_screen finds the picture in both."""
    page, want = _phone_post(photo(name), *theme)
    page = page.resize((540, 1170), Image.Resampling.LANCZOS)  # as a phone photo resolves it
    shot = Image.open(io.BytesIO(jpeg_bytes(lit_unevenly(page), 85)))
    if theme[0] == (255, 255, 255):
        assert framed_picture(shot) is None
    frame = framed_on_screen(shot)
    assert frame is not None
    _assert_near(frame.box, [v / 2 for v in want], tolerance=8)


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket", "camera"])
def test_a_plain_photograph_on_a_screen_has_no_frame(name):
    assert framed_on_screen(lit_unevenly(photo(name))) is None


def test_pages_without_a_picture_on_a_screen_have_no_frame():
    """A text-only page and an interface of buttons, photographed on a screen; flat grey."""
    text, buttons = _text_and_buttons(0.5)
    flat = Image.new("RGB", (540, 1170), (128, 128, 128))
    for page in (text, buttons, flat):
        assert framed_on_screen(lit_unevenly(page)) is None


@settings(max_examples=40, deadline=None)
@given(width=st.integers(1, 300), height=st.integers(1, 300), seed=st.integers(0, 1000),
       mode=st.sampled_from(["RGB", "L", "RGBA", "P"]), on_screen=st.booleans())
def test_any_image_gives_a_rectangle_inside_it_or_none(width, height, seed, mode, on_screen):
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (max(1, height // 16), max(1, width // 16), 3), dtype=np.uint8)
    image = Image.fromarray(blocks).resize((width, height), Image.Resampling.NEAREST).convert(mode)
    frame = (framed_on_screen if on_screen else framed_picture)(image)
    if frame is not None:
        assert 0 <= frame.left < frame.right <= width and 0 <= frame.top < frame.bottom <= height
