"""Raw figures of true and false pairs on the TUNE half, for the matcher's corroboration rules.

    .venv/bin/python benchmarks/pair_stats.py                 # measure, then summarise
    .venv/bin/python benchmarks/pair_stats.py --reuse         # summarise saved pairs
    .venv/bin/python benchmarks/pair_stats.py --look crop     # the queries described as the crop look does

True pairs: every tune-half indexed photo (match_quality.build_sets("tune")) under every kind of
edit (benchmarks/edits.py, as match_quality.py makes them), against its original.  False pairs:
GENERATED scenes never used by the report run (seeds "tune-query:N" queried against an index of
"tune-distractor:N" scenes plus the photos), and the never-indexed tune photos.  For each query it
records PDQ (best dihedral variant) and pHash distances to every item within PDQ 40, and for the
12 best-voted local-feature candidates (both sides of the mirror) the verification figures with
the acceptance thresholds off: inliers, inlier ratio, block agreement, blocks compared, hull share,
visible share, detail NCC (provenance/local_match.py). With --look index or crop, the queries are
described at the scale of local_match.search's second look or crop look instead of the first look's
(saved to their own file).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
from PIL import Image  # noqa: E402

import edits as E  # noqa: E402
import match_quality as mq  # noqa: E402
from provenance import local_features as lf  # noqa: E402
from provenance import local_match as lm  # noqa: E402
from provenance import matcher as matcher_module  # noqa: E402
from provenance.fingerprints import PDQ, PHash  # noqa: E402
from provenance.local_index import LocalFeatureIndex  # noqa: E402
from provenance.media import QUERY_WORKING_SIDE, WORKING_SIDE, decode_image  # noqa: E402
from provenance.prints import fingerprint_image  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "bench-cache" / "pair_stats" / "pairs.jsonl"
LOOK = "first"
PERMISSIVE = dict(MIN_INLIERS=6, MIN_HULL_SHARE=0.0, MIN_VISIBLE_SHARE=0.0, MIN_BLOCKS=0,
                  MIN_BLOCK_SHARE=0.0, WEAK_MATCH_BLOCK_SHARE=0.0, MIN_DETAIL_NCC=-2.0)
_STATE: dict = {}


def _jpeg(img: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    img.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _ham(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def _index_item(args):
    item, data = args
    decoded = decode_image(data, working_side=WORKING_SIDE)
    p = fingerprint_image(decoded)
    return item, p.local_blob, p.get(PDQ.name).value, p.get(PHash.name).value


def _items(indexed, n_items: int):
    out = [(i, _jpeg(ph.image, 90)) for i, ph in enumerate(indexed)]
    out += [(1000 + n, _jpeg(E.scene(random.Random(f"tune-distractor:{n}"), (800, 600)), 85)) for n in range(n_items)]
    return out


def _queries(indexed, never, n_generated: int):
    for i, p in enumerate(indexed):
        for kind, edit in E.EDITS.items():
            r = random.Random(f"{p.name}-{kind}")
            img = edit(p.image, r, other=never[r.randrange(len(never))].image) if kind == "collage_half" else edit(p.image, r)
            yield kind, p.name, _jpeg(img, 92), i
    for j in range(n_generated):
        yield "generated", f"tq{j}", _jpeg(E.scene(random.Random(f"tune-query:{j}"), (800, 600)), 92), None
    for q in never:
        yield "never_photo", q.name, _jpeg(q.image, 92), None


def _pair(q, c) -> dict | None:
    m = lm.verify(q, c, 0)
    if m is None:
        return None
    return dict(inl=m.inliers, ratio=m.inlier_ratio, ncc=m.ncc_blocks, blocks=m.blocks_compared, hull=m.hull_share,
                vis=m.visible_share, detail=m.detail_ncc, scale=m.scale, rot=m.rotation_deg)


def _run_query(spec) -> dict:
    kind, name, data, truth = spec
    decoded = decode_image(data, working_side=QUERY_WORKING_SIDE)
    p = fingerprint_image(decoded, local=False)
    ph = p.get(PHash.name).value
    rec = dict(kind=kind, q=name, truth=truth, pdq=[], orb=[])
    for item, (_, ipdq, iph) in _STATE["items"].items():
        d = min(_ham(v, ipdq) for v in p.pdq_dihedral)
        if d <= 40 or item == truth:
            rec["pdq"].append((item, d, _ham(ph, iph)))
    q = lf.extract(decoded.image, for_query=True, keep_working=True, original_size=decoded.size,
                   at_index_scale=LOOK == "index", at_crop_scale=LOOK == "crop")
    saved = {k: getattr(lm, k) for k in PERMISSIVE}
    for k, v in PERMISSIVE.items():
        setattr(lm, k, v)
    try:
        for feats, mirrored in ((q, False), (lf.extract_mirrored(q), True)):
            cands = list(_STATE["index"].candidates(feats, 12))
            if truth is not None and truth not in [c for c, _ in cands]:
                cands.append((truth, -1.0))  # beyond the candidate stage: verified to see why
            for rank, (item, votes) in enumerate(cands):
                st = _pair(feats, lf.LocalFeatures.from_bytes(_STATE["items"][item][0]))
                if st:
                    st.update(item=item, votes=float(votes), rank=rank, mirrored=mirrored)
                    rec["orb"].append(st)
    finally:
        for k, v in saved.items():
            setattr(lm, k, v)
    return rec


def measure(n_items: int, n_generated: int, workers: int) -> None:
    import multiprocessing

    cv2.setNumThreads(1)
    indexed, never = mq.build_sets("tune")
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers) as pool:
        rows = pool.map(_index_item, _items(indexed, n_items), chunksize=16)
    _STATE["items"] = {item: (blob, pdq, ph) for item, blob, pdq, ph in rows}
    index = LocalFeatureIndex()
    index.add_many((item, lf.LocalFeatures.from_bytes(v[0])) for item, v in _STATE["items"].items())
    _STATE["index"] = index
    print(f"{len(index)} items indexed", flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w") as out, ctx.Pool(workers) as pool:
        for n, rec in enumerate(pool.imap_unordered(_run_query, _queries(indexed, never, n_generated), chunksize=4), 1):
            out.write(json.dumps(rec) + "\n")
            if n % 200 == 0:
                print(f"{n} queries", flush=True)


def _accepted(o: dict, *, new_rule: bool) -> bool:
    """Whether search verifies a measured pair (`new_rule`: with verify's detail rules)."""
    return (o["votes"] >= lm.MIN_CANDIDATE_SCORE and o["rank"] < 12
            and lm.refusal(o["inl"], o["ratio"], o["vis"], o["hull"], o["blocks"], o["ncc"], o["detail"],
                           detail_rules=new_rule) is None)


def summarise() -> None:
    recs = [json.loads(line) for line in open(OUT)]
    true, false = [], []
    for r in recs:
        for o in r["orb"]:
            (true if o["item"] == r["truth"] else false).append(dict(o, kind=r["kind"], q=r["q"]))
    print(f"{len(recs)} queries; verified pairs: {len(true)} true, {len(false)} false")

    def q(values):
        v = sorted(values)
        return " ".join(f"{v[min(len(v) - 1, int(x * (len(v) - 1)))]:.3g}" for x in (0, 0.01, 0.05, 0.5, 0.95, 1)) if v else "-"

    for rule in (False, True):
        t = [o for o in true if _accepted(o, new_rule=rule)]
        f = [o for o in false if _accepted(o, new_rule=rule)]
        print(f"\nlocal features, {'with' if rule else 'without'} the detail rules (inlier ratio, small hull): "
              f"{len(t)} true pairs accepted, {len(f)} false")
        for o in f:
            print(f"   false: {o['kind']} {o['q']} -> {o['item']} inliers {o['inl']} ratio {o['ratio']} "
                  f"blocks {o['ncc']}/{o['blocks']} detail {o['detail']}")
    near = [o for o in false if o["inl"] >= lm.MIN_INLIERS and o["ncc"] >= 0.6 and o["blocks"] >= lm.MIN_BLOCKS]
    weak = [o for o in true if _accepted(o, new_rule=False) and o["inl"] < lm.CONSISTENCY_INLIERS]
    print("\n(min p1 p5 p50 p95 max)   true accepted pairs under 40 inliers | false pairs with blocks agreeing >= 0.6")
    for stat in ("inl", "ratio", "detail", "ncc", "hull"):
        print(f"  {stat:7s} {q([o[stat] for o in weak]):40s} | {q([o[stat] for o in near])}")
    print("  true pairs under 40 inliers with ratio < 0.36 or detail < 0.86:")
    for o in sorted(weak, key=lambda o: o["ratio"]):
        if o["ratio"] < 0.36 or o["detail"] < 0.86:
            print(f"    {o['kind']:20s} {o['q']:26s} inliers {o['inl']:3d} ratio {o['ratio']:.3f} detail {o['detail']:.3f}")

    alone = matcher_module.PDQ_ALONE_MAX
    rows = []
    for r in recs:
        if r["truth"] is None:
            continue
        d = next(p for p in r["pdq"] if p[0] == r["truth"])
        verified = any(o["item"] == r["truth"] and _accepted(o, new_rule=True) for o in r["orb"])
        rows.append((r["kind"], r["q"], d[1], d[2], verified))
    hi = [x for x in rows if alone < x[2] <= PDQ.match_threshold]
    print(f"\nPDQ: true pairs within {PDQ.match_threshold}: {sum(x[2] <= PDQ.match_threshold for x in rows)}; "
          f"beyond {alone}: {len(hi)}, of which not verified by local features: "
          + (", ".join(f"{k} {n} at {d}" for k, n, d, _, v in hi if not v) or "none"))
    false_pdq = sorted((d, ph, r["q"], item) for r in recs for item, d, ph in r["pdq"] if item != r["truth"])
    print("closest false PDQ pairs (distance, pHash, query, item):", false_pdq[:8])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reuse", action="store_true", help="summarise the saved pairs only")
    ap.add_argument("--items", type=int, default=1000, help="generated scenes indexed")
    ap.add_argument("--generated", type=int, default=800, help="generated scenes queried")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--look", choices=("first", "index", "crop"), default="first",
                    help="the scale at which queries are described (local_match.search's looks)")
    args = ap.parse_args()
    global OUT, LOOK
    LOOK = args.look
    if LOOK != "first":
        OUT = OUT.with_name(f"pairs-{LOOK}.jsonl")
    if not args.reuse:
        measure(args.items, args.generated, args.workers)
    summarise()


if __name__ == "__main__":
    main()
