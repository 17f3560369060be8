"""--step/--steps-shown, --layer and --only: a filter over the event stream, between engine and renderer."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import bpexplain
from bpexplain.cli import cli
from bpexplain.filters import EventFilter, parse_phases, parse_steps
from bpexplain.trace import Block, StepEnd, StepStart, TraceEnd, TraceHeader

ENV = {"NO_COLOR": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "COLUMNS": "100"}


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner(env=ENV).invoke(cli, list(args))


@pytest.mark.parametrize("text,steps", [("1", {1}), ("1,3-5", {1, 3, 4, 5}), (" 2 , 2-3", {2, 3}), ("7-7", {7})])
def test_parse_steps(text: str, steps: set[int]) -> None:
    assert parse_steps(text) == steps


@pytest.mark.parametrize("text", ["0", "3-1", "a", "1,,2", "-2"])
def test_parse_steps_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_steps(text)


def test_parse_phases() -> None:
    assert parse_phases("forward, loss") == {"forward", "loss"}
    with pytest.raises(ValueError, match="choose from forward,loss,error,gradient,update"):
        parse_phases("forward,backward")


def events(**options):  # type: ignore[no-untyped-def]
    return list(bpexplain.train("lecture", **options))


def test_steps_filter_keeps_only_those_steps() -> None:
    kept = list(EventFilter(steps=frozenset({2, 4})).apply(events(steps=5)))
    assert isinstance(kept[0], TraceHeader) and isinstance(kept[-1], TraceEnd)
    assert [e.index for e in kept if isinstance(e, StepStart)] == [2, 4]
    assert [e.index for e in kept if isinstance(e, StepEnd)] == [2, 4]
    assert sum(isinstance(e, Block) for e in kept) == 2 * sum(isinstance(e, Block) for e in events(steps=1))


def test_layer_and_phase_filters() -> None:
    kept = [e for e in EventFilter(layers=frozenset({"layer2"})).apply(events(steps=1)) if isinstance(e, Block)]
    assert {b.layer for b in kept} == {"layer2"}
    assert [b.phase for b in kept] == ["forward", "error", "gradient", "update"]
    kept = [e for e in EventFilter(phases=frozenset({"error", "loss"})).apply(events(steps=1)) if isinstance(e, Block)]
    assert [b.phase for b in kept] == ["loss", "error", "error", "error"]
    both = EventFilter(layers=frozenset({"output"}), phases=frozenset({"loss", "error"}))
    kept = [e for e in both.apply(events(steps=1)) if isinstance(e, Block)]
    assert [(b.phase, b.layer) for b in kept] == [("loss", None), ("error", "output")]


def test_unfiltered_stream_is_unchanged() -> None:
    evs = events(steps=2)
    assert list(EventFilter().apply(evs)) == evs


def test_cli_step_runs_enough_steps_and_shows_only_that_one() -> None:
    result = invoke("train", "lecture", "--step", "3", "--format", "text")
    assert result.exit_code == 0, result.output
    assert "Step 3 (epoch 3, sample 1)" in result.stdout
    assert "Step 1 " not in result.stdout and "Step 2 " not in result.stdout
    assert "Summary: 3 step(s)" in result.stdout


def test_cli_only_and_layer_in_markdown() -> None:
    result = invoke("train", "lecture", "--only", "gradient", "--layer", "output", "--format", "markdown")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("- $")]
    assert len(lines) == 3  # the input line and ∂E/∂w_46, ∂E/∂w_56
    assert r"\frac{\partial E}{\partial w_{46}}" in lines[1] and r"\frac{\partial E}{\partial w_{56}}" in lines[2]
    assert "#### Forward" not in result.stdout and "Error:" not in result.stdout


def test_filtered_json_is_still_valid() -> None:
    result = invoke("train", "lecture", "--steps-shown", "2", "--steps", "3", "--only", "update", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [s["index"] for s in doc["steps"]] == [2]
    assert {eq["kind"] for eq in doc["steps"][0]["equations"]} == {"update"}


@pytest.mark.parametrize(
    "args,message",
    [
        (["--layer", "nope"], "no layer 'nope'"),
        (["--only", "backward"], "unknown phase 'backward'"),
        (["--step", "4", "--steps", "2"], "--step 4 is beyond --steps 2"),
        (["--step", "x"], "not a step number"),
    ],
)
def test_cli_filter_errors(args: list[str], message: str) -> None:
    result = invoke("train", "lecture", *args)
    assert result.exit_code == 2
    assert message in result.stderr
