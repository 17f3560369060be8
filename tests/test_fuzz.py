"""Fuzzing: random text, mutated and random valid networks give a trace or a clear error, never a crash.

"A clear error" is a `BpexplainError` (or its `NumericalError`) whose message is one line; through
the CLI it is one `error: ...` line on stderr with exit status 1 or 2. Any other exception fails.

Bounded to a few seconds for `make test`; `make fuzz` runs the long profile (BPEXPLAIN_FUZZ=long).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpexplain.cli import cli
from bpexplain.engine import RunOptions, run
from bpexplain.errors import BpexplainError
from bpexplain.spec import parse_network, read_network_text
from bpexplain.trace import StepEnd, TraceEnd

ERROR_LINE = re.compile(r"(\S.*: )?error: ")  # `FILE:LINE:COL: error: ...`, or `error: ...`

LONG = os.environ.get("BPEXPLAIN_FUZZ") == "long"
FUZZ = settings(
    max_examples=10_000 if LONG else 100,
    deadline=None,
    derandomize=not LONG,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)
SEEDS = {name: read_network_text(name)[0] for name in ("lecture", "xor", "classifier")}
OPTIONS = st.fixed_dictionaries(
    {
        "command": st.sampled_from(["forward", "train"]),
        "steps": st.integers(1, 3),
        "detail": st.sampled_from(["full", "layer", "summary"]),
        "notation": st.sampled_from(["lecture", "textbook"]),
        "rule": st.sampled_from(["exact", "slide"]),
        "batch": st.sampled_from(["single", "full"]),
        "update_order": st.sampled_from(["simultaneous", "sequential"]),
    }
)


def outcome(text: str, options: dict[str, Any]) -> str:
    """'trace' or 'error'; anything else that is raised fails the test."""
    try:
        spec = parse_network(text, "fuzz.yaml")
        events = list(run(spec, RunOptions(**options)))
    except BpexplainError as exc:
        line = exc.line()
        assert line and "\n" not in line, repr(line)
        assert exc.exit_code in (1, 2)
        return "error"
    assert isinstance(events[-1], TraceEnd)
    for event in events:
        if isinstance(event, StepEnd) and event.loss is not None:
            assert event.loss == event.loss  # a NaN loss must have been an error
    return "trace"


# ---- random text ---------------------------------------------------------------------------------

YAML_BITS = st.sampled_from(
    [
        ":",
        " ",
        "\n",
        "- ",
        "[",
        "]",
        "{",
        "}",
        ",",
        "&a ",
        "*a",
        "!!python/name:os.system",
        "!!binary",
        "'",
        '"',
        "#",
        "|",
        ">",
        "? ",
        "---",
        "...",
        "\t",
        "%YAML 1.1\n",
        "inputs",
        "layers",
        "weight",
        "bias",
        "units",
        "activation",
        "sigmoid",
        "softmax",
        "loss",
        "learning_rate",
        "data",
        "input",
        "target",
        "type",
        "conv2d",
        "flatten",
        "shape",
        "0",
        "1",
        "-1",
        "0.5",
        "1e400",
        ".nan",
        ".inf",
        "null",
        "true",
        "~",
        "1e-3",
        "0x1F",
    ]
)


@FUZZ
@given(st.lists(YAML_BITS | st.text(max_size=5), max_size=60), OPTIONS)
def test_random_text(parts: list[str], options: dict[str, Any]) -> None:
    outcome("".join(parts), options)


# ---- mutated network files -------------------------------------------------------------------------

INSERTS = st.sampled_from(
    [
        "",
        " ",
        "\n",
        "  ",
        "-",
        ":",
        ",",
        "[",
        "]",
        "{",
        "}",
        "0",
        "-0.0",
        "1e308",
        "1e-320",
        "-1e400",
        ".nan",
        ".inf",
        "null",
        "[]",
        "{}",
        "[[1]]",
        "yes",
        "abc",
        "&x",
        "*x",
        "units: 1000",
        "units: 0",
        "activation: relu",
        "type: maxpool2d",
        "type: conv2d",
        "loss: cross_entropy",
        "learning_rate: 1e300",
        "seed: 99999999999999999999",
        "\t",
        "'",
        '"',
        "#",
        "!!str",
        "name: layer1",
    ]
)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(sorted(SEEDS.values())))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["insert", "delete", "replace", "duplicate-line", "drop-line"]))
        pos = draw(st.integers(0, len(text)))
        if kind == "insert":
            text = text[:pos] + draw(INSERTS) + text[pos:]
        elif kind == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 12)) :]
        elif kind == "replace":
            text = text[:pos] + draw(INSERTS) + text[pos + draw(st.integers(1, 6)) :]
        else:
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            lines = lines[:i] + ([lines[i]] * 2 if kind == "duplicate-line" else []) + lines[i + 1 :]
            text = "\n".join(lines)
    return text


@FUZZ
@given(mutated(), OPTIONS)
def test_mutated_networks(text: str, options: dict[str, Any]) -> None:
    outcome(text, options)


@FUZZ
@given(
    mutated(),
    st.sampled_from(
        [
            ["train", "--steps", "2"],
            ["forward"],
            ["train", "--detail", "summary", "--format", "json"],
            ["show"],
        ]
    ),
)
def test_mutated_networks_through_the_cli(tmp_path_factory: pytest.TempPathFactory, text: str, args: list[str]) -> None:
    path: Path = tmp_path_factory.mktemp("fuzz") / "net.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, [args[0], str(path), *args[1:]])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code in (0, 1, 2)
    if result.exit_code:
        assert ERROR_LINE.match(result.stderr) and result.stderr.count("\n") == 1, result.stderr
    else:
        assert result.stdout and result.stderr == ""


# ---- random valid networks --------------------------------------------------------------------------

NUMBER = st.floats(-3, 3, allow_nan=False).map(lambda x: round(x, 3)) | st.sampled_from([0.0, 1e150, -1e150])


@st.composite
def networks(draw: st.DrawFn) -> dict[str, Any]:
    n_in = draw(st.integers(1, 4))
    loss = draw(st.sampled_from(["mse", "cross_entropy", "binary_cross_entropy"]))
    hidden = draw(
        st.lists(
            st.tuples(st.integers(1, 4), st.sampled_from(["sigmoid", "tanh", "relu", "leaky_relu", "identity"])),
            max_size=3,
        )
    )
    n_out = draw(st.integers(1, 3))
    out_act = {
        "mse": draw(st.sampled_from(["sigmoid", "tanh", "identity", "softmax", "relu"])),
        "cross_entropy": draw(st.sampled_from(["softmax", "sigmoid"])),
        "binary_cross_entropy": "sigmoid",
    }[loss]
    layers = []
    fan_in = n_in
    for i, (units, act) in enumerate(hidden + [(n_out, out_act)]):
        layer: dict[str, Any] = {"name": f"l{i}", "activation": act}
        if draw(st.booleans()):
            layer["weight"] = [[draw(NUMBER) for _ in range(fan_in)] for _ in range(units)]
        else:
            layer["units"] = units
        if draw(st.booleans()):
            layer["bias"] = [draw(NUMBER) for _ in range(units)]
        layers.append(layer)
        fan_in = units
        if i < len(hidden) and draw(st.integers(0, 3)) == 0:  # now and then an activation layer of its own
            act = draw(st.sampled_from(["sigmoid", "tanh", "relu", "identity"]))
            layers.append({"name": f"a{i}", "type": "activation", "activation": act})

    def target() -> list[float]:
        if loss == "mse":
            return [draw(NUMBER) for _ in range(n_out)]
        hot = draw(st.integers(0, n_out - 1))
        return [1.0 if k == hot else 0.0 for k in range(n_out)]

    data = [{"input": [draw(NUMBER) for _ in range(n_in)], "target": target()} for _ in range(draw(st.integers(1, 3)))]
    return {
        "inputs": n_in,
        "layers": layers,
        "loss": loss,
        "data": data,
        "seed": draw(st.integers(0, 5)),
        "learning_rate": draw(st.sampled_from([0.01, 0.5, 3.0, 1e100])),
    }


@FUZZ
@given(networks(), OPTIONS)
def test_random_valid_networks(net: dict[str, Any], options: dict[str, Any]) -> None:
    text = yaml.safe_dump(net, sort_keys=False)
    result = outcome(text, options)
    if "e+" not in text:  # no huge number: only options that do not go together may stop the run
        conflict = (options["rule"] == "slide" and options["notation"] == "textbook") or (
            options["batch"] == "full" and options["update_order"] == "sequential"
        )
        assert (result == "error") == conflict, text
