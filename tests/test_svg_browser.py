"""The SVG format in a real browser: headless Chromium draws our picture and rich's `export_svg` of the same
lines, and the two screenshots must be the same, pixel by pixel but for the anti-aliasing of glyphs.

Our document puts a line's characters in one `<text>` whose `textLength` spaces them a cell apart, where rich
gives each piece its own `textLength`; the glyphs land within a fraction of a pixel of rich's, so the edge
pixels of some glyphs differ a little (at most 50 of 255 in any channel on lecture, homework-cnn and hostile
names, in under 0.7 % of the pixels). A glyph in the wrong cell, a wrong colour, weight, slant, underline or
background, or a line a pixel off, changes pixels by far more than that. Remote fonts are off: both documents
ask for Fira Code, and both then get the same local monospace font.
Skipped, with the reason, where Chromium (or Pillow, to read the screenshots) is not installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_svg import STYLED, both, hostile_network, rich_export

from bpexplain.api import load
from bpexplain.engine import RunOptions, run
from bpexplain.render import render_to_string
from bpexplain.spec import load_network

BROWSER = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="Chromium is not installed: `make test-browser` installs it (apt-get install chromium)"
)
np = pytest.importorskip("numpy")
Image = pytest.importorskip("PIL.Image", reason="Pillow reads the screenshots (pip install pillow)")

MOST = 96  # the most a pixel may differ in a channel (of 255): anti-aliasing, not a glyph or colour
SHARE = 0.02  # the share of pixels that may differ at all


def screenshot(svg: str, path: Path) -> np.ndarray:
    """The document as Chromium draws it in a window of its own size, as RGB pixels."""
    width, height = (float(v) for v in re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg).groups())  # type: ignore[union-attr]
    path.with_suffix(".svg").write_text(svg, encoding="utf-8")
    subprocess.run(
        [
            BROWSER,  # type: ignore[list-item]
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--disable-remote-fonts",
            "--force-device-scale-factor=1",
            f"--user-data-dir={path.parent / 'profile'}",
            f"--window-size={int(width)},{int(height) + 1}",
            f"--screenshot={path.with_suffix('.png')}",
            path.with_suffix(".svg").resolve().as_uri(),
        ],
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert path.with_suffix(".png").exists(), "Chromium wrote no screenshot"
    return np.asarray(Image.open(path.with_suffix(".png")).convert("RGB")).astype(int)


def events_of(case: str) -> list:
    if case == "hostile":
        spec = load(hostile_network("a & b < c > d \" ' ` <script>]]> [bold]x[/bold] 漢字"))
        return list(run(spec, RunOptions(command="train", steps=1)))
    name, command = case.split(":")
    return list(run(load_network(name), RunOptions(command=command, steps=1)))


def pictures(case: str) -> tuple[str, str]:
    if case == "styled":
        return both(STYLED, 40, "styles, backgrounds, wide characters")
    events = events_of(case)
    return render_to_string(events, "svg"), rich_export(events)


@pytest.mark.parametrize("case", ["lecture:train", "homework-cnn:forward", "hostile", "styled"])
def test_chromium_draws_our_svg_as_it_draws_rich_s(case: str, tmp_path: Path) -> None:
    ours, theirs = pictures(case)
    a, b = screenshot(ours, tmp_path / "ours"), screenshot(theirs, tmp_path / "rich")
    assert a.shape == b.shape
    differ = np.abs(a - b).max(axis=2)
    assert differ.max() <= MOST, (
        f"a pixel differs by {differ.max()} at {np.unravel_index(differ.argmax(), differ.shape)}"
    )
    assert (differ > 0).mean() <= SHARE
    drawn = np.abs(a - a[60, 60]).max(axis=2) > 64  # pixels unlike the terminal's background: the text
    assert drawn.mean() > 0.01  # something was drawn (a blank picture would match a blank one)
