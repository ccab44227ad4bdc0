"""A picture of the evidence: the query beside the original, the matched region outlined and the
verified correspondences drawn, so an investigator can show a colleague why two images match.
Where a second look found the match in a frame or on a photographed screen, that outline is
drawn too (blue), thinner than the matched region's (red).
"""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from .check import MatchView
from .errors import MediaError
from .media import load_image
from .parts import wording as part_wording

#: Height of each panel in the output picture.
PANEL_HEIGHT = 720
_OUTLINE = (255, 40, 40)
_LINE = (40, 220, 90)
_LOOKED_IN = (40, 120, 255)  # the frame or the screen a second look searched
_GAP = 24
_HEADER = 64  # above the panels: the titles and the caption's first line
_CAPTION_LINE = 22  # each further line of a caption too long for one


def draw_match(query_path: str | os.PathLike, match: MatchView, out: str | os.PathLike,
               original: Image.Image | None = None) -> Path:
    """Write a PNG with the query (left) and the matched original (right) and the evidence.

    The original is read from the path of its first sighting; pass ``original`` when that file
    is not at hand. Returns the path written.
    """
    query = load_image(query_path, working_side=PANEL_HEIGHT * 3).image
    if original is None:
        if not match.path or not Path(match.path).exists():
            raise MediaError(str(match.path), "the original's file is not at hand to draw")
        original = load_image(match.path, working_side=PANEL_HEIGHT * 3).image
    q_scale = PANEL_HEIGHT / query.height
    o_scale = PANEL_HEIGHT / original.height
    q_panel = query.resize((max(1, round(query.width * q_scale)), PANEL_HEIGHT))
    o_panel = original.resize((max(1, round(original.width * o_scale)), PANEL_HEIGHT))
    width = q_panel.width + _GAP + o_panel.width
    font = ImageFont.load_default(size=18)
    caption = _wrapped(_caption(match), font, width - 16)  # all of it, however narrow the panels
    header = _HEADER + _CAPTION_LINE * (len(caption) - 1)
    canvas = Image.new("RGB", (width, PANEL_HEIGHT + header), (255, 255, 255))
    canvas.paste(q_panel, (0, header))
    ox = q_panel.width + _GAP
    canvas.paste(o_panel, (ox, header))
    draw = ImageDraw.Draw(canvas)
    draw.text((8, 6), f"query: {Path(query_path).name}", fill=(0, 0, 0), font=font)
    draw.text((ox, 6), f"original: item {match.item_id}, {match.outlet or 'unknown outlet'}", fill=(0, 0, 0), font=font)
    for i, line in enumerate(caption):
        draw.text((8, 32 + _CAPTION_LINE * i), line, fill=(90, 0, 0), font=font)

    ev = match.evidence
    # Evidence coordinates are in the pixels of the full-size files; panels are scaled copies.
    qx = q_panel.width / _full_size(ev, "query_size", query)[0]
    oxs = o_panel.width / _full_size(ev, "original_size", original)[0]
    looked_in = ev.get("screen_in") or _box_corners(ev.get("framed_in"))
    if looked_in:
        pts = [(x * qx, header + y * qx) for x, y in looked_in]
        draw.line(pts + [pts[0]], fill=_LOOKED_IN, width=2)
    part = ev.get("part") or {}
    if part.get("box"):  # found through a picture in the original (a part): outline that picture
        pts = [(ox + x * oxs, header + y * oxs) for x, y in part.get("quad") or _box_corners(part["box"])]
        draw.line(pts + [pts[0]], fill=_LOOKED_IN, width=2)
    quad = part.get("quad_in_query") or ev.get("quad_in_query")
    if quad:
        pts = [(x * qx, header + y * qx) for x, y in quad]
        draw.line(pts + [pts[0]], fill=_OUTLINE, width=4)
    visible = ev.get("visible_in_original")
    if visible:
        x0, y0, x1, y1 = visible
        draw.rectangle((ox + x0 * oxs, header + y0 * oxs, ox + x1 * oxs, header + y1 * oxs), outline=_OUTLINE, width=3)
    for (x_o, y_o), (x_q, y_q) in ev.get("correspondences", [])[:50]:
        draw.line((x_q * qx, header + y_q * qx, ox + x_o * oxs, header + y_o * oxs), fill=_LINE, width=1)
    out_path = Path(out)
    canvas.save(out_path, "PNG")
    return out_path


def _wrapped(text: str, font: ImageFont.ImageFont, width: float) -> list[str]:
    """`text` in lines no wider than `width` (in `font`), broken between words."""
    lines = [""]
    for word in text.split(" "):
        candidate = f"{lines[-1]} {word}" if lines[-1] else word
        if lines[-1] and font.getlength(candidate) > width:
            lines.append(word)
        else:
            lines[-1] = candidate
    return lines


def _box_corners(box: list[float] | None) -> list[tuple[float, float]] | None:
    if not box:
        return None
    x0, y0, x1, y1 = box
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def _full_size(ev: dict, key: str, fallback: Image.Image) -> tuple[int, int]:
    size = ev.get(key)
    return (int(size[0]), int(size[1])) if size else fallback.size


def _caption(m: MatchView) -> str:
    ev = m.evidence
    if m.method == "orb":
        text = f"local features: {ev.get('inliers')} verified points"
        if ev.get("edits"):
            text += " · " + ", ".join(ev["edits"])
        if ev.get("look") == "framed_on_screen":
            text += " · found in the page on the photographed screen (blue), straightened"
        elif ev.get("screen_in"):
            text += " · found on the photographed screen (blue), straightened"
        elif ev.get("look") == "cell":
            text += " · found in one picture of the collage (blue)"
        elif ev.get("framed_in"):
            text += " · found in the frame (blue)"
        if ev.get("part"):
            text += part_wording(ev["part"].get("method", "framed")).caption
        return text
    if m.method in ("pdq", "phash"):
        return f"{m.method}: distance {m.distance:.0f} of {ev.get('bits')} bits (threshold {ev.get('threshold')})"
    return "identical file bytes"
