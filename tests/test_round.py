"""--round N: every intermediate value rounded as by hand and carried on; the drift from float64 reported.

The two-decimal hand computation of the lecture network below was worked out on paper, one value at a
time, rounding half away from zero after each equation, and is written out here with its arithmetic.
"""

from __future__ import annotations

import math

import pytest
from click.testing import CliRunner
from helpers import evaluate

import bpexplain
from bpexplain.cli import cli
from bpexplain.render.printer import TextPrinter
from bpexplain.rounding import round_array, round_value

# Step 1 of the lecture network (x = 0.5, 0.8; ŷ = 1; η = 0.5), by hand with two decimals.
HAND_STEP_1 = {
    "e_1": 0.37,  # 0.1·0.5 + 0.4·0.8 = 0.37
    "y_1": 0.59,  # σ(0.37) = 0.5915
    "e_2": -0.01,  # 0.3·0.5 − 0.2·0.8
    "y_2": 0.50,  # σ(−0.01) = 0.4975
    "e_3": 0.41,  # 0.25 + 0.16
    "y_3": 0.60,  # σ(0.41) = 0.6011
    "e_4": 0.21,  # 0.2·0.59 − 0.3·0.50 + 0.4·0.60 = 0.208
    "y_4": 0.55,  # σ(0.21) = 0.5523
    "e_5": 0.19,  # 0.1·0.59 + 0.5·0.50 − 0.2·0.60 = 0.189
    "y_5": 0.55,  # σ(0.19) = 0.5474
    "e_6": 0.11,  # 0.6·0.55 − 0.4·0.55
    "y_6": 0.53,  # σ(0.11) = 0.5275
    "E": 0.11,  # ½·(0.53 − 1)² = 0.11045
    "δ_6": -0.47,  # 0.53 − 1
    "dh_6(e)/de": 0.25,  # 0.53·0.47 = 0.2491
    "δ_4": -0.07,  # 0.6·(−0.47)·0.25 = −0.0705
    "dh_4(e)/de": 0.25,  # 0.55·0.45 = 0.2475
    "δ_5": 0.05,  # −0.4·(−0.47)·0.25 = 0.047
    "dh_5(e)/de": 0.25,
    "δ_1": 0.0,  # 0.2·(−0.07)·0.25 + 0.1·0.05·0.25 = −0.00225
    "dh_1(e)/de": 0.24,  # 0.59·0.41 = 0.2419
    "δ_2": 0.01,  # −0.3·(−0.07)·0.25 + 0.5·0.05·0.25 = 0.0115
    "dh_2(e)/de": 0.25,
    "δ_3": -0.01,  # 0.4·(−0.07)·0.25 − 0.2·0.05·0.25 = −0.0095
    "dh_3(e)/de": 0.24,
    "∂E/∂w_46": -0.06,  # −0.47·0.25·0.55 = −0.0646
    "∂E/∂w_14": -0.01,  # −0.07·0.25·0.59 = −0.0103
    "∂E/∂w_15": 0.01,  # 0.05·0.25·0.59 = 0.0074
    "∂E/∂w_(x1)2": 0.0,  # 0.01·0.25·0.5 = 0.00125
    "w'_46": 0.63,  # 0.6 − 0.5·(−0.47)·0.25·0.55 = 0.6323
    "w'_56": -0.37,  # −0.4 + 0.0323 = −0.3677
    "w'_14": 0.21,  # 0.2 − 0.5·(−0.07)·0.25·0.59 = 0.2052
    "w'_24": -0.30,  # −0.3 + 0.5·0.07·0.25·0.50 = −0.2956
    "w'_34": 0.41,  # 0.4 + 0.5·0.07·0.25·0.60 = 0.4053
    "w'_15": 0.10,  # 0.1 − 0.5·0.05·0.25·0.59 = 0.0963
    "w'_25": 0.50,  # 0.5 − 0.003125
    "w'_35": -0.20,  # −0.2 − 0.00375
    "w'_(x1)2": 0.30,  # 0.3 − 0.5·0.01·0.25·0.5
}


def test_rounding_is_half_away_from_zero_on_the_decimal_value() -> None:
    assert round_value(0.205, 2) == 0.21  # the float is 0.20499999999999998...
    assert round_value(0.2 - 0.005, 2) == 0.2
    assert round_value(-0.125, 2) == -0.13
    assert round_value(2.675, 2) == 2.68
    assert round_value(0.5915, 2) == 0.59
    assert round_value(123.456, 0) == 123.0
    assert math.isnan(round_value(float("nan"), 2))
    assert round_array([[0.005, -0.015]], 2).tolist() == [[0.01, -0.02]]  # type: ignore[arg-type]


def test_round_2_reproduces_the_hand_computation() -> None:
    t = bpexplain.train("lecture", steps=1, round=2)
    printer = TextPrinter()
    values = {printer.doprint(eq.symbol): eq.value for eq in t.equations}
    for symbol, hand in HAND_STEP_1.items():
        assert values[symbol] == pytest.approx(hand, abs=1e-12), symbol
    assert t.steps[0].loss == pytest.approx(0.11)
    final = t.events[-1].final_parameters
    assert final["output.weight"].ravel().tolist() == pytest.approx([0.63, -0.37])
    assert final["layer2.weight"].ravel().tolist() == pytest.approx([0.21, -0.30, 0.41, 0.10, 0.50, -0.20])


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"notation": "textbook"},
        {"update_order": "sequential"},
        {"batch": "full"},
        {"rule": "slide"},
        {"batch": "full", "notation": "textbook"},
    ],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default",
)
@pytest.mark.parametrize("network", ["lecture", "xor", "classifier"])
def test_every_equation_is_its_substituted_numbers_rounded(network: str, options: dict) -> None:
    """What a student checks: the value shown is the numbers shown, computed and rounded."""
    t = bpexplain.train(network, steps=2, round=3, **options)
    printer = TextPrinter()
    for eq in t.equations:
        assert eq.value == round_value(eq.value, 3), printer.doprint(eq.symbol)
        assert eq.value == pytest.approx(round_value(evaluate(eq.substituted), 3), abs=1e-12), printer.doprint(
            eq.symbol
        )


def test_the_drift_is_reported_against_exact_float64() -> None:
    rounded = bpexplain.train("lecture", steps=2, round=2)
    exact = bpexplain.train("lecture", steps=2)
    end = rounded.events[-1]
    assert end.drift[0].label == "E (step 2)"
    assert end.drift[0].exact == pytest.approx(exact.steps[-1].loss, rel=1e-15)
    by_label = {d.label: d for d in end.drift}
    assert len(by_label) == 15
    d = by_label["layer2.weight[0, 0]"]
    assert d.rounded == pytest.approx(0.22)
    assert d.exact == exact.events[-1].final_parameters["layer2.weight"][0, 0]
    assert d.difference == pytest.approx(d.rounded - d.exact)
    assert not exact.events[-1].drift


def test_the_policy_is_stated_at_the_top_of_every_trace() -> None:
    for trace in (bpexplain.train("lecture"), bpexplain.forward("xor")):
        assert any(line.startswith("rounding: none;") for line in trace.header.conventions)
    policy = [c for c in bpexplain.train("lecture", round=2).header.conventions if c.startswith("rounding")]
    assert policy and "rounded to 2 decimals (half away from zero)" in policy[0]


def test_cli_round_reports_both_numbers() -> None:
    result = CliRunner(env={"NO_COLOR": None, "COLUMNS": "100"}).invoke(
        cli, ["train", "lecture", "--steps", "2", "--round", "2", "--format", "text"]
    )
    assert result.exit_code == 0, result.output
    tail = result.stdout.split("Drift from rounding")[1]
    line = next(row for row in tail.splitlines() if row.strip().startswith("w_14"))
    assert line.split()[1:3] == ["0.22", "0.2104740973"]
    assert "rounding: as by hand" in result.stdout


def test_round_is_validated() -> None:
    from bpexplain.errors import BpexplainError

    with pytest.raises(BpexplainError):
        bpexplain.train("lecture", round=20)
