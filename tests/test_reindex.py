"""Re-indexing after an algorithm upgrade: what an older version fingerprinted is found, read again
from its files, given the current prints, and matched again; interrupted runs resume."""

from pathlib import Path

import pytest
from sqlalchemy import text

from provenance import Ledger, check, reindex, scan
from provenance import local_features
from provenance.fingerprints import PDQ, PHash
from provenance.index_store import index_folder
from provenance.reindex import has_outdated, outdated_items
from provenance.video import Track

from .conftest import photo, save
from .videos import slideshow, write_video

NAMES = ["astronaut", "coffee", "chelsea"]
#: The versions installed, which _upgrade replaces (PDQ and pHash were bumped together).
OLD = {"fingerprint": PDQ.version, "local_features": local_features.VERSION}
assert PHash.version == PDQ.version


def _archive(root: Path) -> None:
    for name in NAMES:
        save(photo(name), root / f"{name}.jpg")


def _queries(root: Path) -> dict[str, Path]:
    """A crop (found by the local features) and a small copy (found by PDQ), outside the archive."""
    chelsea = photo("chelsea")
    w, h = chelsea.size
    return {
        "chelsea.jpg": save(chelsea.crop((w // 5, h // 6, w * 4 // 5, h * 5 // 6)), root / "crop.jpg"),
        "coffee.jpg": save(photo("coffee").resize((200, 133)), root / "small.jpg", quality=50),
    }


def _found(led: Ledger, queries: dict[str, Path]) -> dict[str, set[str]]:
    return {original: {Path(m.path).name for m in result.matches if m.path}
            for original, result in zip(queries, check(led, list(queries.values())))}


def _upgrade(monkeypatch, *, track: bool = False) -> None:
    """What installing a provenance whose algorithms changed their output does: new versions."""
    monkeypatch.setattr(PDQ, "version", "99")
    monkeypatch.setattr(PHash, "version", "99")
    monkeypatch.setattr(local_features, "VERSION", "99")
    if track:
        monkeypatch.setattr(Track, "VERSION", "99")


def _rows(led: Ledger, table: str, version: str) -> int:
    """Rows of one version in fingerprint (but SHA-256's, which never changes) or local_features."""
    return led.session.execute(text(f"SELECT count(*) FROM {table} WHERE version = :v AND algorithm != 'sha256'"),
                               {"v": version}).scalar()


def test_an_upgrade_hides_older_items_until_they_are_reindexed(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # a server ledger's index files
    _archive(tmp_path / "arch")
    queries = _queries(tmp_path)
    with Ledger(db_url) as led:
        assert scan(led, tmp_path / "arch").new_items == 3
        before = _found(led, queries)
        assert before == {"chelsea.jpg": {"chelsea.jpg"}, "coffee.jpg": {"coffee.jpg"}}
        assert outdated_items(led) == [] and not has_outdated(led)

        folder, prefix = index_folder(led)
        before_files = {p.name[len(prefix):] for p in folder.glob(prefix + ".*-v*")}
        v = PDQ.version
        assert {f".pdq-v{v}.npz", f".phash-v{v}.npz", f".pdq-v{v}.npz.json"} <= before_files

        _upgrade(monkeypatch)
        items = sorted(i for i, in led.session.execute(text("SELECT id FROM item")))
        assert outdated_items(led) == items and has_outdated(led)
        assert _found(led, queries) == {"chelsea.jpg": set(), "coffee.jpg": set()}  # invisible, not mixed

        summary = reindex(led)
        assert (summary.outdated, summary.refreshed, summary.unreadable) == (3, 3, [])
        assert outdated_items(led) == [] and not has_outdated(led)
        for table, algorithms in (("fingerprint", 2), ("local_features", 1)):
            assert _rows(led, table, "99") == 3 * algorithms
            old = OLD[table]
            assert _rows(led, table, old) == 0
        assert led.session.execute(text("SELECT count(*) FROM fingerprint WHERE algorithm = 'sha256'")).scalar() == 3
        assert _found(led, queries) == before
        # the older versions' index files are gone; the current ones were saved by the re-index
        after_files = {p.name[len(prefix):] for p in folder.glob(prefix + ".*-v*")}
        assert after_files and all("-v99." in name for name in after_files), after_files
        assert sorted(summary.removed_files) == sorted(str(folder / (prefix + n)) for n in before_files)

        again = reindex(led)
        assert (again.outdated, again.refreshed) == (0, 0)


def test_items_without_a_usable_copy_are_listed_and_keep_their_rows(tmp_path, monkeypatch):
    _archive(tmp_path / "arch")
    with Ledger(tmp_path / "l.db") as led:
        scan(led, tmp_path / "arch")
        imported, _ = led.add_hash_item(PDQ.name, PDQ.version, "f" * 64, 100)
        led.commit()
        (tmp_path / "arch" / "coffee.jpg").unlink()
        save(photo("rocket"), tmp_path / "arch" / "chelsea.jpg")  # another picture under the old name
        _upgrade(monkeypatch)
        summary = reindex(led, batch_size=2)
        reasons = dict(summary.unreadable)
        ids = {Path(p).name: i for i, p in led.session.execute(text("SELECT item_id, path FROM sighting"))}
        assert summary.refreshed == 1 and set(reasons) == {ids["coffee.jpg"], ids["chelsea.jpg"], imported.id}
        assert "no such file" in reasons[ids["coffee.jpg"]]
        assert "changed since it was indexed" in reasons[ids["chelsea.jpg"]]
        assert "imported hash" in reasons[imported.id]
        # still outdated, still holding what the older version computed (a downgrade finds them)
        assert outdated_items(led) == sorted(reasons)
        assert _rows(led, "fingerprint", OLD["fingerprint"]) == 2 * 2 + 1


def test_an_interrupted_reindex_loses_nothing_and_resumes(tmp_path, monkeypatch):
    _archive(tmp_path / "arch")
    with Ledger(tmp_path / "l.db") as led:
        scan(led, tmp_path / "arch")
        _upgrade(monkeypatch)
        module = reindex.__globals__  # provenance.reindex's namespace (the package exports the function)
        real = module["fingerprint_file"]
        calls = []

        def interrupt_on_the_third(path, **kw):
            calls.append(path)
            if len(calls) == 3:
                raise KeyboardInterrupt
            return real(path, **kw)

        monkeypatch.setitem(module, "fingerprint_file", interrupt_on_the_third)
        with pytest.raises(KeyboardInterrupt) as caught:
            reindex(led, batch_size=2)
        assert caught.value.summary.interrupted and caught.value.summary.refreshed == 2
        assert len(outdated_items(led)) == 1  # the first batch was committed, the second rolled back
        monkeypatch.setitem(module, "fingerprint_file", real)
        assert reindex(led, workers=2).refreshed == 1
        assert outdated_items(led) == []
        per_item = led.session.execute(text(
            "SELECT item_id, algorithm, count(*) FROM fingerprint GROUP BY item_id, algorithm")).all()
        assert len(per_item) == 3 * 3 and all(n == 1 for _, _, n in per_item)


def test_a_video_is_decoded_again_for_its_keyframes_and_track(tmp_path, monkeypatch):
    root = tmp_path / "arch"
    write_video(root / "clip.mp4", slideshow(["astronaut", "coffee"], fps=12, shot_s=2.5), 12)
    with Ledger(tmp_path / "l.db") as led:
        scan(led, root)
        frames = led.session.execute(text("SELECT count(*) FROM frame")).scalar()
        assert frames >= 2
        _upgrade(monkeypatch, track=True)
        assert len(outdated_items(led)) == 1 + frames  # the video (its track) and every keyframe
        summary = reindex(led)
        assert (summary.outdated, summary.refreshed, summary.frames_refreshed) == (frames, 1, frames)
        assert summary.frames_left == [] and outdated_items(led) == []
        assert led.session.execute(text("SELECT track_version FROM video")).scalar() == "99"
        shot = tmp_path / "shot.png"
        photo("coffee").resize((320, 180)).save(shot)
        (result,) = check(led, [shot])
        assert result.matches and Path(result.matches[0].path).name == "clip.mp4"


def test_a_new_hash_version_reads_files_for_their_hashes_alone(tmp_path, monkeypatch):
    """When only the global hashes changed, local features are neither computed again nor given
    to items a hashes-only scan left without them (the full scan that completes them matches them)."""
    _archive(tmp_path / "full")
    save(photo("rocket"), tmp_path / "quick" / "rocket.jpg")
    with Ledger(tmp_path / "l.db") as led:
        scan(led, tmp_path / "full")
        scan(led, tmp_path / "quick", hashes_only=True)
        local_rows = list(led.session.execute(text("SELECT id, item_id, version FROM local_features ORDER BY id")))
        assert len(local_rows) == 3
        monkeypatch.setattr(PDQ, "version", "99")
        monkeypatch.setattr(PHash, "version", "99")
        calls = []
        module = reindex.__globals__  # provenance.reindex's namespace
        real = module["fingerprint_file"]
        monkeypatch.setitem(module, "fingerprint_file", lambda path, **k: calls.append(k["hashes_only"]) or real(path, **k))
        summary = reindex(led)
        assert (summary.outdated, summary.refreshed, summary.unreadable) == (4, 4, [])
        assert calls == [True] * 4 and outdated_items(led) == []
        assert list(led.session.execute(text("SELECT id, item_id, version FROM local_features ORDER BY id"))) == local_rows
        assert _rows(led, "fingerprint", "99") == 4 * 2
        full = scan(led, tmp_path / "quick")  # completes the hashes-only item
        assert full.completed == 1
