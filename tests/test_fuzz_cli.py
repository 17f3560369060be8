"""Fuzzing the command line: random combinations of options, good and bad values, on the bundled networks.

Whatever the combination, the CLI ends with status 0, 1 or 2; a failure is one `error:` line on
stderr; nothing escapes as an exception (CliRunner would hold it) and no "internal error" is reported.
Runs in process through click's CliRunner (fast). Bounded to a few seconds for `make test`;
`make fuzz` (BPEXPLAIN_FUZZ=long) runs thousands of combinations with fresh random choices.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpexplain.cli import cli

ERROR_LINE = re.compile(r"(\S.*: )?error: ")  # `FILE:LINE:COL: error: ...`, or `error: ...`

LONG = os.environ.get("BPEXPLAIN_FUZZ") == "long"
FUZZ = settings(
    max_examples=3_000 if LONG else 60,
    deadline=None,
    derandomize=not LONG,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
ENV = {"NO_COLOR": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "COLUMNS": "100"}
NETWORKS = ["lecture", "xor", "classifier", "homework-cnn", "lectur", "no/such.yaml", ""]

INTEGERS = st.one_of(
    st.integers(-3, 4).map(str),
    st.sampled_from(["abc", "1.5", "", " 2", "+3", "1e3", "0x10", "9" * 25, "٣", "-0"]),
)
STEP_LISTS = st.one_of(
    st.sampled_from(["1", "2", "1,2", "1-2", "2-1", "0", "1-", "a", "1,,2", "1-100000000", "3-99999999999"]),
    st.lists(st.integers(0, 4), min_size=1, max_size=4).map(lambda xs: ",".join(map(str, xs))),
)
NUMBERS = st.sampled_from(["0", "0.01", "1", "-1", "nan", "inf", "-inf", "1e999", "abc", ""])
PHASES = st.lists(st.sampled_from(["forward", "loss", "error", "gradient", "update", "backward", ""]), max_size=3).map(
    ",".join
)
OUTPUTS = st.sampled_from(["key.txt", "key.md", "key.tex", "key.json", "key.pdf", "key", "", "no/dir/key.txt", "."])


def option(name: str, values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    return values.map(lambda v: [name, v])


def flag(name: str) -> st.SearchStrategy[list[str]]:
    return st.just([name])


COMMON = [
    option("--format", st.sampled_from(["text", "json", "markdown", "latex", "rich", "html", "auto", "pdf"])),
    option("--precision", INTEGERS),
    option("--detail", st.sampled_from(["full", "layer", "summary", "none"])),
    option("--notation", st.sampled_from(["lecture", "textbook"])),
    option("--max-terms", INTEGERS),
    option("--max-equations", st.sampled_from(["0", "10", "500000", "-1"])),
    option("--round", INTEGERS),
    option("--layer", st.sampled_from(["hidden", "output", "layer2", "nope", "conv1,fc"])),
    option("--only", PHASES),
    option("--step", STEP_LISTS),
    option("--steps-shown", STEP_LISTS),
    option("-o", OUTPUTS),
    flag("--latex-body"),
]
TRAIN = [
    option("--steps", INTEGERS),
    option("--epochs", INTEGERS),
    option("--batch", st.sampled_from(["single", "full", "mini"])),
    flag("--shuffle"),
    option("--seed", st.sampled_from(["0", "7", "-1", "9223372036854775808", "x"])),
    option("--until-loss", NUMBERS),
    option("--rule", st.sampled_from(["exact", "slide"])),
    option("--update-order", st.sampled_from(["simultaneous", "sequential"])),
]
FORWARD = [option("--sample", INTEGERS)]
CHECK = [
    option("--sample", INTEGERS),
    option("--limit", INTEGERS),
    option("--format", st.sampled_from(["text", "json", "markdown"])),
    option("--precision", INTEGERS),
]
SHOW = [option("--format", st.sampled_from(["text", "json", "latex"])), option("--notation", st.sampled_from(["x"]))]


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    command = draw(st.sampled_from(["train", "train", "forward", "check", "show", "list", "trian", "--help"]))
    pool = {"train": COMMON + TRAIN, "forward": COMMON + FORWARD, "check": CHECK, "show": SHOW}.get(command, [])
    args = [command]
    if command in pool or command in ("train", "forward", "check", "show"):
        args.append(draw(st.sampled_from(NETWORKS)))
    if pool:
        for chosen in draw(st.lists(st.sampled_from(pool), max_size=5)):
            args.extend(draw(chosen))
    if command == "train" and "--steps" not in args and "--epochs" not in args:
        args += ["--steps", "2"]  # keep each run short (--step 1-100000000 alone would run that many steps)
    return args


@FUZZ
@given(args=command_lines())
def test_any_command_line_ends_with_0_1_or_2_and_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    if "homework-cnn" in args and "--epochs" in args:
        args = [a if a != "--epochs" else "--steps" for a in args]  # an epoch of the CNN is only its one sample
    monkeypatch.chdir(tmp_path)  # -o writes here
    result = CliRunner(env=ENV).invoke(cli, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, (args, result.stderr)
    if result.exit_code != 0:
        assert ERROR_LINE.match(result.stderr) and result.stderr.count("\n") == 1, (args, result.stderr)
