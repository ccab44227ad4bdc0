"""A work's timeline as a picture: one lane per outlet, time from left to right, and an arrow from
each sighting's parent to it.

One layout (positions, in pixels) is drawn three ways, so they always agree and no plotting
library is needed: SVG written by hand, HTML (the SVG with hover titles, the legend and a table
of the sightings), and PNG drawn with Pillow. The marks:

- a filled dot: a claimed publication date; a hollow dot: only the date we indexed it (an upper
  bound on when it was published);
- red: the first sighting of the work; blue: a copy from another file; grey: the same file;
- an orange ring: the sighting is named in a flag (a date conflict, a tie).
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from .chain import Chain, ChainNode
from .errors import ProvenanceError

FORMATS = (".png", ".svg", ".html")
WIDTH = 1100
LANE = 44
TOP = 70
BOTTOM = 50
RIGHT = 40
RADIUS = 6
COLOURS = {"origin": "#c0392b", "copy": "#2471a3", "same_file": "#7f8c8d", "flag": "#e67e22",
           "edge": "#555555", "lane": "#f2f3f4", "text": "#222222", "axis": "#999999"}


@dataclass
class _Dot:
    x: float
    y: float
    colour: str
    filled: bool
    flagged: bool
    title: str


@dataclass
class _Arrow:
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass
class _Text:
    x: float
    y: float
    text: str
    size: int = 12
    anchor: str = "start"  # "start", "middle", "end"
    colour: str = COLOURS["text"]


@dataclass
class Layout:
    """Everything to draw, in pixels."""

    width: int
    height: int
    lanes: list[tuple[float, float]] = field(default_factory=list)  # (top, bottom) of each lane
    dots: list[_Dot] = field(default_factory=list)
    arrows: list[_Arrow] = field(default_factory=list)
    texts: list[_Text] = field(default_factory=list)
    axis: tuple[float, float, float] = (0.0, 0.0, 0.0)  # (y, x from, x to)


def plot_chain(chain: Chain, path: str | os.PathLike) -> str:
    """Draw the chain's timeline into ``path`` (.png, .svg or .html); returns the format."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in FORMATS:
        raise ProvenanceError(f"{path}: cannot draw a {suffix or 'suffix-less'} file; use one of {', '.join(FORMATS)}")
    if not chain.nodes:
        raise ProvenanceError("this work has no sightings to draw")
    lay = layout(chain)
    try:
        if suffix == ".png":
            to_png(lay).save(target, "PNG")
        elif suffix == ".svg":
            target.write_text(to_svg(lay), encoding="utf-8")
        else:
            target.write_text(to_html(lay, chain), encoding="utf-8")
    except OSError as exc:
        raise ProvenanceError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return suffix[1:]


def layout(chain: Chain) -> Layout:
    """Place every sighting: lane by outlet (in order of first appearance), x by date."""
    lanes: list[str] = []
    for n in chain.nodes:
        name = n.outlet or "(no outlet)"
        if name not in lanes:
            lanes.append(name)
    left = min(260, max(120, 8 * max(len(x) for x in lanes) + 24))
    height = TOP + LANE * len(lanes) + BOTTOM
    lay = Layout(WIDTH, height)
    t0, t1 = min(n.date for n in chain.nodes), max(n.date for n in chain.nodes)
    if t1 - t0 < timedelta(hours=1):
        t0, t1 = t0 - timedelta(days=1), t1 + timedelta(days=1)
    pad = (t1 - t0) * 0.04
    t0, t1 = t0 - pad, t1 + pad
    span = (t1 - t0).total_seconds()
    plot_w = WIDTH - left - RIGHT

    def x_of(t: datetime) -> float:
        return left + (t - t0).total_seconds() / span * plot_w

    for i, name in enumerate(lanes):
        top = TOP + i * LANE
        lay.lanes.append((top, top + LANE))
        lay.texts.append(_Text(left - 10, top + LANE / 2 + 4, _clip(name, 30), 12, "end"))
    axis_y = TOP + LANE * len(lanes) + 8
    lay.axis = (axis_y, left, WIDTH - RIGHT)
    fmt = "%Y-%m-%d" if span > 3 * 86400 else "%m-%d %H:%M"
    for k in range(6):
        t = t0 + (t1 - t0) * (k / 5)
        lay.texts.append(_Text(x_of(t), axis_y + 18, t.strftime(fmt), 11, "middle", COLOURS["axis"]))

    fs = chain.first_seen
    title = f"W{chain.work_id}" if chain.work_id is not None else "work"
    if fs is not None:
        title += f" · first seen {fs.date:%Y-%m-%d} by {fs.outlet or 'an unnamed source'} ({fs.source})"
    title += f" · {len(chain.nodes)} sighting(s) of {len(chain.item_ids)} item(s)"
    lay.texts.append(_Text(12, 24, title, 15))
    lay.texts.append(_Text(12, 46, "filled: claimed date · hollow: date indexed · red: first sighting · blue: copy "
                                    "of another file · grey: same file · orange ring: flagged", 11, "start",
                           COLOURS["axis"]))

    flagged = {sid for f in chain.flags for sid in f.sighting_ids}
    first_id = fs.sighting_id if fs else None
    where: dict[int, tuple[float, float]] = {}
    crowd: dict[tuple[int, int], int] = {}
    for n in chain.nodes:
        lane = lanes.index(n.outlet or "(no outlet)")
        x = x_of(n.date)
        slot = (lane, round(x / (RADIUS * 2)))
        k = crowd.get(slot, 0)
        crowd[slot] = k + 1
        y = TOP + lane * LANE + LANE / 2 + (0, -11, 11, -5, 5)[k % 5]
        where[n.sighting_id] = (x, y)
        kind = "origin" if n.sighting_id == first_id else "same_file" if n.basis == "same_file" else "copy"
        lay.dots.append(_Dot(x, y, COLOURS[kind], n.date_source == "claimed", n.sighting_id in flagged, _tooltip(n)))
    for n in chain.nodes:
        if n.parent_sighting_id in where:
            (x1, y1), (x2, y2) = where[n.parent_sighting_id], where[n.sighting_id]
            lay.arrows.append(_Arrow(x1, y1, x2, y2))
    return lay


def _tooltip(n: ChainNode) -> str:
    head = f"{n.outlet or '(no outlet)'} · {n.date:%Y-%m-%d %H:%M} ({n.date_source}) · item {n.item_id}, sighting {n.sighting_id}"
    return f"{head}\n{n.basis}: {n.reason}" if n.reason else head


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[:size - 1] + "…"


def _shorten(a: _Arrow, by: float) -> tuple[float, float, float, float]:
    """The arrow's ends pulled in by ``by`` pixels, so it starts and ends at the dots' rims."""
    dx, dy = a.x2 - a.x1, a.y2 - a.y1
    length = (dx * dx + dy * dy) ** 0.5
    if length <= 2 * by:
        return a.x1, a.y1, a.x2, a.y2
    ux, uy = dx / length, dy / length
    return a.x1 + ux * by, a.y1 + uy * by, a.x2 - ux * by, a.y2 - uy * by


# --- SVG and HTML ------------------------------------------------------------------------------

def to_svg(lay: Layout) -> str:
    """The layout as a standalone SVG document."""
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{lay.width}" height="{lay.height}" '
           f'viewBox="0 0 {lay.width} {lay.height}" font-family="Helvetica, Arial, sans-serif">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
           f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{COLOURS["edge"]}"/></marker></defs>',
           f'<rect width="{lay.width}" height="{lay.height}" fill="white"/>']
    for i, (top, bottom) in enumerate(lay.lanes):
        if i % 2 == 0:
            out.append(f'<rect x="0" y="{top:.1f}" width="{lay.width}" height="{bottom - top:.1f}" fill="{COLOURS["lane"]}"/>')
    y, x0, x1 = lay.axis
    out.append(f'<line x1="{x0:.1f}" y1="{y:.1f}" x2="{x1:.1f}" y2="{y:.1f}" stroke="{COLOURS["axis"]}"/>')
    for a in lay.arrows:
        x1_, y1_, x2_, y2_ = _shorten(a, RADIUS + 2)
        out.append(f'<line x1="{x1_:.1f}" y1="{y1_:.1f}" x2="{x2_:.1f}" y2="{y2_:.1f}" stroke="{COLOURS["edge"]}" '
                   'stroke-width="1.2" marker-end="url(#arrow)"/>')
    for d in lay.dots:
        ring = (f'<circle cx="{d.x:.1f}" cy="{d.y:.1f}" r="{RADIUS + 3}" fill="none" stroke="{COLOURS["flag"]}" '
                'stroke-width="2.5"/>') if d.flagged else ""
        fill = d.colour if d.filled else "white"
        out.append(f'<g>{ring}<circle cx="{d.x:.1f}" cy="{d.y:.1f}" r="{RADIUS}" fill="{fill}" stroke="{d.colour}" '
                   f'stroke-width="2"/><title>{html.escape(d.title)}</title></g>')
    for t in lay.texts:
        out.append(f'<text x="{t.x:.1f}" y="{t.y:.1f}" font-size="{t.size}" text-anchor="{t.anchor}" '
                   f'fill="{t.colour}">{html.escape(t.text)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def to_html(lay: Layout, chain: Chain) -> str:
    """A page with the timeline (hover a dot for its reason), the flags and every sighting."""
    rows = []
    for n in chain.nodes:
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
            n.sighting_id, n.item_id, n.outlet or "-", f"{n.date:%Y-%m-%d %H:%M} ({n.date_source})",
            n.parent_sighting_id or "-", n.basis, n.confidence, n.reason, n.url or n.path or "")) + "</tr>")
    flags = "".join(f"<li><b>{html.escape(f.kind)}</b>: {html.escape(f.message)}</li>" for f in chain.flags)
    head = "".join(f"<th>{h}</th>" for h in ("sighting", "item", "outlet", "date", "parent", "basis", "confidence",
                                              "reason", "where"))
    title = html.escape(f"W{chain.work_id} timeline")
    return (f"<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title><style>"
            "body{font-family:Helvetica,Arial,sans-serif;margin:16px}table{border-collapse:collapse;font-size:13px}"
            "td,th{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}</style></head><body>\n"
            f"{to_svg(lay)}"
            + (f"<h3>Flags</h3><ul>{flags}</ul>\n" if flags else "")
            + f"<h3>Sightings</h3><table><tr>{head}</tr>\n" + "\n".join(rows) + "</table>\n</body></html>\n")


# --- PNG ---------------------------------------------------------------------------------------

def to_png(lay: Layout) -> Image.Image:
    """The layout drawn with Pillow (twice the size, for sharp text)."""
    s = 2
    img = Image.new("RGB", (lay.width * s, lay.height * s), "white")
    draw = ImageDraw.Draw(img)
    for i, (top, bottom) in enumerate(lay.lanes):
        if i % 2 == 0:
            draw.rectangle((0, top * s, lay.width * s, bottom * s), fill=COLOURS["lane"])
    y, x0, x1 = lay.axis
    draw.line((x0 * s, y * s, x1 * s, y * s), fill=COLOURS["axis"], width=s)
    for a in lay.arrows:
        ax1, ay1, ax2, ay2 = (v * s for v in _shorten(a, RADIUS + 2))
        draw.line((ax1, ay1, ax2, ay2), fill=COLOURS["edge"], width=max(1, round(1.2 * s)))
        draw.polygon(_arrow_head(ax1, ay1, ax2, ay2, 7 * s), fill=COLOURS["edge"])
    for d in lay.dots:
        cx, cy = d.x * s, d.y * s
        if d.flagged:
            r = (RADIUS + 3) * s
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=COLOURS["flag"], width=round(2.5 * s))
        r = RADIUS * s
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=d.colour if d.filled else "white", outline=d.colour,
                     width=2 * s)
    for t in lay.texts:
        font = ImageFont.load_default(size=t.size * s)
        anchor = {"start": "ls", "middle": "ms", "end": "rs"}[t.anchor]
        draw.text((t.x * s, t.y * s), t.text, fill=t.colour, font=font, anchor=anchor)
    return img


def _arrow_head(x1: float, y1: float, x2: float, y2: float, size: float) -> list[tuple[float, float]]:
    dx, dy = x2 - x1, y2 - y1
    length = max((dx * dx + dy * dy) ** 0.5, 1e-6)
    ux, uy = dx / length, dy / length
    bx, by = x2 - ux * size, y2 - uy * size
    return [(x2, y2), (bx - uy * size * 0.45, by + ux * size * 0.45), (bx + uy * size * 0.45, by - ux * size * 0.45)]
