from PIL import Image

from provenance import Claim, Ledger, check, index_files
from provenance.visual import _caption, draw_match

from .conftest import photo, save


def test_evidence_picture_outlines_the_match(tmp_path):
    original = save(photo("coffee"), tmp_path / "coffee.jpg")
    canvas = Image.new("RGB", (900, 900), (20, 20, 20))
    canvas.paste(photo("coffee").resize((600, 400)), (150, 250))
    query = save(canvas, tmp_path / "framed.png")
    with Ledger(tmp_path / "l.db") as led:
        index_files(led, [original], Claim("sana"))
        (result,) = check(led, [query])
    out = draw_match(query, result.matches[0], tmp_path / "why.png")
    pic = Image.open(out).convert("RGB")
    assert pic.height == 720 + 64
    # The red outline of the matched region runs along the photo's top edge in the query panel
    # (query panel scale 720/900 = 0.8: the edge at y=250 lands at 64 + 200).
    reds = [pic.getpixel((x, 64 + 200)) for x in range(140, 600, 20)]
    assert sum(1 for r, g, b in reds if r > 200 and g < 100 and b < 100) >= len(reds) // 2


def test_evidence_picture_outlines_the_screen_a_match_was_found_on(tmp_path):
    """A match found by the screen look shows the screen's outline (blue) beside the picture's
    (red), and says so in its caption."""
    from provenance.check import MatchView

    from .test_screen import KEYSTONE, photographed_screen

    original = photo("coffee")
    query, shot = photographed_screen(original, KEYSTONE)
    query_path = save(query, tmp_path / "screen.png")
    outline = [[float(x), float(y)] for x, y in shot]
    evidence = {"inliers": 50, "edits": ["framed", "perspective"], "quad_in_query": outline,
                "screen_in": [[x - 20, y] for x, y in outline], "query_size": list(query.size),
                "original_size": list(original.size), "visible_in_original": [0, 0, *original.size],
                "correspondences": []}
    view = MatchView(item_id=1, sha256="0" * 64, path=None, outlet="sana", published_at=None, url=None,
                     method="orb", distance=50.0, evidence=evidence, first_seen=None, sightings=1)
    pic = Image.open(draw_match(query_path, view, tmp_path / "why.png", original=original)).convert("RGB")
    scale = 720 / query.height
    blue = red = 0
    for t in (0.3, 0.4, 0.5, 0.6, 0.7):  # along the left edge: the screen's 20 px left of the picture's
        x, y = shot[0] + t * (shot[3] - shot[0])
        for dx in range(-3, 4):
            r, g, b = pic.getpixel((round((x - 20) * scale) + dx, round(64 + y * scale)))
            blue += b > 200 and r < 100
            r, g, b = pic.getpixel((round(x * scale) + dx, round(64 + y * scale)))
            red += r > 200 and g < 100 and b < 100
    assert blue >= 5 and red >= 5
    assert "found on the photographed screen" in _caption(view)
    view.evidence["look"] = "framed_on_screen"
    assert "found in the page on the photographed screen" in _caption(view)
    view.evidence.update(look="cell", screen_in=None, framed_in=[0, 0, 10, 10])
    assert "found in one picture of the collage (blue)" in _caption(view)


def test_a_caption_too_long_for_one_line_is_wrapped_above_the_panels(tmp_path):
    """Every word of the caption is drawn: a long one takes further lines, and the panels move
    down by as many (a narrow pair of panels cut it off before)."""
    from PIL import ImageFont

    from provenance.check import MatchView
    from provenance.visual import _HEADER, _wrapped

    font = ImageFont.load_default(size=18)
    text = "local features: 53 verified points · " + ", ".join(["cropped", "framed", "scaled", "perspective"] * 4)
    lines = _wrapped(text, font, 300)
    assert len(lines) > 1 and " ".join(lines) == text and all(font.getlength(line) <= 300 for line in lines)
    assert _wrapped("short", font, 300) == ["short"]
    narrow = save(photo("coffee").resize((120, 400)), tmp_path / "narrow.png")
    view = MatchView(item_id=1, sha256="0" * 64, path=None, outlet="sana", published_at=None, url=None,
                     method="orb", distance=53.0, evidence={"inliers": 53, "edits": ["cropped", "framed", "scaled"] * 4},
                     first_seen=None, sightings=1)
    with Image.open(draw_match(narrow, view, tmp_path / "why.png", original=photo("coffee").resize((120, 400)))) as pic:
        width, height = pic.size
    caption_lines = len(_wrapped(_caption(view), font, width - 16))
    assert caption_lines > 1 and height == 720 + _HEADER + 22 * (caption_lines - 1)
