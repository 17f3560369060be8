"""The interactive page in a real browser: headless Chromium (Debian's `chromium`; `make test-browser`).

Chromium opens the page from a file with `#highlight=SYMBOL` in its address, which applies the same
marking a click does, and prints the DOM after the script ran (`--dump-dom`); its log (`--enable-logging`)
carries every console message, so a script error or a refused script (the Content-Security-Policy) shows.
Skipped, with the reason, where Chromium is not installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import bpexplain

BROWSER = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="Chromium is not installed: `make test-browser` installs it (apt-get install chromium)"
)
LOAD_SECONDS = 120  # LeNet-5's forward page (15,013 equations, 14 MB), on a slow shared machine


def open_page(path: Path, profile: Path, fragment: str = "", *extra: str) -> tuple[str, str, float]:
    """(the DOM after load, the browser's log, seconds taken) for a page opened from a file; with `extra`
    (a --screenshot), what that asks for instead of the DOM."""
    assert BROWSER is not None
    args = [
        BROWSER,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={profile}",
        *(extra or ("--dump-dom",)),
        path.resolve().as_uri() + fragment,
    ]
    began = time.monotonic()
    proc = subprocess.run(args, capture_output=True, text=True, timeout=LOAD_SECONDS + 60)
    return proc.stdout, proc.stderr, time.monotonic() - began


def console_messages(log: str) -> list[str]:
    """What the page wrote to the console (errors, refused scripts), from Chromium's log."""
    return [line for line in log.splitlines() if "CONSOLE" in line or "Uncaught" in line]


def marked(dom: str) -> dict[str, list[str]]:
    """The data-def of the rows marked as defining and as using the highlighted symbol."""
    found: dict[str, list[str]] = {"def": [], "use": []}
    for tag in re.findall(r"<tr [^>]*>", dom):
        kind = re.search(r'class="(def|use)"', tag)
        name = re.search(r'data-def="([^"]*)"', tag)
        if kind and name:
            found[kind.group(1)].append(name.group(1).replace("&amp;", "&"))
    return found


def write_page(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_lecture_page_loads_without_console_errors_and_marks_a_symbol(tmp_path: Path) -> None:
    path = write_page(tmp_path, "lecture.html", bpexplain.train("lecture", steps=1).render("html"))
    dom, log, _ = open_page(path, tmp_path / "profile", "#highlight=y_1")
    assert "<tr" in dom, log[-2000:]
    assert console_messages(log) == []
    # y_1 is defined by its activation and read by e_4, e_5, its own derivative, and w_14's, w_15's gradient
    # and update (worked by hand: it feeds neurons 4 and 5)
    found = marked(dom)
    assert found["def"] == ["y_1"]
    assert sorted(found["use"]) == sorted(["e_4", "e_5", "dh_1(e)/de", "∂E/∂w_14", "∂E/∂w_15", "w'_14", "w'_15"])
    assert "y_1: defined by 1, used by 7 equation(s)" in dom


def test_a_symbol_is_marked_in_its_own_step(tmp_path: Path) -> None:
    path = write_page(tmp_path, "lecture.html", bpexplain.train("lecture", steps=2).render("html"))
    for fragment, step in (("#highlight=y_4", 1), ("#highlight=y_4&step=2", 2)):
        dom, log, _ = open_page(path, tmp_path / "profile", fragment)
        assert console_messages(log) == []
        found = marked(dom)
        # y_4 feeds e_6, its own derivative, and w_46's gradient and update (worked by hand)
        assert found == {"def": ["y_4"], "use": ["e_6", "dh_4(e)/de", "∂E/∂w_46", "w'_46"]}, fragment
        sections = dom.split('<section class="step" id="step-')
        assert len(sections) == 3
        marked_in = [k for k, part in enumerate(sections) if 'class="def"' in part]
        assert marked_in == [step], fragment
        assert f"Step {step} (epoch {step}, sample 1), y_4: defined by 1, used by 4" in dom  # one sample an epoch


def test_a_symbol_that_is_only_read_marks_only_its_users(tmp_path: Path) -> None:
    path = write_page(tmp_path, "lecture.html", bpexplain.forward("lecture").render("html"))
    dom, log, _ = open_page(path, tmp_path / "profile", "#highlight=w_14")
    assert console_messages(log) == []
    assert marked(dom) == {"def": [], "use": ["e_4"]}


def test_an_unknown_symbol_marks_nothing(tmp_path: Path) -> None:
    path = write_page(tmp_path, "lecture.html", bpexplain.forward("lecture").render("html"))
    dom, log, _ = open_page(path, tmp_path / "profile", "#highlight=%3Cscript%3E")
    assert console_messages(log) == []
    assert marked(dom) == {"def": [], "use": []}
    assert "&lt;script&gt;: defined by 0, used by 0" in dom


def test_the_lenet5_forward_page_loads_within_a_bound(tmp_path: Path) -> None:
    path = write_page(tmp_path, "lenet5.html", bpexplain.forward("lenet5").render("html"))
    dom, log, seconds = open_page(path, tmp_path / "profile", "#highlight=O1(1,3,3)")
    assert console_messages(log) == []
    assert seconds < LOAD_SECONDS
    found = marked(dom)
    assert found["def"] == ["O1(1,3,3)"] and found["use"]
    # the block that defines it was closed (it is large) and is opened to show it
    assert re.search(r'<details class="has" open="">\s*<summary>[0-9,]+ equations</summary>', dom)


def test_a_screenshot_of_the_lecture_page(tmp_path: Path) -> None:
    path = write_page(tmp_path, "lecture.html", bpexplain.train("lecture", steps=1).render("html"))
    shot = tmp_path / "lecture.png"
    _, log, _ = open_page(
        path, tmp_path / "profile", "#highlight=y_4", f"--screenshot={shot}", "--window-size=1200,1400"
    )
    assert console_messages(log) == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
