"""`bpexplain check` beyond agreement: kinks (ReLU at 0, leaky ReLU at 0, max-pool ties) are told apart from
disagreements, the JSON is strict, a check too large is refused up front, and progress shows only on a
terminal. The expected numbers are worked out by hand here, apart from the engine."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import spec_from

from bpexplain.check import CheckResult, GradientCheck, check_gradients
from bpexplain.cli import cli
from bpexplain.expr import Sym
from bpexplain.layers import base
from bpexplain.record import replace
from bpexplain.render import check as view

ENV = {"NO_COLOR": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "COLUMNS": "100"}
ROOT = Path(__file__).resolve().parent.parent

# h_1's pre-activation is 0.5·1 + 0.5·(−1) = 0 exactly: ReLU's kink
RELU_AT_ZERO = """
inputs: 2
layers:
  - {name: h, activation: relu, weight: [[0.5, 0.5], [0.3, -0.2]]}
  - {name: out, activation: identity, weight: [[1.5, -0.7]]}
loss: mse
data:
  - {input: [1, -1], target: [1]}
"""

# O1(1,1) = K1(1,1) and O1(1,2) = K1(1,2) tie at 0.5 in the pooling window
MAXPOOL_TIE = """
inputs: {shape: [2, 3]}
layers:
  - {name: c, type: conv2d, kernel: [[0.5, 0.5]], flip: false}
  - {name: p, type: maxpool, size: 2}
  - {name: f, type: flatten}
  - {name: d, weight: [[2]], activation: identity}
loss: mse
data:
  - {input: [[1, 0, 1], [0, 0, 0]], target: [0]}
"""


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner(env=ENV).invoke(cli, list(args))


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "net.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def strict(text: str) -> dict:
    def refuse(name: str) -> None:
        raise ValueError(f"bare {name} in JSON")

    return json.loads(text, parse_constant=refuse)  # type: ignore[arg-type]


def test_a_relu_at_its_kink_is_a_kink_not_a_disagreement(tmp_path: Path) -> None:
    result = check_gradients(spec_from(RELU_AT_ZERO))
    rows = {r.label: r for r in result.rows}
    # by hand: y = 1.5·ReLU(e_1) − 0.7·ReLU(0.5) = −0.35 at e_1 = 0, so ∂E/∂y = y − 1 = −1.35. Back-propagation
    # takes ReLU'(0) = 0; the central difference sees slope 1.5·(−1.35)·x_1 on the right and 0 on the left
    right = 1.5 * -1.35 * 1.0
    w11 = rows["h.weight[0, 0]"]
    assert w11.backprop == 0.0 and w11.numeric == pytest.approx(right / 2, rel=1e-4)
    assert not w11.ok and w11.kink and w11.verdict == "kink"
    assert rows["h.weight[0, 1]"].verdict == "kink"
    # the other unit is away from its kink: ∂E/∂w_(x1)2 = −1.35·(−0.7)·1·x_1
    assert rows["h.weight[1, 0]"].ok and rows["h.weight[1, 0]"].backprop == pytest.approx(0.945, rel=1e-12)
    assert result.ok and len(result.kinks) == 2 and not result.failures

    cli_result = invoke("check", write(tmp_path, RELU_AT_ZERO))
    assert cli_result.exit_code == 0, cli_result.output
    assert "kink" in cli_result.stdout and "DISAGREE" not in cli_result.stdout
    assert "4 of 6 gradients agree; 2 straddle a kink" in cli_result.stdout


def test_a_leaky_relu_at_its_kink_is_a_kink(tmp_path: Path) -> None:
    text = RELU_AT_ZERO.replace("activation: relu", "activation: {name: leaky_relu, slope: 0.1}")
    result = check_gradients(spec_from(text))
    w11 = next(r for r in result.rows if r.label == "h.weight[0, 0]")
    # back-propagation takes LReLU'(0) = 0.1; the difference averages the slopes 1 and 0.1
    assert w11.backprop == pytest.approx(0.1 * -2.025, rel=1e-12)
    assert w11.numeric == pytest.approx(0.55 * -2.025, rel=1e-4)
    assert w11.verdict == "kink" and result.ok


def test_a_max_pool_tie_that_the_parameter_breaks_is_a_kink(tmp_path: Path) -> None:
    result = check_gradients(spec_from(MAXPOOL_TIE))
    rows = {r.label: r for r in result.rows}
    # P1 = max(K1(1,1), K1(1,2), 0, 0) = 0.5, y = 2·P1 = 1, ∂E/∂y = 1: the first maximum wins, so back-propagation
    # gives ∂E/∂K1(1,1) = 2 and ∂E/∂K1(1,2) = 0; a change of either moves the maximum only upwards: 1 each way
    assert rows["c.weight[0, 0]"].backprop == pytest.approx(2.0) and rows["c.weight[0, 1]"].backprop == 0.0
    assert rows["c.weight[0, 0]"].numeric == pytest.approx(1.0, rel=1e-4)
    assert rows["c.weight[0, 0]"].verdict == rows["c.weight[0, 1]"].verdict == "kink"
    assert rows["d.weight[0, 0]"].verdict == "ok"
    assert invoke("check", write(tmp_path, MAXPOOL_TIE)).exit_code == 0


def test_a_tie_the_parameter_does_not_break_is_no_kink() -> None:
    # a kernel of one entry scales both tied elements alike: the maximum stays a tie, E is differentiable
    text = MAXPOOL_TIE.replace("kernel: [[0.5, 0.5]]", "kernel: [[0.5]]").replace("[2, 3]", "[2, 2]")
    text = text.replace("[[1, 0, 1], [0, 0, 0]]", "[[1, 1], [0, 0]]")
    result = check_gradients(spec_from(text))
    assert all(r.ok for r in result.rows) and not result.kinks


@pytest.fixture
def wrong_relu_derivative(monkeypatch: pytest.MonkeyPatch) -> None:
    """Layers built from now on get a ReLU whose derivative is 2 instead of 1 for e > 0."""
    real = base.make_activation

    def make(name: str, slope: float = 0.01):  # type: ignore[no-untyped-def]
        rule = real(name, slope)
        return replace(rule, derivative=lambda e, y: 2.0 * (e > 0)) if name == "relu" else rule

    monkeypatch.setattr(base, "make_activation", make)


def test_a_wrong_derivative_beside_a_kink_still_disagrees(wrong_relu_derivative: None, tmp_path: Path) -> None:
    result = check_gradients(spec_from(RELU_AT_ZERO))
    verdicts = {r.label: r.verdict for r in result.rows}
    assert verdicts["h.weight[1, 0]"] == verdicts["h.weight[1, 1]"] == "DISAGREE"  # away from the kink
    assert verdicts["h.weight[0, 0]"] == "kink"
    assert not result.ok
    cli_result = invoke("check", write(tmp_path, RELU_AT_ZERO))
    assert cli_result.exit_code == 1
    assert "2 of 6 gradients DISAGREE: h.weight[1, 0], h.weight[1, 1]. Also, 2 straddle a kink" in cli_result.stdout


def test_check_json_is_strict_and_says_kink(tmp_path: Path) -> None:
    result = invoke("check", write(tmp_path, RELU_AT_ZERO), "--format", "json")
    assert result.exit_code == 0
    doc = strict(result.stdout)
    assert doc["ok"] is True and doc["kinks"] == 2
    assert [p["verdict"] for p in doc["parameters"]] == ["kink", "kink", "ok", "ok", "ok", "ok"]


def test_non_finite_numbers_in_check_json_are_null_or_strings() -> None:
    rows = (
        GradientCheck("l.weight", (0,), Sym("w"), math.inf, 1.0, False),
        GradientCheck("l.weight", (1,), Sym("w"), 1.0, math.nan, False),
        GradientCheck("l.weight", (2,), Sym("w"), -math.inf, 0.0, False),
    )
    doc = strict(view.to_json(CheckResult("n", (1,), 1e-5, 1e-5, 1e-8, rows)))
    got = [(p["backprop"], p["numeric"], p["difference"]) for p in doc["parameters"]]
    assert got == [("inf", 1.0, "inf"), (1.0, None, None), ("-inf", 0.0, "-inf")]


def test_a_check_too_large_is_refused_up_front(tmp_path: Path) -> None:
    # xor: 9 parameter elements, 4 samples: 2·9·4 = 72 forward passes
    refused = invoke("check", "xor", "--max-evaluations", "71")
    assert refused.exit_code == 2 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and "72 forward passes, more than --max-evaluations 71" in refused.stderr
    assert invoke("check", "xor", "--max-evaluations", "72").exit_code == 0
    assert invoke("check", "xor", "--max-evaluations", "0").exit_code == 0
    assert invoke("check", "xor", "--max-evaluations", "40", "--sample", "1").exit_code == 0  # 18
    assert invoke("check", "xor", "--max-evaluations", "40", "--limit", "1").exit_code == 0  # 4 parameters: 32


def test_the_default_limit_refuses_lenet5_whole_and_says_what_to_do() -> None:
    result = invoke("check", "lenet5")
    assert result.exit_code == 2
    assert "123,412 forward passes" in result.stderr and "--limit" in result.stderr


def test_no_progress_when_stderr_is_not_a_terminal() -> None:
    result = invoke("check", "lecture")
    assert result.exit_code == 0 and result.stderr == ""


def test_progress_is_lazy_and_imports_rich_only_when_shown() -> None:
    code = (
        "import sys\n"
        "from bpexplain.render.check import LazyProgress\n"
        "with LazyProgress(after=60) as p:\n"
        "    p(1, 10); p(2, 10)\n"
        "print('rich.progress' in sys.modules)\n"
        "with LazyProgress(after=0) as p:\n"
        "    p(1, 10)\n"
        "    shown = p._bar is not None\n"
        "print(shown, 'rich.progress' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["False", "True", "True"]
