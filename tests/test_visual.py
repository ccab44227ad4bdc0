from PIL import Image

from provenance import Claim, Ledger, check, index_files
from provenance.visual import draw_match

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
