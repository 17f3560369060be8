"""`compare`: verdicts, follow-through and diagnoses on sheets worked by a simulated student with planted slips.

Each slip is planted in the student's work (tests/student.py, written apart from the marking code);
everything after it is worked correctly from the wrong number. The marking must charge the slip once,
name it, and credit what follows as follow-through.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from click.testing import CliRunner
from student import P, leaf_set, named, scaled, sheet_text, work

from bpexplain.answers import parse_sheet, run_for
from bpexplain.cli import cli
from bpexplain.expr import Derivative, Sym, Var
from bpexplain.marking import Report, mark
from bpexplain.scoring import Scoring, Tolerance

ERROR_LINE = re.compile(r"(\S.*: )?error: ")  # `FILE:LINE:COL: error: ...`, or `error: ...`

# the classifier's output weights [[0.3, -0.2, 0.1], [-0.4, 0.5, 0.2], [0.1, 0.1, -0.3]] read transposed, for e_5
TRANSPOSED = {"w_15": -0.2, "w_25": 0.5, "w_35": 0.1}
ENV = {"NO_COLOR": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "COLUMNS": "100"}


def marked(network: str, options: dict, slips: dict | None = None, **kw) -> Report:  # type: ignore[no-untyped-def]
    answers, items = work(network, options, slips, **kw)
    sheet = parse_sheet(sheet_text(network, options, answers, items), "answers.yaml")
    events, items = run_for(network, options)
    return mark(sheet, events, {(i.step, i.sample, i.symbol) for i in items})


def verdicts(report: Report) -> dict[str, str]:
    return {f"{a.step}:{a.sample or ''}:{a.symbol}": a.verdict for a in report.answers}


def the(report: Report, symbol: str, step: int = 1, sample: int | None = None):  # type: ignore[no-untyped-def]
    return next(a for a in report.answers if (a.step, a.sample, a.symbol) == (step, sample, symbol))


def is_derivative(v: Var) -> bool:
    return isinstance(v.sym, Derivative)


def is_input(v: Var) -> bool:
    return isinstance(v.sym, Sym) and v.sym.base == "x"


# ------------------------------------------------------------------------------------------------


def test_a_sheet_worked_right_is_all_correct_and_exits_0(tmp_path) -> None:  # type: ignore[no-untyped-def]
    report = marked("lecture", {"steps": 2}, carry_rounded=False)
    assert {a.verdict for a in report.answers} == {"correct"}
    assert report.first_error is None and report.score == report.max == len(report.answers) == 2 * 53


def test_one_early_slip_is_charged_once_and_the_rest_is_follow_through() -> None:
    # e_4 from y_1 read as 0.6 (a copying slip): only e_4 is wrong
    report = marked("lecture", {"steps": 1}, {(1, "e_4"): scaled(1.1)})
    v = verdicts(report)
    assert v["1::e_4"] == "wrong"
    assert [a.symbol for a in report.answers if a.verdict == "wrong"] == ["e_4"]
    assert v["1::y_4"] == "follow-through" and v["1::δ_1"] == "follow-through"
    assert report.first_error is not None and report.first_error.symbol == "e_4"
    assert report.score == report.max - 1


@pytest.mark.parametrize(
    "network,options,symbol,slip,words",
    [
        # the slide's shortcut: δ_4 = w_46·δ_6, dh_6/de left out
        ("lecture", {}, "δ_4", leaf_set(is_derivative, lambda v, x: 1.0), "shortcut"),
        ("lecture", {"notation": "textbook"}, "δ_4", leaf_set(is_derivative, lambda v, x: 1.0), "shortcut"),
        # a flipped sign: δ_6 = ŷ − y
        ("lecture", {}, "δ_6", scaled(-1), "sign"),
        ("classifier", {}, "∂E/∂e_5", scaled(-1), "sign"),
        ("homework-cnn", {}, "δ_5", scaled(-1), "sign"),
        # the ½ of the loss
        ("lecture", {}, "E", scaled(2), "½ of the loss dropped"),
        ("lecture", {}, "E", scaled(0.5), "counted twice"),
        ("lecture", {}, "δ_6", scaled(2), "factor 2"),
        # the updated weight where the old one belongs
        ("lecture", {}, "δ_4", leaf_set(named("w_46"), lambda v, x: 0.6324673228659181), "updated weight"),
        ("lecture", {"update_order": "sequential"}, "δ_4", leaf_set(named("w'_46"), lambda v, x: 0.6), "old weight"),
        ("lecture", {}, "∂E/∂w_46", leaf_set(is_derivative, lambda v, x: 1.0), "dh/de left out"),
        # the Weight Updating slide's typo: x_2 left out of w'_(x2)1
        ("lecture", {}, "w'_(x2)1", leaf_set(is_input, lambda v, x: 1.0), "x_2"),
        # η forgotten
        ("lecture", {}, "w'_14", leaf_set(named("η"), lambda v, x: 1.0), "η left out"),
        ("classifier", {}, "b'_4", leaf_set(named("η"), lambda v, x: 1.0), "η left out"),
        ("homework-cnn", {}, "K1'(1,2)", leaf_set(named("η"), lambda v, x: 1.0), "η left out"),
        # rounding too early: y_1, y_2, y_3 written in full, but e_4 worked from them rounded to 1 digit
        (
            "lecture",
            {},
            "e_6",
            leaf_set(lambda v: P.doprint(v.sym).startswith("y"), lambda v, x: round(x, 1)),
            "rounding",
        ),
        # a transposed weight matrix (the output layer of the classifier is 3×3)
        (
            "classifier",
            {},
            "e_5",
            leaf_set(lambda v: P.doprint(v.sym) in TRANSPOSED, lambda v, x: TRANSPOSED[P.doprint(v.sym)]),
            "transposed",
        ),
        # σ(e) written for its derivative
        ("lecture", {}, "dh_6(e)/de", lambda bound, leaf: leaf(next(iter_leaves(bound))), "σ(e)"),
        ("lecture", {"notation": "textbook"}, "dh_4(e)/de", lambda bound, leaf: leaf(next(iter_leaves(bound))), "σ(e)"),
    ],
)
def test_each_planted_slip_is_named_and_charged_once(network, options, symbol, slip, words) -> None:  # type: ignore[no-untyped-def]
    report = marked(network, options, {(1, symbol): slip})
    wrong = [a for a in report.answers if a.verdict == "wrong"]
    assert [a.symbol for a in wrong] == [symbol], [(a.symbol, a.given, a.expected, a.own) for a in wrong]
    assert wrong[0].diagnosis is not None and words in wrong[0].diagnosis, wrong[0].diagnosis
    assert report.first_error is wrong[0]
    assert sum(a.verdict == "follow-through" for a in report.answers) >= 1 or symbol.startswith(("w'", "b'", "K1'"))
    assert all(a.verdict in ("correct", "follow-through") for a in report.answers if a is not wrong[0])


def iter_leaves(bound):  # type: ignore[no-untyped-def]
    from bpexplain.evaluate import leaves

    return iter(leaves(bound))


def test_the_transposed_weights_of_a_whole_layer_are_diagnosed() -> None:
    # layer1 of the lecture (3×2) read as if weight[i][j] went from i to j: e_1 = 0.1·x_1 + 0.3·x_2
    report = marked("lecture", {}, {(1, "e_1"): leaf_set(named("w_(x2)1"), lambda v, x: 0.3)})
    assert "transposed" in (the(report, "e_1").diagnosis or "")


def test_follow_through_carries_into_the_next_step_through_the_updated_weights() -> None:
    report = marked("lecture", {"steps": 2}, {(1, "w'_46"): leaf_set(named("η"), lambda v, x: 1.0)})
    assert the(report, "w'_46").verdict == "wrong"
    assert the(report, "e_6", step=2).verdict == "follow-through"
    assert the(report, "w'_46", step=2).verdict == "follow-through"
    assert [a.symbol for a in report.answers if a.verdict == "wrong"] == ["w'_46"]


def test_sequential_updates_read_the_students_own_updated_weights() -> None:
    report = marked("lecture", {"update_order": "sequential"}, {(1, "w'_46"): scaled(1.5)})
    assert the(report, "w'_46").verdict == "wrong"
    assert the(report, "δ_4").verdict == "follow-through"


def test_batch_sheets_have_a_sample_level_and_are_marked_per_sample() -> None:
    report = marked("classifier", {"batch": "full"}, {(1, "E^(2)"): scaled(3)})
    samples = {a.sample for a in report.answers}
    assert samples == {None, 1, 2, 3}
    wrong = [a for a in report.answers if a.verdict == "wrong"]
    assert [(a.sample, a.symbol) for a in wrong] == [(2, "E^(2)")]


def test_blanks_are_missing_and_not_errors_and_their_true_value_stands_in() -> None:
    report = marked("lecture", {}, {(1, "y_1"): scaled(1.2)}, blank={"e_4", "δ_6"})
    assert the(report, "e_4").verdict == "missing" and the(report, "e_4").points == 0
    assert the(report, "y_4").verdict == "correct"  # e_4 blank: its true value stands in
    assert report.first_error is not None and report.first_error.symbol == "y_1"
    blank_only = marked("lecture", {}, blank={"e_4"})
    assert blank_only.first_error is None and blank_only.score == blank_only.max - 1


def test_a_value_right_by_the_true_numbers_is_correct_even_after_a_slip() -> None:
    answers, items = work("lecture", {}, {(1, "y_1"): scaled(1.2)})
    answers[(1, None, "e_4")] = "0.2095"  # the true value, though their y_1 gives another
    sheet = parse_sheet(sheet_text("lecture", {}, answers, items), "a.yaml")
    events, items = run_for("lecture", {})
    report = mark(sheet, events)
    assert the(report, "e_4").verdict == "correct"


def test_points_and_half_follow_through() -> None:
    answers, items = work("lecture", {}, {(1, "δ_6"): scaled(-1)})
    sheet = parse_sheet(sheet_text("lecture", {}, answers, items), "a.yaml")
    events, _ = run_for("lecture", {})
    points = {"forward": 1.0, "loss": 1.0, "error": 2.0, "gradient": 1.0, "update": 1.0}
    report = mark(sheet, events, scoring=Scoring(points, "half"))
    n = {v: [a for a in report.answers if a.verdict == v] for v in ("correct", "follow-through", "wrong")}
    expected = sum(points[a.kind] for a in n["correct"]) + 0.5 * sum(points[a.kind] for a in n["follow-through"])
    assert report.score == pytest.approx(expected)
    assert report.max == sum(points[a.kind] for a in report.answers)
    none = mark(sheet, events, scoring=Scoring(points, "none"))
    assert none.score == sum(points[a.kind] for a in n["correct"])


def test_ascii_spellings_are_accepted() -> None:
    text = (
        "format: bpexplain-answers/1\nnetwork: lecture\noptions: {}\nsteps:\n  1:\n"
        "    delta_6: -0.4719\n    DH_6/DE: 0.2492\n    dE/dw_46: -0.06493\n    w_46': 0.6325\n    E : 0.1113\n"
    )
    events, _ = run_for("lecture", {})
    report = mark(parse_sheet(text, "a.yaml"), events)
    got = {a.symbol: a.verdict for a in report.answers if a.given is not None}
    assert got == {"δ_6": "correct", "dh_6(e)/de": "correct", "∂E/∂w_46": "correct", "w'_46": "correct", "E": "correct"}


# ------------------------------------------------------------------------------------------------
# the command


def run_cli(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner(env=ENV).invoke(cli, list(args))


def test_sheet_then_compare_from_the_command_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "sheet.yaml"
    assert run_cli("sheet", "lecture", "--steps", "1", "-o", str(path)).exit_code == 0
    text = path.read_text("utf-8")
    text = text.replace("e_1: null", "e_1: 0.37").replace("e_4: null", "e_4: 0.2112")
    path.write_text(text, "utf-8")
    result = run_cli("compare", "lecture", str(path), "--format", "json")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert doc["format"] == "bpexplain-compare/1"
    assert doc["first_error"] == {"step": 1, "symbol": "e_4"}
    e4 = next(a for a in doc["answers"] if a["symbol"] == "e_4")
    assert (
        e4["verdict"] == "wrong"
        and e4["given"] == "0.2112"
        and e4["uses"] == ["w_14", "y_1", "w_24", "y_2", "w_34", "y_3"]
    )
    assert set(e4) >= {"step", "symbol", "kind", "given", "expected", "own", "verdict", "diagnosis", "uses"}
    assert doc["score"] == 1 and doc["max"] == 53
    path.write_text(text.replace("e_4: 0.2112", "e_4: 0.2095"), "utf-8")
    result = run_cli("compare", "lecture", str(path))
    assert result.exit_code == 0 and "first error: none" in result.stdout


@pytest.mark.parametrize(
    "text,where,words",
    [
        ("format: bpexplain-answers/1\nnetwork: lecture\nsteps:\n  1:\n    e_1: zero\n", ":5:10:", "a number"),
        ("format: bpexplain-answers/1\nnetwork: lecture\nsteps:\n  1:\n    e_9: 1\n", ":5:5:", "no quantity 'e_9'"),
        ("format: bpexplain-answers/1\nnetwork: lecture\nsteps:\n  1:\n    e_1: 1\n    e_1: 2\n", ":6:5:", "twice"),
        ("format: bpexplain-answers/1\nnetwork: lecture\nsteps:\n  1: [1, 2\n", ":", "YAML"),
        ("format: other\nnetwork: lecture\nsteps: {}\n", ":1:9:", "bpexplain-answers/1"),
        ("format: bpexplain-answers/1\nnetwork: lecture\noptions: {steps: -1}\nsteps: {}\n", ":3:18:", "whole number"),
        ("a: &a [*a]\n", ":", "error"),
        ("format: bpexplain-answers/1\nnetwork: lecture\nsteps:\n  2:\n    e_1: 1\n", ":5:5:", "no step 2"),
        ("", ":1:1:", "empty"),
    ],
)
def test_an_unreadable_sheet_is_one_positioned_line_and_exit_2(tmp_path, text, where, words) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.yaml"
    path.write_text(text, "utf-8")
    result = run_cli("compare", "lecture", str(path))
    assert result.exit_code == 2, result.output
    line = result.stderr.strip()
    assert ERROR_LINE.match(line) and "\n" not in line and where in line and words in line, line
    assert "Traceback" not in result.output


def test_hostile_sheets_never_crash(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cases = [
        "a: &a [*a, *a]\n",
        "x" * 100,
        "format: bpexplain-answers/1\nnetwork: lecture\nsteps:\n  1:\n"
        "    e_1: !!python/object/apply:os.system [echo hi]\n",
        "format: bpexplain-answers/1\nnetwork: ../../etc/passwd\nsteps: {}\n",
        "format: bpexplain-answers/1\nnetwork: lecture\nsteps:\n  1:\n    e_1: 1e999999\n",
        "\x00\x01",
        "- 1\n- 2\n",
    ]
    for i, text in enumerate(cases):
        path = tmp_path / f"h{i}.yaml"
        path.write_text(text, "utf-8")
        result = run_cli("compare", "lecture", str(path))
        assert result.exit_code in (0, 1, 2) and "Traceback" not in result.output, (text, result.output)
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "1" * 2_100_000, "utf-8")
    assert run_cli("compare", "lecture", str(big)).exit_code == 2


def test_tolerance_options_change_the_verdict(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "s.yaml"
    path.write_text("format: bpexplain-answers/1\nnetwork: lecture\nsteps:\n  1:\n    y_1: 0.59\n", "utf-8")
    assert run_cli("compare", "lecture", str(path)).exit_code == 0
    assert run_cli("compare", "lecture", str(path), "--sigfigs", "4").exit_code == 1
    assert run_cli("compare", "lecture", str(path), "--rtol", "0.01").exit_code == 0
    assert run_cli("compare", "lecture", str(path), "--rtol", "0.001").exit_code == 1
    assert run_cli("compare", "lecture", str(path), "--sigfigs", "3", "--rtol", "0.1").exit_code == 2


def test_tolerance_is_stated_and_decimal_exact() -> None:
    assert Tolerance().accepts("0.5915", 0.5914589784327801)
    assert Decimal("0.5915") != Decimal(0.5914589784327801)


# ------------------------------------------------------------------------------------------------
# tolerance: significant digits as written


@pytest.mark.parametrize(
    "text,digits",
    [
        ("0.5915", 4),
        ("-0.01000", 4),
        ("100", 3),
        ("1.5e-3", 2),
        ("1.50E-3", 3),
        ("0.0", 0),
        ("-0", 0),
        ("+7", 1),
        (".5", 1),
        ("0.070", 2),
        ("12.30", 4),
    ],
)
def test_significant_digits_are_counted_as_written(text: str, digits: int) -> None:
    from bpexplain.scoring import significant_digits

    assert significant_digits(text) == digits


@pytest.mark.parametrize(
    "text,value,ok",
    [
        # 4 digits written: within one unit of the 4th digit of the value rounded to 4 digits
        ("0.5915", 0.5914589784327801, True),
        ("0.5914", 0.5914589784327801, True),  # one unit below the rounded 0.5915
        ("0.5916", 0.5914589784327801, True),
        ("0.5913", 0.5914589784327801, False),  # two units
        ("0.5917", 0.5914589784327801, False),
        # fewer digits are judged at the digits written
        ("0.591", 0.5914589784327801, True),
        ("0.59", 0.5914589784327801, True),
        ("0.57", 0.5914589784327801, False),
        # never with fewer than 2 significant digits: 0.6 is read as 0.60 against 0.59
        ("0.6", 0.5914589784327801, True),
        ("0.7", 0.5914589784327801, False),
        ("0.5", 0.5, True),
        ("-0.07", -0.0705583109960229, True),
        ("-0.071", -0.0705583109960229, True),
        ("-0.0706", -0.0705583109960229, True),
        ("-0.07056", -0.0705583109960229, True),
        ("-0.07053", -0.0705583109960229, False),
        ("0.07056", -0.0705583109960229, False),  # the sign matters
        # trailing zeros count: 0.07000 claims 4 digits
        ("-0.07000", -0.0705583109960229, False),
        ("-0.0700", -0.0700249, True),
        # scientific notation
        ("-7.056e-2", -0.0705583109960229, True),
        ("-7.1E-2", -0.0705583109960229, True),
        ("-7.0E-2", -0.0705583109960229, True),
        ("-6.9E-2", -0.0705583109960229, False),
        # integers and zero
        ("3", 3.0, True),
        ("8", 8.0, True),
        ("7", 8.0, False),
        ("0", 0.0, True),
        ("0.000", 1e-17, True),
        ("0", 0.003, False),
        ("0.00", 0.004, False),
    ],
)
def test_default_tolerance_table(text: str, value: float, ok: bool) -> None:
    assert Tolerance().accepts(text, value) is ok


@pytest.mark.parametrize(
    "tolerance,text,value,ok",
    [
        (Tolerance(sigfigs=3), "0.591", 0.5914589784327801, True),
        (Tolerance(sigfigs=3), "0.589", 0.5914589784327801, False),  # two units of the 3rd digit from 0.591
        (Tolerance(sigfigs=3), "0.592", 0.5914589784327801, True),
        (Tolerance(sigfigs=3), "0.5915", 0.5914589784327801, True),
        (Tolerance(sigfigs=2), "0.6", 0.5914589784327801, True),
        (Tolerance(sigfigs=2), "0.61", 0.5914589784327801, False),
        (Tolerance(rtol=0.01), "0.5857", 0.5914589784327801, True),
        (Tolerance(rtol=0.01), "0.585", 0.5914589784327801, False),
        (Tolerance(atol=0.001), "0.5905", 0.5914589784327801, True),
        (Tolerance(atol=0.001), "0.5903", 0.5914589784327801, False),
        (Tolerance(rtol=0.01, atol=0.01), "0.577", 0.5914589784327801, True),
        (Tolerance(rtol=0.01), "0", 0.0, True),
    ],
)
def test_tolerance_options_table(tolerance: Tolerance, text: str, value: float, ok: bool) -> None:
    assert tolerance.accepts(text, value) is ok


# ------------------------------------------------------------------------------------------------
# the worked example of README.md and docs/grading.md


EXAMPLE_OPTIONS = {"layer": "layer2,output", "only": "error,gradient"}


def test_the_documented_example_sheet_and_report(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A student who takes the slide's shortcut for δ_4 and works on correctly: charged once (docs/grading.md)."""
    from pathlib import Path

    golden = Path(__file__).parent / "golden"
    answers, items = work("lecture", EXAMPLE_OPTIONS, {(1, "δ_4"): leaf_set(is_derivative, lambda v, x: 1.0)}, digits=4)
    sheet = sheet_text("lecture", EXAMPLE_OPTIONS, answers, items)
    assert sheet == (golden / "sheet-lecture-slip.yaml").read_text("utf-8")
    path = tmp_path / "answers.yaml"
    path.write_text(sheet, "utf-8")
    result = run_cli("compare", "lecture", str(path), "--format", "text")
    assert result.exit_code == 1
    assert result.stdout == (golden / "compare-lecture-slip.txt").read_text("utf-8")
    blank = run_cli("sheet", "lecture", "--layer", "layer2,output", "--only", "error,gradient").stdout
    assert [line.split(":")[0] for line in blank.splitlines()] == [line.split(":")[0] for line in sheet.splitlines()]


def test_the_documentation_quotes_the_real_report() -> None:
    from pathlib import Path

    root = Path(__file__).parents[1]
    report = (root / "tests" / "golden" / "compare-lecture-slip.txt").read_text("utf-8")
    sheet = (root / "tests" / "golden" / "sheet-lecture-slip.yaml").read_text("utf-8")
    docs = (root / "docs" / "grading.md").read_text("utf-8")
    assert report in docs and sheet in docs
    readme = (root / "README.md").read_text("utf-8")
    for line in report.splitlines()[1:3] + report.splitlines()[9:13]:
        assert line in readme, line


def test_rich_report_shows_every_verdict_with_its_colour() -> None:
    import io

    from rich.console import Console

    from bpexplain.render.compare import rich_view

    report = marked("lecture", {}, {(1, "δ_4"): leaf_set(is_derivative, lambda v, x: 1.0)}, blank={"e_1"})
    out = io.StringIO()
    Console(file=out, width=140, force_terminal=True, color_system="standard").print(rich_view(report))
    text = out.getvalue()
    assert "\x1b[" in text and "score 51 / 53" in text
    for verdict in ("correct", "follow-through", "wrong", "missing"):
        assert verdict in text
    assert "slide's" in text and "shortcut" in text


@pytest.mark.parametrize(
    "options,words",
    [
        ("{steps: 9999999}", "would have about"),
        ("{step: 3, steps: 2}", "beyond"),
        ("{rule: slide, notation: textbook}", "--rule slide"),
        ("{layer: nope}", "no layer 'nope'"),
        ("{only: backward}", "unknown phase"),
        ("{colour: red}", "unknown option"),
    ],
)
def test_a_sheets_options_are_checked_and_placed(tmp_path, options: str, words: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "s.yaml"
    path.write_text(f"format: bpexplain-answers/1\nnetwork: lecture\noptions: {options}\nsteps: {{}}\n", "utf-8")
    result = run_cli("compare", "lecture", str(path))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{path}:3:") and words in result.stderr, result.stderr


def test_a_batch_slip_follows_through_into_the_mean_and_the_update() -> None:
    report = marked("classifier", {"batch": "full"}, {(1, "∂E^(2)/∂e_4"): scaled(-1)})
    wrong = [(a.sample, a.symbol) for a in report.answers if a.verdict == "wrong"]
    assert wrong == [(2, "∂E^(2)/∂e_4")]
    assert the(report, "∂E^(2)/∂w_14", sample=2).verdict == "follow-through"
    assert the(report, "∂E/∂w_14").verdict == "follow-through"  # the mean reads every sample's gradient
    assert the(report, "w'_14").verdict == "follow-through"
    assert the(report, "∂E^(1)/∂w_14", sample=1).verdict == "correct"


def test_a_value_written_with_one_digit_is_diagnosed() -> None:
    text = "format: bpexplain-answers/1\nnetwork: lecture\nsteps:\n  1:\n    y_6: 0.5\n"
    events, _ = run_for("lecture", {})
    a = the(mark(parse_sheet(text, "a.yaml"), events), "y_6")
    assert a.verdict == "wrong" and a.diagnosis is not None and "1 significant digit" in a.diagnosis


@pytest.mark.parametrize("digits", [2, 3, 4])
@pytest.mark.parametrize(
    "network,options", [("lecture", {"steps": 3}), ("classifier", {"steps": 2}), ("homework-cnn", {})]
)
def test_working_on_from_rounded_numbers_is_never_wrong(network: str, options: dict, digits: int) -> None:
    """A student who rounds every value as written and works on from the rounded numbers loses nothing."""
    report = marked(network, options, digits=digits)
    assert report.first_error is None
    assert report.score == report.max
