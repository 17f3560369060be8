"""`bpexplain check`: back-propagation agrees with central differences on every bundled network, and a
wrong activation derivative (injected through the API) is caught, with exit status 1."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import bpexplain
from bpexplain.check import check_gradients
from bpexplain.cli import cli
from bpexplain.layers import base
from bpexplain.record import replace
from bpexplain.spec import bundled_names

ENV = {"NO_COLOR": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "COLUMNS": "100"}


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner(env=ENV).invoke(cli, list(args))


def _limit(name: str) -> int | None:
    size = sum(p.size for p in bpexplain.load(name).parameters().values())
    return None if size <= 500 else 4


@pytest.mark.parametrize("name", bundled_names())
def test_every_bundled_network_agrees(name: str) -> None:
    result = check_gradients(bpexplain.load(name), limit=_limit(name))
    assert result.rows and result.ok, [r.label for r in result.failures]
    # the numbers really are gradients: not all zero, and each pair close
    assert any(abs(r.backprop) > 1e-6 for r in result.rows)
    for r in result.rows:
        assert abs(r.difference) <= 1e-8 + 1e-5 * abs(r.backprop)


@pytest.mark.parametrize("name", ["lecture", "xor", "classifier", "homework-cnn"])
def test_cli_check_exits_0_when_all_agree(name: str) -> None:
    result = invoke("check", name)
    assert result.exit_code == 0, result.output
    assert "All" in result.stdout and "agree" in result.stdout and "DISAGREE" not in result.stdout


def test_check_covers_every_parameter_element() -> None:
    result = check_gradients(bpexplain.load("lecture"))
    assert len(result.rows) == 14
    assert {r.parameter for r in result.rows} == {"layer1.weight", "layer2.weight", "output.weight"}


def test_check_of_one_sample_matches_the_engine_step() -> None:
    result = check_gradients(bpexplain.load("xor"), sample=1)
    grads = bpexplain.train("xor", steps=1).steps[0].gradients
    assert grads is not None
    for r in result.rows:
        assert r.backprop == pytest.approx(float(grads[r.parameter][r.index]), rel=1e-12, abs=1e-15)


@pytest.fixture
def wrong_sigmoid_derivative(monkeypatch: pytest.MonkeyPatch) -> None:
    """Layers built from now on get a sigmoid whose derivative is y instead of y·(1 − y)."""
    real = base.make_activation

    def make(name: str, slope: float = 0.01):  # type: ignore[no-untyped-def]
        rule = real(name, slope)
        return replace(rule, derivative=lambda e, y: y) if name == "sigmoid" else rule

    monkeypatch.setattr(base, "make_activation", make)


def test_a_wrong_derivative_is_caught(wrong_sigmoid_derivative: None) -> None:
    result = check_gradients(bpexplain.load("lecture"))
    assert not result.ok
    assert len(result.failures) == 14  # every weight's gradient goes through a sigmoid derivative


def test_cli_check_exits_1_on_a_wrong_derivative(wrong_sigmoid_derivative: None) -> None:
    result = invoke("check", "lecture")
    assert result.exit_code == 1
    assert "DISAGREE" in result.stdout
    assert "14 of 14 gradients DISAGREE" in result.stdout


def test_check_json(wrong_sigmoid_derivative: None) -> None:
    result = invoke("check", "xor", "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["ok"] is False and len(doc["parameters"]) == 9
    row = doc["parameters"][0]
    assert set(row) >= {"symbol", "backprop", "numeric", "difference", "ok"}
    assert np.isclose(row["difference"], row["backprop"] - row["numeric"])


def test_check_rejects_a_sample_that_does_not_exist() -> None:
    result = invoke("check", "lecture", "--sample", "5")
    assert result.exit_code == 2 and "no sample 5" in result.stderr
