"""The Markdown, LaTeX, HTML and SVG formats: the LaTeX printer node by node, KaTeX-safe math for every
equation kind, compilable (or at least well-formed) LaTeX, and golden files for every bundled network.

Golden files are regenerated with `BPEXPLAIN_UPDATE_GOLDEN=1 make test`; the numbers in them are
checked independently (test_lecture.py, and the sigmoid values recomputed below).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import batch_args

import bpexplain
from bpexplain.expr import HALF, Add, Call, Derivative, Div, Elem, Mul, Name, Neg, Num, Partial, Pow, Sub, Sym
from bpexplain.render import render_to_string
from bpexplain.render.latex_printer import COMMANDS, LatexPrinter, latex_text
from bpexplain.render.markdown import md_text

GOLDEN = Path(__file__).parent / "golden" / "formats"
UPDATE = os.environ.get("BPEXPLAIN_UPDATE_GOLDEN") == "1"
NETWORKS = ["lecture", "xor", "classifier"]
OPTION_SETS = [
    {},
    {"notation": "textbook"},
    {"rule": "slide"},
    {"update_order": "sequential"},
    {"batch": "full"},
    {"batch": "full", "notation": "textbook"},
    {"round": 2},
]

P = LatexPrinter(4, 8)


# ---- the printer, one node class at a time ------------------------------------------------------


@pytest.mark.parametrize(
    "node,latex",
    [
        (Sym("w", ("1", "4")), "w_{14}"),
        (Sym("w", (Sym("x", ("1",)), "1")), "w_{(x_1)1}"),
        (Sym("δ", ("4",)), r"\delta_4"),
        (Sym("δ", ("x1",)), r"\delta_{x_1}"),
        (Sym("η"), r"\eta"),
        (Sym("ŷ"), r"\hat{y}"),
        (Sym("ŷ", ("4",)), r"\hat{y}_4"),
        (Sym("E", superscript="(1)"), "E^{(1)}"),
        (Sym("w", ("1", "4"), prime=True), "w'_{14}"),
        (Sym("w", ("1", "4"), prime=True, superscript="(2)"), r"w_{14}^{\prime (2)}"),
        (Sym("y", ("12",)), "y_{12}"),
        (Sym("w", ("12", "3")), "w_{12,3}"),
        (Elem("O1", ("2", "3")), "O1(2,3)"),
        (Elem("δO1", ("1", "2", "3")), r"\delta O1(1,2,3)"),
        (Name("σ"), r"\sigma"),
        (Name("tanh"), r"\tanh"),
        (Name("ReLU"), r"\operatorname{ReLU}"),
        (Name("ReLU'"), r"\operatorname{ReLU}'"),
        (Name("ln"), r"\ln"),
        (Derivative(Sym("h", ("4",)), "e"), r"\frac{dh_4(e)}{de}"),
        (Partial(Sym("E"), Sym("w", ("1", "4"))), r"\frac{\partial E}{\partial w_{14}}"),
        (Partial(Sym("E", superscript="(2)"), Sym("b", ("3",))), r"\frac{\partial E^{(2)}}{\partial b_3}"),
        (Add((Num(1), Num(-2))), r"1 + \left(-2\right)"),
        (Add((Num(-1), Num(2))), "-1 + 2"),
        (Sub(Num(1), Sub(Num(2), Num(3))), r"1 - \left(2 - 3\right)"),
        (Sub(Num(1), Num(-0.5)), r"1 - \left(-0.5\right)"),
        (Neg(Add((Num(1), Num(2)))), r"-\left(1 + 2\right)"),
        (Mul((Num(0.5), Add((Num(1), Num(2))))), r"0.5 \cdot \left(1 + 2\right)"),
        (Mul((Num(2), Num(-3))), r"2 \cdot \left(-3\right)"),
        (HALF, r"\frac{1}{2}"),
        (Div(Add((Num(1), Num(2))), Num(3)), r"\frac{1 + 2}{3}"),
        (Pow(Sub(Num(1), Num(2)), Num(2)), r"\left(1 - 2\right)^{2}"),
        (Pow(Sym("y", ("6",)), Num(2)), "{y_6}^{2}"),
        (Call(Name("σ"), (Num(0.37),)), r"\sigma\left(0.37\right)"),
        (Call(Name("exp"), (Num(-1),)), r"\exp\left(-1\right)"),
        (Num(1.5e-8), r"1.5 \times 10^{-8}"),
        (Num(0.123456), "0.1235"),
    ],
)
def test_latex_printer(node, latex: str) -> None:  # type: ignore[no-untyped-def]
    assert P.doprint(node) == latex


def test_long_sums_are_shortened_with_cdots() -> None:
    node = Add(tuple(Num(float(i)) for i in range(1, 21)))
    assert LatexPrinter(4, 4).doprint(node) == r"1 + 2 + \cdots + 19 + 20"


def test_latex_text_is_ascii_and_escapes_specials() -> None:
    prose = "δ_n = ∂E/∂y_n; w'_(x2)1 − η·Σ_k ½ (y_k − ŷ_k)² 50% & $5 #1 {a} ~ ^ \\ ≠ ±1/√(fan-in) …"
    out = latex_text(prose)
    assert out.isascii()
    assert r"\textsubscript{n}" in out and r"\%" in out and r"\&" in out and r"\$5" in out and r"\#1" in out
    assert _balanced_braces(out.replace(r"\{", "").replace(r"\}", ""))


def test_markdown_text_escapes_emphasis_and_math() -> None:
    assert md_text("w_mn * 2 $x$ a|b") == r"w\_mn \* 2 \$x\$ a\|b"


# ---- KaTeX rules over every equation kind ---------------------------------------------------------


def _balanced_braces(text: str) -> bool:
    depth = 0
    for c in re.sub(r"\\[{}]", "", text):
        depth += {"{": 1, "}": -1}.get(c, 0)
        if depth < 0:
            return False
    return depth == 0


def assert_katex_math(math_text: str) -> None:
    """What KaTeX (GitHub, Jupyter) accepts, by rules: balanced braces and \\left/\\right, known commands only."""
    assert _balanced_braces(math_text), math_text
    assert math_text.count(r"\left(") == math_text.count(r"\right)"), math_text
    unknown = set(re.findall(r"\\[A-Za-z]+", math_text)) - COMMANDS
    assert not unknown, (unknown, math_text)
    assert math_text.isascii(), math_text
    assert "$" not in math_text and "\n" not in math_text
    assert not re.search(r"[_^]\s*[_^]", math_text), math_text  # no double sub/superscript
    assert not re.search(r"_\{[^}]*\}_|\^\{[^}]*\}\^", math_text), math_text
    assert not math_text.startswith(" ") and not math_text.endswith(" ")  # GitHub needs $x$, not $ x $


@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
@pytest.mark.parametrize("network", NETWORKS)
def test_every_markdown_math_span_is_katex_safe(network: str, options: dict) -> None:
    md = bpexplain.train(network, steps=2, **options).render("markdown")
    spans = re.findall(r"(?<!\\)\$(.+?)(?<!\\)\$", md)
    kinds = {eq.kind for eq in bpexplain.train(network, steps=1, **options).equations}
    assert kinds == {"forward", "loss", "error", "gradient", "update"}
    assert len(spans) > 20
    for span in spans:
        assert_katex_math(span)


def test_markdown_has_a_heading_per_step_and_phase() -> None:
    md = bpexplain.train("lecture", steps=2).render("markdown")
    headings = [line for line in md.splitlines() if line.startswith("#")]
    assert headings[0] == "# bpexplain train: lecture"
    for step in (1, 2):
        assert f"## Step {step} (epoch {step}, sample 1)" in headings
    for phase in ("### Forward pass", "### Loss", "### Errors (δ)", "### Gradients", "### Updates"):
        assert headings.count(phase) == 2
    assert "#### Forward: layer2 (neurons 4–5)" in headings


def test_markdown_tables_are_rectangular() -> None:
    md = bpexplain.train("classifier", steps=1).render("markdown")
    tables: list[list[str]] = []
    previous = ""
    for line in md.splitlines():
        if line.startswith("|"):
            if not previous.startswith("|"):
                tables.append([])
            tables[-1].append(line)
        previous = line
    assert len(tables) >= 5
    for table in tables:
        widths = {len(re.findall(r"(?<!\\)\|", row)) for row in table}
        assert len(widths) == 1, table
        assert re.fullmatch(r"\|( ?-{3}:? ?\|)+", table[1].replace(" | ", "|").replace("| ", "|")), table[1]


def test_markdown_matrices_are_tables_with_symbols_and_values() -> None:
    md = bpexplain.train("lecture", steps=1).render("markdown")
    assert "| 1 | $w_{14} = 0.2$ | $w_{24} = -0.3$ | $w_{34} = 0.4$ |" in md


def test_markdown_values_match_an_independent_computation() -> None:
    sig = lambda e: 1 / (1 + math.exp(-e))  # noqa: E731
    y = [sig(0.1 * 0.5 + 0.4 * 0.8), sig(0.3 * 0.5 - 0.2 * 0.8), sig(0.5 * 0.5 + 0.2 * 0.8)]
    e4 = 0.2 * y[0] - 0.3 * y[1] + 0.4 * y[2]
    md = bpexplain.forward("lecture").render("markdown")
    assert f"= \\sigma\\left(0.37\\right) = {y[0]:.4f}$" in md
    assert f"= {e4:.4f}$" in md


# ---- LaTeX ----------------------------------------------------------------------------------------


def assert_well_formed_latex(doc: str) -> None:
    body = re.sub(r"(?<!\\)%.*", "", doc)
    assert _balanced_braces(body.replace(r"\{", "").replace(r"\}", ""))
    stack: list[str] = []
    for kind, name in re.findall(r"\\(begin|end)\{([^}]*)\}", body):
        if kind == "begin":
            stack.append(name)
        else:
            assert stack and stack.pop() == name, name
    assert not stack
    for block in re.findall(r"\\begin\{align\*\}(.*?)\\end\{align\*\}", body, re.S):
        for line in block.strip().split("\\\\\n"):
            assert line.count("&=") >= 1 or line.strip().startswith("&="), line
    # the document body is ASCII: pdflatex needs no Unicode fonts
    assert body.isascii()


@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
@pytest.mark.parametrize("network", NETWORKS)
def test_latex_is_well_formed(network: str, options: dict) -> None:
    doc = bpexplain.train(network, steps=2, **options).render("latex")
    assert doc.splitlines()[1] == r"\documentclass[10pt]{article}"
    assert doc.rstrip().endswith(r"\end{document}")
    assert r"\begin{align*}" in doc and r"\begin{bmatrix}" in doc
    assert_well_formed_latex(doc)
    for math_text in re.findall(r"\$([^$]+)\$", re.sub(r"\\text\{[^{}]*\}", "", doc)):
        assert _balanced_braces(math_text), math_text


def test_latex_body_is_a_fragment() -> None:
    body = bpexplain.train("lecture", steps=1).render("latex", body_only=True)
    assert r"\documentclass" not in body and r"\begin{document}" not in body and r"\end{document}" not in body
    assert r"\begin{align*}" in body
    assert_well_formed_latex(body)


def test_long_latex_equations_are_broken_before_each_equals() -> None:
    doc = bpexplain.train("classifier", steps=1).render("latex")
    long = [line for line in doc.splitlines() if line.startswith("  e_4 &=")]
    assert long and r"\\ &= " in long[0]


def _pdflatex(tmp_path: Path, name: str, text: str) -> subprocess.CompletedProcess:
    (tmp_path / f"{name}.tex").write_text(text, encoding="utf-8")
    return subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed (see make latex-check)")
@pytest.mark.parametrize(
    "network,options",
    [
        ("lecture", {"rule": "slide", "round": 2}),
        ("xor", {"batch": "full"}),
        ("classifier", {"notation": "textbook", "detail": "layer"}),
        ("homework-cnn", {}),
        ("lenet5", {"detail": "layer"}),
    ],
)
def test_latex_document_compiles(tmp_path: Path, network: str, options: dict) -> None:
    doc = bpexplain.train(network, steps=2, **options).render("latex")
    proc = _pdflatex(tmp_path, network, doc)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / f"{network}.pdf").stat().st_size > 1000
    assert "Overfull" not in proc.stdout


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed (see make latex-check)")
def test_latex_fragment_compiles_inside_a_host_document(tmp_path: Path) -> None:
    body = bpexplain.train("lecture", steps=1).render("latex", body_only=True)
    host = "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n" + body + "\\end{document}\n"
    proc = _pdflatex(tmp_path, "host", host)
    assert proc.returncode == 0, proc.stdout[-3000:]


# ---- HTML (render.page) and SVG (rich's export) ---------------------------------------------------


def test_html_is_a_page_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")  # the page is coloured whatever the terminal says
    html = bpexplain.train("lecture", steps=1).render("html")
    assert html.startswith("<!DOCTYPE html>") and "<title>bpexplain train: lecture</title>" in html
    assert "border-color:#" in html
    assert "σ(0.37)" in html and "0.5915" in html
    assert "\x1b[" not in html


def test_svg_is_one_svg_document() -> None:
    svg = bpexplain.forward("lecture").render("svg")
    assert svg.lstrip().startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "bpexplain&#160;forward:&#160;lecture" in svg
    assert "0.5915" in svg


# ---- golden files ---------------------------------------------------------------------------------

GOLDEN_CASES = [
    (net, fmt, ext, cmd)
    for net in NETWORKS + ["homework-cnn"]
    for fmt, ext, cmd in (
        ("markdown", "md", "train"),
        ("latex", "tex", "train"),
        ("html", "html", "forward"),
        ("svg", "svg", "forward"),
    )
]


@pytest.mark.parametrize("network,fmt,ext,command", GOLDEN_CASES)
def test_format_matches_the_golden_file(network: str, fmt: str, ext: str, command: str) -> None:
    trace = bpexplain.train(network, steps=1) if command == "train" else bpexplain.forward(network)
    text = render_to_string(trace.events, fmt)
    path = GOLDEN / f"{command}-{network}.{ext}"
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", ["markdown", "latex", "html", "svg"])
def test_formats_render_every_bundled_network(fmt: str) -> None:
    from bpexplain.spec import bundled_names

    for name in bundled_names():
        size = sum(p.size for p in bpexplain.load(name).parameters().values())
        batch = "full" if batch_args(name) else "single"
        out = bpexplain.train(name, steps=1, detail="full" if size <= 200 else "layer", batch=batch).render(fmt)
        assert len(out) > 500, name
        if fmt == "latex":
            assert_well_formed_latex(out)
