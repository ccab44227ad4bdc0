"""plot.py's HTML timeline, opened in a real headless Chromium: the page an investigator shares.

scripts/test.sh installs Debian's chromium and names it in PROVENANCE_TEST_BROWSER; without that
variable (a bare pytest run) the browser test is skipped, and with it a browser that does not
start fails the test rather than skipping it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageColor

from provenance import Ledger, work_chain
from provenance.plot import layout, plot_chain
from provenance.works import work_of_item

from .test_exchange import small_ledger

BROWSER = os.environ.get("PROVENANCE_TEST_BROWSER")
#: What Chromium needs to start as root on a machine without a network or a display.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--force-device-scale-factor=1"]
#: The page's body margin (plot.to_html's style): the timeline's top-left corner on the screen.
MARGIN = 16


class _Elements(HTMLParser):
    """Counts of start tags, and the text of table cells, in the DOM Chromium built."""

    def __init__(self):
        super().__init__()
        self.tags: dict[str, int] = {}
        self.cells: list[str] = []
        self._in_cell = False

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self._in_cell = tag == "td"

    def handle_data(self, data):
        if self._in_cell:
            self.cells.append(data)
            self._in_cell = False


def _chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BROWSER, *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
                          capture_output=True, text=True, timeout=120, cwd=profile)


@pytest.mark.skipif(not BROWSER, reason="PROVENANCE_TEST_BROWSER not set (scripts/test.sh sets it)")
def test_timeline_page_renders_in_chromium(tmp_path):
    assert shutil.which(BROWSER), f"{BROWSER}: no such browser"
    with Ledger(tmp_path / "l.db") as led:
        ids = small_ledger(led)
        chain = work_chain(led, work_of_item(led, ids["o"]))
    page = tmp_path / "timeline.html"
    plot_chain(chain, page)
    lay = layout(chain)
    profile = tmp_path / "profile"
    profile.mkdir()

    dom = _chromium(page, profile, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    elements = _Elements()
    elements.feed(dom.stdout)
    assert elements.tags.get("svg") == 1 and elements.tags.get("tr") == 1 + len(chain.nodes)
    assert elements.tags.get("circle", 0) >= len(chain.nodes)
    assert {"agency", "relay", "echo"} <= set(elements.cells)

    width, height = lay.width + 2 * MARGIN, lay.height + 2 * MARGIN
    shot = _chromium(page, profile, f"--screenshot={tmp_path / 'shot.png'}", f"--window-size={width},{height}")
    assert shot.returncode == 0, shot.stderr[-2000:]
    with Image.open(tmp_path / "shot.png") as image:
        pixels = image.convert("RGB")
        # every sighting's dot is drawn where the layout put it, in its colour (a filled dot)
        filled = [dot for dot in lay.dots if dot.filled]
        assert filled
        for dot in filled:
            want = ImageColor.getrgb(dot.colour)
            got = pixels.getpixel((round(MARGIN + dot.x), round(MARGIN + dot.y)))
            assert max(abs(a - b) for a, b in zip(got, want)) <= 24, (dot, got)
        # and the page is not blank around them: the lanes and the axis are drawn too
        drawn = np.asarray(pixels.crop((MARGIN, MARGIN, MARGIN + lay.width, MARGIN + lay.height))).reshape(-1, 3)
        assert len(np.unique(drawn, axis=0)) > 8
