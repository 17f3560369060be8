"""The interactive page (--format html) and the loss chart that closes a training run's summary.

The page is parsed with html.parser: it must nest, hold every equation of the text trace (the same
strings), mark each with the symbol it defines and those it reads (checked against the lecture's network
by hand), escape every name, and carry no script but its own, allowed by the hash in its policy. The
chart's buckets and characters are checked against values worked by hand.
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hostile import PRINTABLE
from test_rich_view import hostile_events

import bpexplain
from bpexplain.render import page, render_to_string
from bpexplain.render.chart import BLOCKS, bars, buckets, loss_chart

VOID = {"meta", "br", "img", "input", "link", "hr", "col", "wbr"}
ROOT = Path(__file__).resolve().parent.parent


class Page(HTMLParser):
    """The page's rows (their attributes and cells' text), scripts, details and text, checking that tags nest."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.rows: list[tuple[dict[str, str | None], list[str]]] = []
        self.scripts: list[str] = []
        self.details: list[dict[str, str | None]] = []
        self.texts: list[str] = []
        self.meta: list[dict[str, str | None]] = []
        self.in_row = False
        self.feed(text)
        self.close()
        assert self.stack == [], self.stack

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and "data-def" in a:
            self.rows.append((a, []))
            self.in_row = True
        elif tag == "td" and self.in_row:
            self.rows[-1][1].append("")
        elif tag == "details":
            self.details.append(a)
        elif tag == "meta":
            self.meta.append(a)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()
        if tag == "tr":
            self.in_row = False

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "script":
            self.scripts.append(data)
        elif self.in_row and self.stack[-1] == "td":
            self.rows[-1][1][-1] += data
        self.texts.append(data)

    def equation_lines(self) -> list[str]:
        """Each row as the text trace writes its equation, spaces collapsed."""
        out = []
        for _, cells in self.rows:
            out.append(" ".join(" ".join(c for c in cells if c).split()))
        return out


def text_equation_lines(text: str) -> set[str]:
    return {" ".join(line.split()) for line in text.splitlines() if line.startswith("    ")}


@pytest.mark.parametrize("network", ["lecture", "xor", "classifier", "homework-cnn"])
def test_every_equation_of_the_text_trace_is_a_row_of_the_page(network: str) -> None:
    trace = bpexplain.train(network, steps=2)
    parsed = Page(trace.render("html"))
    rows = parsed.equation_lines()
    assert len(rows) == len(trace.equations)
    text = text_equation_lines(trace.render("text"))
    missing = [r for r in rows if r not in text]
    assert missing == []
    # and the same equations in the same order as the trace's
    assert [a["data-def"] for a, _ in parsed.rows] == [page.token(str(e.symbol)) for e in trace.equations]


def test_each_row_names_the_symbol_it_defines_and_those_it_reads() -> None:
    parsed = Page(bpexplain.train("lecture", steps=1).render("html"))
    reads = {a["data-def"]: (a["data-uses"] or "").split() for a, _ in parsed.rows}
    # worked by hand from the lecture's 2-3-2-1 network
    assert reads["e_1"] == ["w_(x1)1", "x_1", "w_(x2)1", "x_2"]
    assert reads["y_1"] == ["e_1"]  # h_1 is a function, not a value
    assert reads["e_4"] == ["w_14", "y_1", "w_24", "y_2", "w_34", "y_3"]
    assert reads["e_6"] == ["w_46", "y_4", "w_56", "y_5"]
    users_of_y1 = {d for d, uses in reads.items() if "y_1" in uses}
    # y_1 feeds neurons 4 and 5, its own derivative σ' = y(1 − y), and the gradients and updates of w_14, w_15
    assert users_of_y1 == {"e_4", "e_5", "dh_1(e)/de", "∂E/∂w_14", "∂E/∂w_15", "w'_14", "w'_15"}
    assert sum(a["data-def"] == "y_1" for a, _ in parsed.rows) == 1


def test_the_page_is_self_contained_and_allows_only_its_own_script() -> None:
    html = bpexplain.forward("lecture").render("html")
    parsed = Page(html)
    assert parsed.scripts == [page.SCRIPT]
    policy = next(m["content"] for m in parsed.meta if m.get("http-equiv") == "Content-Security-Policy")
    assert policy is not None and "default-src 'none'" in policy
    digest = base64.b64encode(hashlib.sha256(page.SCRIPT.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    for outside in ("http://", "https://", "src=", "href=", "@import", "url("):
        assert outside not in html, outside
    assert " on" + "click" not in html.lower() and "javascript:" not in html


@pytest.mark.parametrize("name", PRINTABLE)
def test_names_from_the_file_are_escaped(name: str) -> None:
    html = render_to_string(hostile_events(name), "html")
    parsed = Page(html)
    assert parsed.scripts == [page.SCRIPT]
    assert html.count("<script") == 1 and "<img" not in html and "<!-- -->" not in html
    assert any(name in t for t in parsed.texts)  # shown as written, once unescaped


def test_the_page_is_the_same_bytes_every_run() -> None:
    one = bpexplain.train("homework-cnn", steps=2).render("html")
    two = bpexplain.train("homework-cnn", steps=2).render("html")
    assert one == two


def test_feature_maps_are_grids_and_phases_fold() -> None:
    parsed = Page(bpexplain.forward("homework-cnn").render("html"))
    html = bpexplain.forward("homework-cnn").render("html")
    assert '<table class="grid"><caption>K1 =</caption><tr><td>1</td><td>0</td></tr><tr><td>-1</td><td>2</td>' in html
    phases = [d["class"] for d in parsed.details if "phase" in (d.get("class") or "")]
    assert phases == ["phase forward", "phase loss"]


def test_a_large_block_comes_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(page, "OPEN_LIMIT", 4)
    html = bpexplain.forward("lecture").render("html")
    parsed = Page(html)
    closed = [d for d in parsed.details if "open" not in d]
    assert len(closed) == 1  # layer1's 6 equations are over 4; layer2's 4 and the output's 2 are not
    assert "<details><summary>6 equations</summary>" in html
    assert len(parsed.rows) == 6 + 4 + 2 + 1  # closed, but on the page


def test_a_summary_run_is_a_page_of_step_lines_and_the_chart() -> None:
    parsed = Page(bpexplain.train("xor", epochs=3, detail="summary").render("html"))
    text = "".join(parsed.texts)
    assert parsed.rows == []
    assert "step 12 (epoch 3, sample 4): E = " in text
    assert "Loss per step, 12 steps" in text and "  max " in text and "  min " in text


def test_the_page_is_linear_in_equations() -> None:
    """Four times the steps, about four times the page (the old page through rich's export was > 60× text)."""
    one = bpexplain.train("classifier", steps=2).render("html")
    four = bpexplain.train("classifier", steps=8).render("html")
    assert 3.0 < len(four) / len(one) < 4.5
    text = bpexplain.train("classifier", steps=8).render("text")
    assert len(four) < 8 * len(text)


def test_cli_writes_a_page_with_o(tmp_path: Path) -> None:
    env = {"PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "bpexplain", "train", "lecture", "--steps", "2", "-o", "key.html"],
        cwd=tmp_path,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    parsed = Page((tmp_path / "key.html").read_text("utf-8"))
    assert len(parsed.rows) == len(bpexplain.train("lecture", steps=2).equations)


# ---- the loss chart ------------------------------------------------------------------------------------


def test_buckets_are_means_of_runs_of_steps_worked_by_hand() -> None:
    assert buckets([1, 2, 3, 4, 5, 6], 3) == [1.5, 3.5, 5.5]
    # 7 values in 3 columns: steps 0-1, 2-3, 4-6 (k·7/3 rounded down: 0, 2, 4, 7)
    assert buckets([0, 1, 2, 3, 4, 5, 6], 3) == [0.5, 2.5, 5.0]
    assert buckets([3, 1], 5) == [3, 1]  # fewer steps than columns: one a column


def test_bars_are_the_eighth_of_the_range_worked_by_hand() -> None:
    assert bars([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"  # v/7·8 rounded down: 0, 1.1, 2.3, ... 8 → 7
    assert bars([0, 0.5, 1]) == "▁▅█"  # 0.5·8 = 4
    assert bars([2, 1]) == "█▁"
    assert bars([0.3, 0.3]) == "▁▁"  # no range: all at the bottom
    assert bars([1, math.nan, 0]) == "█×▁"
    assert set(BLOCKS) == set("▁▂▃▄▅▆▇█") and len(BLOCKS) == 8


def test_the_chart_is_labelled_and_fits_its_width() -> None:
    assert loss_chart([0.5]) == []  # one step: no chart
    assert loss_chart([0.3, 0.2, 0.1, 0.05]) == [
        "Loss per step, 4 steps",
        "  max  0.3 ▕█▅▂▁",  # (0.2−0.05)/0.25·8 = 4.8 → ▅; (0.1−0.05)/0.25·8 = 1.6 → ▂
        "  min 0.05 ▕",
    ]
    long = [1.0 / (k + 1) for k in range(1000)]
    chart = loss_chart(long, width=80)
    assert all(len(line) <= 80 for line in chart) and len(chart[1]) == 80
    columns = len(chart[1].split("▕")[1])
    assert (
        chart[0]
        == f"Loss per step, 1000 steps (a column: the mean of {1000 // columns} or {-(-1000 // columns)} steps)"
    )
    assert chart[1].split("▕")[1][0] == "█" and chart[1].endswith("▁")
    assert len(loss_chart(long, width=40)[1]) == 40


def test_text_and_terminal_summaries_end_with_the_chart() -> None:
    trace = bpexplain.train("lecture", steps=3)
    losses = [s.loss for s in trace.steps]
    assert losses[0] > losses[1] > losses[2]  # so the chart reads █, then lower, then ▁
    text = trace.render("text")
    summary = text.split("Summary:")[1]
    assert re.search(r"Loss per step, 3 steps\n  max \S+ ▕█.▁\n  min \S+ ▕\n", summary), summary
    terminal = trace.render("rich", width=60)
    assert "Loss per step, 3 steps" in terminal and "▕█" in terminal
    one = bpexplain.train("lecture", steps=1).render("text")
    assert "Loss per step" not in one
    assert "Loss per step" not in bpexplain.forward("lecture").render("text")
