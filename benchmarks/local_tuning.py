"""Measure true- and false-pair distributions of the local-feature matcher.

Indexes the originals of one half of the photo corpus (plus logo'd, captioned
and degenerate images that invite false matches), runs every kind of edit as a
query, verifies every candidate with the acceptance thresholds switched OFF,
and records per (query, candidate) pair: vote rank, inliers, inlier hull share,
visible share, NCC block share.  It then prints the distributions of true and
false pairs, the recall per edit kind and the false matches under the
thresholds currently written in provenance/local_match.py.

    .venv/bin/python -m benchmarks.local_tuning                 # tune half
    .venv/bin/python -m benchmarks.local_tuning --half report   # final check
    .venv/bin/python -m benchmarks.local_tuning --timing 10000  # speed at N items

Uses benchmarks/photos.py and benchmarks/edits.py when they exist, otherwise
the small stand-ins below (scikit-image's bundled photographs).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import statistics
import sys
import time
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from provenance import local_match  # noqa: E402
from provenance.local_features import extract, extract_mirrored  # noqa: E402
from provenance.local_index import LocalFeatureIndex  # noqa: E402

SEEDS = 2
CANDIDATES = 30  # candidates examined per query side (more than search() uses, to see ranks)


# --- corpus ------------------------------------------------------------------

@dataclass
class Photo:
    name: str
    image: Image.Image


def load_corpus(half: str) -> tuple[list, list]:
    """(photos of the requested half, photos of the other half)."""
    try:
        from benchmarks import photos as corpus

        every = corpus.load_photos()
        tune, report = corpus.split_halves(every)
        print(f"corpus: benchmarks.photos, {len(tune)} tune / {len(report)} report")
    except ImportError:
        from skimage import data

        names = ["astronaut", "coffee", "chelsea", "rocket", "camera", "hubble_deep_field",
                 "immunohistochemistry", "coins", "retina", "brick", "grass", "gravel", "moon"]
        every = [Photo(n, Image.fromarray(getattr(data, n)()).convert("RGB")) for n in names]
        tune, report = every[::2], every[1::2]
        print(f"corpus: STAND-IN skimage photos, {len(tune)} tune / {len(report)} report")
    return (tune, report) if half == "tune" else (report, tune)


def load_edits():
    """(EDITS, DEGENERATE, distractor) from benchmarks.edits, or the stand-ins."""
    try:
        from benchmarks import edits

        print("edits: benchmarks.edits")
        return edits.EDITS, edits.DEGENERATE, edits.distractor
    except ImportError:
        print("edits: STAND-IN edits of this script")
        return STAND_IN_EDITS, STAND_IN_DEGENERATE, None


# --- stand-in edits (used until benchmarks/edits.py exists) --------------------

def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=max(8, int(size)))


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    img.convert("RGB").save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def _crop_area(img, rng, share):
    w, h = img.size
    aspect = float(rng.uniform(0.8, 1.25))
    cw = min(w, round(w * math.sqrt(share) * aspect))
    ch = min(h, round(w * h * share / cw))
    x = int(rng.integers(0, w - cw + 1))
    y = int(rng.integers(0, h - ch + 1))
    return img.crop((x, y, x + cw, y + ch))


def draw_logo(img, text="NEWS24", corner=0, rel=0.16):
    """A fixed outlet-style logo in a corner (same text -> same logo)."""
    img = img.copy()
    w, h = img.size
    lw = max(40, int(w * rel))
    lh = max(16, lw // 3)
    x = 10 if corner in (0, 3) else w - lw - 10
    y = 10 if corner in (0, 1) else h - lh - 10
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((x, y, x + lw, y + lh), radius=lh // 4, fill=(200, 20, 30))
    draw.text((x + lh // 5, y + lh // 6), text, fill="white", font=_font(lh * 0.6))
    draw.ellipse((x + lw - lh * 0.8, y + lh * 0.2, x + lw - lh * 0.2, y + lh * 0.8), fill="white")
    return img


def draw_banner(img, text="BREAKING: officials confirm the report", below=False, rel=0.2):
    """The picture with a caption banner above or below (same text -> same banner)."""
    w, h = img.size
    bh = max(30, int(h * rel))
    canvas = Image.new("RGB", (w, h + bh), (20, 20, 20))
    canvas.paste(img, (0, 0 if below else bh))
    draw = ImageDraw.Draw(canvas)
    y0 = h if below else 0
    size = bh * 0.3
    draw.text((12, y0 + bh * 0.12), text, fill="white", font=_font(size))
    draw.text((12, y0 + bh * 0.55), "Source: agency wire, 12 May", fill=(200, 200, 200), font=_font(size * 0.8))
    return canvas


def _screenshot(img, rng):
    width = int(rng.integers(720, 1081))
    dark = bool(rng.integers(0, 2))
    bg, fg = ((0, 0, 0), (230, 230, 230)) if dark else ((255, 255, 255), (20, 20, 20))
    pw = int(width * 0.85)
    ph = int(img.size[1] * pw / img.size[0])
    height = max(int(width * 2.1), ph + int(width * 0.9))
    canvas = Image.new("RGB", (width, height), bg)
    draw = ImageDraw.Draw(canvas)
    u = width / 100
    draw.rectangle((0, 0, width, 9 * u), fill=(29, 161, 242) if not dark else (21, 32, 43))
    draw.text((4 * u, 2.5 * u), "Home", fill="white", font=_font(4 * u))
    draw.ellipse((4 * u, 12 * u, 14 * u, 22 * u), fill=(120, 90, 200))
    draw.text((17 * u, 13 * u), "Some Account @someaccount", fill=fg, font=_font(3.5 * u))
    for i, line in enumerate(["Look at what happened downtown today, unbelievable",
                              "scenes. Thread below #news #breaking"]):
        draw.text((4 * u, (25 + 5 * i) * u), line, fill=fg, font=_font(3.3 * u))
    top = int(37 * u)
    canvas.paste(img.resize((pw, ph), Image.Resampling.LANCZOS), ((width - pw) // 2, top))
    y = top + ph + 3 * u
    for i, label in enumerate(["Reply 12", "Repost 340", "Like 1.2K", "Share"]):
        x = 5 * u + i * 24 * u
        draw.rounded_rectangle((x, y, x + 20 * u, y + 7 * u), radius=2 * u, outline=fg, width=2)
        draw.text((x + 2 * u, y + 1.5 * u), label, fill=fg, font=_font(3 * u))
    draw.text((4 * u, y + 12 * u), "Show more replies", fill=(29, 161, 242), font=_font(3.3 * u))
    return _jpeg(canvas, int(rng.integers(70, 95)))


def _letterbox(img, rng):
    w, h = img.size
    if w >= h:  # landscape: bars above and below
        size = (w, int(h * rng.uniform(1.3, 1.8)))
    else:  # portrait: bars left and right
        size = (int(w * rng.uniform(1.3, 1.8)), h)
    canvas = Image.new("RGB", size, (0, 0, 0))
    canvas.paste(img, ((size[0] - w) // 2, (size[1] - h) // 2))
    return canvas


def _colour(img, rng):
    from PIL import ImageEnhance

    img = ImageEnhance.Color(img).enhance(float(rng.uniform(0.3, 1.8)))
    img = ImageEnhance.Brightness(img).enhance(float(rng.uniform(0.7, 1.3)))
    img = ImageEnhance.Contrast(img).enhance(float(rng.uniform(0.6, 1.5)))
    hsv = np.asarray(img.convert("HSV")).copy()
    hsv[..., 0] = (hsv[..., 0].astype(int) + int(rng.integers(-30, 30))) % 256
    return Image.fromarray(hsv, "HSV").convert("RGB")


def _rotate(img, rng):
    angle = float(rng.uniform(2, 5)) * (1 if rng.integers(0, 2) else -1)
    w, h = img.size
    rotated = img.rotate(angle, resample=Image.Resampling.BICUBIC)
    a = math.radians(abs(angle))
    # largest axis-aligned rectangle of the same aspect inside the rotated frame
    factor = 1 / (math.cos(a) + math.sin(a) * max(w / h, h / w))
    cw, ch = int(w * factor), int(h * factor)
    return rotated.crop(((w - cw) // 2, (h - ch) // 2, (w + cw) // 2, (h + ch) // 2))


def _combo(img, rng):
    img = _crop_area(img, rng, 0.7)
    img = draw_logo(img, "TV9", corner=int(rng.integers(0, 4)))
    img = _jpeg(img, 50)
    return img.resize((max(1, img.size[0] // 2), max(1, img.size[1] // 2)), Image.Resampling.BILINEAR)


def _collage(img, rng):
    other = Image.fromarray((rng.random((img.size[1] // 8, img.size[0] // 8, 3)) * 255).astype(np.uint8))
    other = other.resize(img.size, Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(3))
    canvas = Image.new("RGB", (img.size[0] * 2 + 10, img.size[1]), "white")
    left = bool(rng.integers(0, 2))
    canvas.paste(img, (0 if left else img.size[0] + 10, 0))
    canvas.paste(other, (img.size[0] + 10 if left else 0, 0))
    return canvas


def _screen_photo(img, rng):
    import cv2

    scale = 900 / max(img.size)
    img = img.resize((max(1, int(img.size[0] * scale)), max(1, int(img.size[1] * scale))))
    w, h = img.size
    pad = int(0.12 * max(w, h))
    canvas = np.full((h + 2 * pad, w + 2 * pad, 3), 25, np.uint8)
    canvas[pad:pad + h, pad:pad + w] = np.asarray(img)
    src = np.float32([[pad, pad], [pad + w, pad], [pad + w, pad + h], [pad, pad + h]])
    jitter = rng.uniform(-0.08, 0.08, (4, 2)) * np.float32([w, h])
    dst = src + jitter.astype(np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    out = cv2.warpPerspective(canvas, matrix, (canvas.shape[1], canvas.shape[0]), borderValue=(25, 25, 25))
    out = cv2.GaussianBlur(out, (0, 0), float(rng.uniform(0.8, 1.8)))
    out = out.astype(np.float32) * float(rng.uniform(0.8, 1.1)) + rng.normal(0, 6, out.shape)
    return _jpeg(Image.fromarray(np.clip(out, 0, 255).astype(np.uint8)), 80)


STAND_IN_EDITS = {
    "jpeg30": lambda img, rng: _jpeg(img, 30),
    "resize40": lambda img, rng: img.resize((max(1, int(img.size[0] * .4)), max(1, int(img.size[1] * .4))),
                                            Image.Resampling.BILINEAR),
    "crop80": lambda img, rng: _crop_area(img, rng, 0.8),
    "crop50": lambda img, rng: _crop_area(img, rng, 0.5),
    "logo": lambda img, rng: draw_logo(img, "CH7", corner=int(rng.integers(0, 4))),
    "banner": lambda img, rng: draw_banner(img, "Caption of the moment", below=bool(rng.integers(0, 2))),
    "screenshot": _screenshot,
    "letterbox": _letterbox,
    "mirror": lambda img, rng: ImageOps.mirror(img),
    "grayscale": lambda img, rng: ImageOps.grayscale(img).convert("RGB"),
    "colour": _colour,
    "rotate": _rotate,
    "combo": _combo,
    "collage": _collage,
    "screen_photo": _screen_photo,
}


def _ui_only(rng):
    blank = Image.new("RGB", (600, 50), (245, 245, 245))
    shot = _screenshot(blank, rng)
    return shot


def _text_page(rng):
    page = Image.new("RGB", (900, 1200), "white")
    draw = ImageDraw.Draw(page)
    words = ["the", "report", "said", "officials", "city", "night", "confirmed", "video", "image", "posted"]
    for row in range(40):
        line = " ".join(words[int(i)] for i in rng.integers(0, len(words), 9))
        draw.text((50, 40 + row * 28), line, fill="black", font=_font(20))
    return page


def _logos_buttons(rng):
    canvas = Image.new("RGB", (800, 600), (240, 240, 240))
    canvas = draw_logo(canvas, "NEWS24", 0)
    canvas = draw_logo(canvas, "CH7", 2)
    draw = ImageDraw.Draw(canvas)
    for i in range(4):
        draw.rounded_rectangle((100 + i * 150, 300, 220 + i * 150, 350), radius=10, fill=(29, 161, 242))
        draw.text((115 + i * 150, 312), ["Like", "Share", "Reply", "Save"][i], fill="white", font=_font(22))
    return canvas


STAND_IN_DEGENERATE = {
    "flat_grey": lambda rng: Image.new("RGB", (800, 600), (int(rng.integers(0, 256)),) * 3),
    "gradient": lambda rng: Image.fromarray(np.tile(np.linspace(0, 255, 800, dtype=np.uint8), (600, 1)))
    .convert("RGB").rotate(float(rng.uniform(0, 360))),
    "checkerboard": lambda rng: Image.fromarray(
        (((np.indices((600, 800)) // int(rng.integers(8, 64))).sum(0) % 2) * 255).astype(np.uint8)).convert("RGB"),
    "text_page": _text_page,
    "ui_only": _ui_only,
    "logos_buttons": _logos_buttons,
}


# --- measurement ----------------------------------------------------------------

PERMISSIVE = dict(MIN_INLIERS=6, MIN_HULL_SHARE=0.0, MIN_VISIBLE_SHARE=0.0, MIN_BLOCKS=0,
                  MIN_BLOCK_SHARE=0.0)


def build_index(photos, degenerate, rng):
    """Index originals, plus look-alike traps; return (index, features by id, labels)."""
    index = LocalFeatureIndex()
    features, labels = {}, {}

    def add(item_id, image, label):
        features[item_id] = extract(image)
        labels[item_id] = label
        index.add(item_id, features[item_id])

    for i, photo in enumerate(photos):
        add(i, photo.image, f"orig:{photo.name}")
    # traps: every photo also indexed with the SAME logo and the SAME banner
    for i, photo in enumerate(photos):
        add(10_000 + i, draw_logo(photo.image, "NEWS24", 1), f"logo:{photo.name}")
        add(20_000 + i, draw_banner(photo.image, "BREAKING: officials confirm the report"), f"banner:{photo.name}")
    for j, (name, make) in enumerate(degenerate.items()):
        add(30_000 + j, make(np.random.default_rng(j)), f"degenerate:{name}")
    return index, features, labels


def query_rows(query_image, truth: set[int], index, features, kind: str, query_name: str):
    """Stats of every (query, candidate) pair with acceptance thresholds off."""
    saved = {name: getattr(local_match, name) for name in PERMISSIVE}
    for name, value in PERMISSIVE.items():
        setattr(local_match, name, value)
    try:
        started = time.perf_counter()
        query = extract(query_image, for_query=True, keep_working=True)
        flipped = extract_mirrored(query)
        rows = []
        for feats, mirrored in ((query, False), (flipped, True)):
            for rank, (item_id, votes) in enumerate(index.candidates(feats, CANDIDATES)):
                match = local_match.verify(feats, features[item_id], item_id, mirrored=mirrored)
                row = dict(kind=kind, query=query_name, item=item_id, true=item_id in truth,
                           mirrored=mirrored, rank=rank, votes=votes)
                if match is not None:
                    row.update(inliers=match.inliers, hull=match.hull_share, visible=match.visible_share,
                               ncc=match.ncc_blocks, blocks=match.blocks_compared,
                               quad=match.quad_in_query, edits=match.edits)
                rows.append(row)
        return rows, time.perf_counter() - started
    finally:
        for name, value in saved.items():
            setattr(local_match, name, value)


def accepted(row, k: int) -> bool:
    """Would search() with the library's thresholds accept this pair?"""
    return (
        row["rank"] < k and "inliers" in row
        and row["inliers"] >= local_match.MIN_INLIERS
        and row["hull"] >= local_match.MIN_HULL_SHARE
        and row["visible"] >= local_match.MIN_VISIBLE_SHARE
        and row["blocks"] >= local_match.MIN_BLOCKS
        and row["ncc"] >= local_match.MIN_BLOCK_SHARE
    )


def make_queries(photos, edits, degenerate, distractor, others):
    """(kind, name, image, set of true item ids) for every query of the run."""
    for i, photo in enumerate(photos):
        for seed in range(SEEDS):
            for kind, edit in edits.items():
                rng = np.random.default_rng(1000 * seed + zlib.crc32(kind.encode()) % 997 + i)
                yield kind, photo.name, edit(photo.image, rng), {i}
        # a different photo carrying the SAME logo / banner as the traps: only
        # its own original (i) is a true match
        yield "shared_logo", photo.name, draw_logo(photos[i].image, "NEWS24", 1), {i, 10_000 + i}
        yield "shared_banner", photo.name, draw_banner(photos[i].image, "BREAKING: officials confirm the report"), \
            {i, 20_000 + i}
    for j, (name, make) in enumerate(degenerate.items()):
        for seed in range(3):
            yield f"degenerate:{name}", name, make(np.random.default_rng(100 + seed)), set()
    for photo in others:
        yield "never_indexed", photo.name, photo.image, set()
    if distractor is not None:
        for n in range(int(os.environ.get("DISTRACTORS", "300"))):
            yield "distractor", f"d{n}", distractor(n), set()


def summarise(rows, k: int, times):
    """Print distributions, recall per kind and false matches."""
    by_query: dict[tuple, list] = {}
    for row in rows:
        by_query.setdefault((row["kind"], row["query"], row.get("seed", 0)), []).append(row)
    true_pairs = [r for r in rows if r["true"] and "inliers" in r]
    false_pairs = [r for r in rows if not r["true"] and "inliers" in r]

    def quant(values, qs=(0, 0.01, 0.05, 0.5, 0.95, 1)):
        if not values:
            return "-"
        v = sorted(values)
        return " ".join(f"{v[min(len(v) - 1, int(q * (len(v) - 1)))]:.3g}" for q in qs)

    print("\nstat      true pairs (min p1 p5 p50 p95 max)   |   false pairs (min p1 p5 p50 p95 max)")
    for stat in ("inliers", "hull", "visible", "ncc", "blocks"):
        print(f"{stat:8s}  {quant([r[stat] for r in true_pairs]):36s} | {quant([r[stat] for r in false_pairs])}")
    geometric_false = [r for r in false_pairs if r["inliers"] >= local_match.MIN_INLIERS]
    print(f"\nfalse pairs passing the inlier count ({len(geometric_false)}):")
    for stat in ("hull", "visible", "ncc", "blocks"):
        print(f"  {stat:8s} {quant([r[stat] for r in geometric_false])}")
    print("  top false pairs by ncc:")
    for r in sorted(geometric_false, key=lambda r: -r["ncc"])[:12]:
        print(f"    {r['kind']:16s} {r['query']:24s} item={r['item']:6d} inl={r['inliers']:4d} "
              f"hull={r['hull']:.3f} vis={r['visible']:.2f} ncc={r['ncc']:.2f} blocks={r['blocks']}")

    print("\nkind             queries  recall  true-rank-max  false-matches  min-true-ncc  min-true-hull")
    kinds = sorted({key[0] for key in by_query})
    total_false = 0
    for kind in kinds:
        queries = [v for key, v in by_query.items() if key[0] == kind]
        hits = 0
        ranks, false_count, nccs, hulls = [], 0, [], []
        expects_match = not kind.startswith(("degenerate", "never", "distractor"))
        for qrows in queries:
            true_rows = [r for r in qrows if r["true"] and r["item"] < 10_000]
            if any(accepted(r, k) for r in true_rows):
                hits += 1
            if true_rows:
                ranks.append(min(r["rank"] for r in true_rows))
                best = max(true_rows, key=lambda r: r.get("inliers", 0))
                nccs.append(best.get("ncc", 0))
                hulls.append(best.get("hull", 0))
            false_count += sum(1 for r in qrows if not r["true"] and accepted(r, k))
        total_false += false_count
        recall = f"{hits / len(queries):.3f}" if expects_match else "  -  "
        print(f"{kind:16s} {len(queries):7d}  {recall}  {max(ranks) if ranks else '-':>13}  {false_count:13d}"
              f"  {min(nccs) if nccs else '-':>12}  {min(hulls) if hulls else '-':>12}")
    print(f"total false matches: {total_false}")
    if times:
        print(f"query time incl. all {CANDIDATES} candidates verified: median {statistics.median(times) * 1000:.0f} ms")


def misses(rows, k: int, limit: int = 30):
    """Print the queries whose true item was not accepted, with the reason."""
    by_query: dict[tuple, list] = {}
    for row in rows:
        by_query.setdefault((row["kind"], row["query"], row.get("seed", 0)), []).append(row)
    shown = 0
    for key, qrows in by_query.items():
        if key[0].startswith(("degenerate", "never", "distractor")):
            continue
        true_rows = [r for r in qrows if r["true"] and r["item"] < 10_000]
        if any(accepted(r, k) for r in true_rows):
            continue
        best = max(true_rows, key=lambda r: r.get("inliers", 0), default=None)
        print("MISS", key, {k2: best.get(k2) for k2 in ("rank", "votes", "inliers", "hull", "visible", "ncc",
                                                         "blocks", "mirrored")} if best else "not a candidate")
        shown += 1
        if shown >= limit:
            break


def _run_query(args):
    kind, name, seed, image, truth = args
    rows, elapsed = query_rows(image, truth, _STATE["index"], _STATE["features"], kind, name)
    for row in rows:
        row["seed"] = seed
    return rows, elapsed


_STATE: dict = {}


def measure(half: str, out: str, workers: int):
    photos, others = load_corpus(half)
    edits, degenerate, distractor = load_edits()
    index, features, labels = build_index(photos, degenerate, np.random.default_rng(0))
    _STATE.update(index=index, features=features)
    jobs = []
    seen: dict[tuple, int] = {}
    for kind, name, image, truth in make_queries(photos, edits, degenerate, distractor, others):
        seed = seen.get((kind, name), 0)
        seen[(kind, name)] = seed + 1
        jobs.append((kind, name, seed, image, truth))
    print(f"{len(index)} items indexed, {len(jobs)} queries")
    rows, times = [], []
    if workers > 1:
        import multiprocessing

        import cv2

        cv2.setNumThreads(1)
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for result, elapsed in pool.imap_unordered(_run_query, jobs, chunksize=4):
                rows.extend(result)
                times.append(elapsed)
    else:
        for job in jobs:
            result, elapsed = _run_query(job)
            rows.extend(result)
            times.append(elapsed)
    with open(out, "w") as handle:
        json.dump(rows, handle)
    return rows, times


def timing(n_items: int, n_queries: int = 40):
    """Index n synthetic items (edited corpus photos) and time search() + extract()."""
    photos, _ = load_corpus("tune")
    edits, _, _ = load_edits()
    rng = np.random.default_rng(7)
    kinds = list(edits)
    started = time.perf_counter()
    pool = [extract(p.image) for p in photos]
    extract_ms = (time.perf_counter() - started) / len(photos) * 1000
    index = LocalFeatureIndex()
    # Synthetic items: descriptors drawn from many corpus photos so that their
    # distribution is realistic; ids beyond the photos never verify.
    batch = []
    for item in range(n_items):
        donor = pool[item % len(pool)]
        other = pool[int(rng.integers(0, len(pool)))]
        take = rng.permutation(len(donor))[: len(donor) // 2]
        take2 = rng.permutation(len(other))[: len(other) // 2]
        descriptors = np.concatenate([donor.descriptors[take], other.descriptors[take2]])
        # flip ~6 % of the bits: near, not exact, duplicates of real descriptors
        descriptors = descriptors ^ np.packbits(rng.random((len(descriptors), 256)) < 0.06, axis=1)
        fake = type(donor)(original_size=donor.original_size, working_size=donor.working_size,
                           points=donor.points[: len(descriptors)], descriptors=descriptors,
                           template=donor.template, colour=donor.colour)
        batch.append((1_000_000 + item, fake))
    index.add_many(batch)
    for i, features in enumerate(pool):
        index.add(i, features)
    build_s = time.perf_counter() - started
    print(f"{len(index)} items, {index.descriptor_count} descriptors, ivf={index.is_ivf}, built in {build_s:.1f} s")
    load = {i: f for i, f in enumerate(pool)}
    times, found = [], 0
    for q in range(n_queries):
        i = q % len(photos)
        kind = kinds[q % len(kinds)]
        image = edits[kind](photos[i].image, rng)
        started = time.perf_counter()
        matches = local_match.search(image, index, lambda item: load.get(item, batch[0][1]))
        times.append(time.perf_counter() - started)
        found += any(m.item_id == i for m in matches)
    print(f"extract per indexed image: {extract_ms:.0f} ms; search median {statistics.median(times) * 1000:.0f} ms, "
          f"p90 {sorted(times)[int(0.9 * len(times))] * 1000:.0f} ms; found {found}/{n_queries}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--half", default="tune", choices=["tune", "report"])
    parser.add_argument("--rows", default="/tmp/local_tuning_rows.json", help="where raw pair stats go")
    parser.add_argument("--reuse", action="store_true", help="re-summarise saved rows, no queries")
    parser.add_argument("--k", type=int, default=12, help="candidates verified per query side")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timing", type=int, default=0, help="time search() with this many items")
    args = parser.parse_args()
    if args.timing:
        timing(args.timing)
        return
    if args.reuse:
        with open(args.rows) as handle:
            rows, times = json.load(handle), []
    else:
        rows, times = measure(args.half, args.rows, args.workers)
    summarise(rows, args.k, times)
    misses(rows, args.k)


if __name__ == "__main__":
    main()
