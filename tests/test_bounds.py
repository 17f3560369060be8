"""Bounded time and memory: every size a file asks for, odd YAML, odd files and the trace of each format are
refused with one positioned line before anything of that size is built or written.

The in-process tests read the file with `parse_network` (and run one step where the check is the engine's);
the subprocess tests run the CLI as a student's shell does, under an address-space limit and a timeout, so
that a huge allocation or a hang would fail them rather than the machine.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import threading
import tracemalloc
from pathlib import Path

import pytest

from bpexplain import limits
from bpexplain.engine import RunOptions, run
from bpexplain.errors import BpexplainError
from bpexplain.spec import parse_network

ERROR_LINE = re.compile(r"(\S.*: )?error: ")  # `FILE:LINE:COL: error: ...`, or `error: ...`

ENV = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR")}
ENV.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
TIMEOUT = 20  # seconds: these runs end in about one; a hang or a huge allocation would not
MEMORY = 1 << 30  # bytes of address space: Python, numpy and the CLI need a few hundred MB
BUILT = 256 << 20  # bytes a refusal may allocate: reading a large file takes tens of MB, a refused size GBs


def error_of(text: str, **options: object) -> BpexplainError:
    options = {"command": "train", "steps": 1, **options}
    with pytest.raises(BpexplainError) as info:
        spec = parse_network(text, "net.yaml")
        list(run(spec, RunOptions(**options)))  # type: ignore[arg-type]
    return info.value


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def bp(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI under MEMORY bytes of address space; TimeoutExpired (a failure) if it runs TIMEOUT seconds."""
    return subprocess.run(
        [sys.executable, "-m", "bpexplain", *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=TIMEOUT,
        preexec_fn=_limited,
        cwd=cwd,
    )


def one_error_line(proc: subprocess.CompletedProcess[str], status: int = 2) -> str:
    assert proc.returncode == status, proc.stderr
    assert "Traceback" not in proc.stderr
    assert ERROR_LINE.match(proc.stderr) and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stdout == ""  # refused before anything is written
    return proc.stderr


DATA = "data:\n  - {input: [1, 2], target: [1]}\n"
CONV = "inputs: {shape: [1, 8, 8]}\nlayers:\n  - {type: conv2d, %s, kernel_size: 3}\n  - {type: flatten}\n"
KERNEL = "inputs: {shape: [1, 8, 8]}\nlayers:\n  - {type: conv2d, %s}\n"
POOL = "inputs: {shape: [1, 8, 8]}\nlayers:\n  - {type: maxpool, size: 2, %s}\n  - {type: flatten}\n"
HUGE = "1" + "0" * 400  # a whole number of 401 digits: too large for a float

# (the file, "line:column", key path, pieces of the message)
SIZES = {
    "input count": ("inputs: 1000000000000\nlayers: [{units: 1}]\n", "1:9", "inputs", ["≤ 1,000,000"]),
    "input count of 401 digits": (f"inputs: {HUGE}\nlayers: [{{units: 1}}]\n", "1:9", "inputs", ["401 digits"]),
    "input shape": (
        "inputs: {shape: [1, 100000, 100000]}\nlayers: [{type: flatten}]\n",
        "1:17",
        "inputs.shape",
        ["10,000,000,000 inputs", "at most 1,000,000"],
    ),
    "input shape whose product overflows int64": (
        "inputs: {shape: [100000, 100000, 100000]}\nlayers: [{type: flatten}]\n",
        "1:17",
        "inputs.shape",
        ["1,000,000,000,000,000 inputs"],
    ),
    "input side": (
        "inputs: {shape: [1, 1000000000000]}\nlayers: [{type: flatten}]\n",
        "1:21",
        "inputs.shape[1]",
        ["≤ 100,000"],
    ),
    "input side 0": ("inputs: {shape: [1, 0, 5]}\nlayers: [{type: flatten}]\n", "1:21", "inputs.shape[1]", ["≥ 1"]),
    "units 1e15": (
        "inputs: 2\nlayers: [{units: 1e15}]\n",
        "2:18",
        "layers[0].units",
        ["the number 1000000000000000.0", "whole"],
    ),
    "units": ("inputs: 2\nlayers: [{units: 1000000000000000}]\n", "2:18", "layers[0].units", ["≤ 100,000"]),
    "units 0": ("inputs: 2\nlayers: [{units: 0}]\n", "2:18", "layers[0].units", ["≥ 1"]),
    "units negative": ("inputs: 2\nlayers: [{units: -4}]\n", "2:18", "layers[0].units", ["≥ 1"]),
    "kernel size": (KERNEL % "kernel_size: 1000000000000", "3:33", "layers[0].kernel_size", ["≤ 100,000"]),
    "kernel rows": (KERNEL % "kernel_size: [3, 0]", "3:37", "layers[0].kernel_size[1]", ["≥ 1"]),
    "channels": (CONV % "channels: 1000000000", "3:30", "layers[0].channels", ["≤ 100,000"]),
    "stride": (CONV % "stride: 1000000000000", "3:28", "layers[0].stride", ["≤ 100,000"]),
    "stride 0": (CONV % "stride: 0", "3:28", "layers[0].stride", ["≥ 1"]),
    "padding": (CONV % "padding: [1, 1000000000000]", "3:33", "layers[0].padding[1]", ["≤ 100,000"]),
    "padding negative": (CONV % "padding: -1", "3:29", "layers[0].padding", ["≥ 0"]),
    "dilation": (CONV % "dilation: 1000000000000", "3:30", "layers[0].dilation", ["≤ 100,000"]),
    "conv output of size 0": (CONV % "dilation: 4", "3:5", "layers[0].kernel", ["larger than the padded input"]),
    "pool size": (
        "inputs: {shape: [1, 8, 8]}\nlayers:\n  - {type: maxpool, size: 1000000000000}\n",
        "3:27",
        "layers[0].size",
        ["≤ 100,000"],
    ),
    "pool stride": (POOL % "stride: 1000000000000", "3:38", "layers[0].stride", ["≤ 100,000"]),
    "pool output of size 0": (
        "inputs: {shape: [1, 8, 8]}\nlayers:\n  - {type: avgpool, size: 9}\n",
        "3:27",
        "layers[0].size",
        ["larger than the input"],
    ),
    "connections of a convolution": (
        "inputs: {shape: [1, 600, 600]}\nlayers:\n  - {type: conv2d, kernel_size: 40}\n",
        "3:5",
        "layers[0]",
        ["of 1,600 terms each", "at most 20,000,000"],
    ),
    "connections of a pooling window": (
        "inputs: {shape: [1, 1000, 1000]}\nlayers:\n  - {type: maxpool, size: 100, stride: 1}\n",
        "3:5",
        "layers[0]",
        ["811,801 outputs of 10,000 terms each"],
    ),
    "samples": (
        "inputs: 1\nlayers: [{units: 1}]\ndata: [" + ", ".join(["{input: [1]}"] * 10_001) + "]\n",
        "3:7",
        "data",
        ["10,001 samples", "at most 10,000"],
    ),
    "data values, with the targets to fill in": (
        "inputs: 1\nlayers: [{units: 100000}]\ndata: [" + ", ".join(["{input: [1]}"] * 30) + "]\n",
        "3:7",
        "data",
        ["30 samples of 1 inputs and 100,000 outputs are 3,000,030 values"],
    ),
    "decimals": ("inputs: 2\ninit: {decimals: 400}\nlayers: [{units: 1}]\n", "2:18", "init.decimals", ["≤ 12"]),
    "decimals negative": ("inputs: 2\ninit: {decimals: -1}\nlayers: [{units: 1}]\n", "2:18", "init.decimals", ["≥ 0"]),
    "seed": (f"inputs: 2\nseed: {HUGE}\nlayers: [{{units: 1}}]\n", "2:7", "seed", ["401 digits", "≤ 9,223,"]),
    "init seed": ("inputs: 2\ninit: {seed: 1e300}\nlayers: [{units: 1}]\n", "2:14", "init.seed", ["whole number"]),
}


@pytest.mark.parametrize("case", SIZES.values(), ids=list(SIZES))
def test_each_size_is_refused_where_it_is_written(case: tuple[str, str, str, list[str]]) -> None:
    text, position, path, pieces = case
    tracemalloc.start()  # numpy reports its arrays' memory to tracemalloc too
    try:
        err = error_of(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < BUILT, f"{peak:,} bytes were allocated: something of that size was built"
    assert type(err) is BpexplainError and err.exit_code == 2
    assert str(err.where) == f"net.yaml:{position}", err.line()
    assert err.path == path, err.line()
    for piece in pieces:
        assert piece in err.line(), err.line()


# (the file, "line:column", key path, pieces of the message)
YAML_CLASSES = {
    "huge integer as the learning rate": (
        f"inputs: 2\nlayers: [{{units: 1}}]\nlearning_rate: {HUGE}\n" + DATA,
        "3:16",
        "learning_rate",
        ["a whole number of 401 digits", "finite number"],
    ),
    "huge integer in a weight": (
        f"inputs: 2\nlayers: [{{weight: [[1, {HUGE}]]}}]\n" + DATA,
        "2:24",
        "layers[0].weight[0][1]",
        ["401 digits"],
    ),
    "huge integer in an input": (
        f"inputs: 2\nlayers: [{{units: 1}}]\ndata:\n  - {{input: [{HUGE}, 2], target: [1]}}\n",
        "4:14",
        "data[0].input[0]",
        ["401 digits"],
    ),
    "huge integer as a slope": (
        f"inputs: 2\nlayers: [{{units: 1, activation: {{name: leaky_relu, slope: -{HUGE}}}}}]\n" + DATA,
        "2:59",
        "layers[0].activation.slope",
        ["401 digits"],
    ),
    "integer of 5,000 digits": (
        "inputs: 2\nlayers: [{units: 1}]\nlearning_rate: 1" + "0" * 5000 + "\n" + DATA,
        "3:16",
        "",
        ["cannot be read as a whole number (!!int)"],
    ),
    "!!int abc": ("inputs: !!int abc\nlayers: [{units: 1}]\n", "1:9", "", ["'abc' cannot be read as a whole number"]),
    "!!float x": (
        "inputs: 2\nlayers: [{units: 1}]\nlearning_rate: !!float x\n",
        "3:16",
        "",
        ["'x' cannot be read as a number (!!float)"],
    ),
    "!!timestamp 2001-13-99": (
        "inputs: 2\nname: !!timestamp 2001-13-99\nlayers: [{units: 1}]\n",
        "2:7",
        "",
        ["'2001-13-99' cannot be read as a date"],
    ),
    "a date that is no date": (
        "inputs: 2\nname: 2001-13-99\nlayers: [{units: 1}]\n",
        "2:7",
        "",
        ["'2001-13-99' cannot be read as a date"],
    ),
    "!!binary of bad base64": (
        "inputs: 2\nname: !!binary 'abc'\nlayers: [{units: 1}]\n",
        "2:7",
        "",
        ["failed to decode base64 data"],
    ),
    "!!binary where text belongs": (
        "inputs: 2\nname: !!binary 'YWJj'\nlayers: [{units: 1}]\n",
        "2:7",
        "name",
        ["found binary data", "expected a string"],
    ),
    "a date where a number belongs": (
        "inputs: 2\nlayers: [{units: 1}]\nlearning_rate: 2001-01-02\n",
        "3:16",
        "learning_rate",
        ["found the date 2001-01-02"],
    ),
    "!!python/object": (
        "inputs: 2\nname: !!python/object:os.system x\nlayers: [{units: 1}]\n",
        "2:7",
        "",
        ["could not determine a constructor"],
    ),
    "!foo": ("inputs: 2\nname: !foo x\nlayers: [{units: 1}]\n", "2:7", "", ["constructor for the tag '!foo'"]),
    ".nan learning rate": (
        "inputs: 2\nlayers: [{units: 1}]\nlearning_rate: .nan\n" + DATA,
        "3:16",
        "learning_rate",
        ["finite number"],
    ),
    ".inf input": (
        "inputs: 2\nlayers: [{units: 1}]\ndata:\n  - {input: [1, -.inf], target: [1]}\n",
        "4:17",
        "data[0].input[1]",
        ["finite number"],
    ),
}


@pytest.mark.parametrize("case", YAML_CLASSES.values(), ids=list(YAML_CLASSES))
def test_each_yaml_failure_class_is_one_positioned_error(case: tuple[str, str, str, list[str]]) -> None:
    text, position, path, pieces = case
    err = error_of(text)
    assert type(err) is BpexplainError and err.exit_code == 2
    assert str(err.where) == f"net.yaml:{position}", err.line()
    assert err.path == path, err.line()
    for piece in pieces:
        assert piece in err.line(), err.line()


def test_init_decimals_within_bounds_round_the_weights() -> None:
    for decimals in (0, limits.MAX_DECIMALS):
        spec = parse_network(f"inputs: 3\ninit: {{decimals: {decimals}}}\nlayers: [{{units: 4}}]\n", "net.yaml")
        w = spec.layers[0].params["weight"].value
        assert w.shape == (4, 3) and (w == w.round(decimals)).all()


# ---- the CLI, under a memory limit and a timeout ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("inputs: 1000000000000\nlayers: [{units: 1}]\n", "net.yaml:1:9: error: inputs: found 1000000000000"),
        (
            "inputs: 2\nlayers: [{units: 1e15}]\n",
            "net.yaml:2:18: error: layers[0].units: found the number 1000000000000000",
        ),
        (
            "inputs: {shape: [100000, 100000, 100000]}\nlayers: [{type: flatten}]\n",
            "net.yaml:1:17: error: inputs.shape: the shape",
        ),
        (
            "inputs: 1\nlayers: [{units: 100000}]\ndata: [" + ", ".join(["{input: [1]}"] * 30) + "]\n",
            "net.yaml:3:7: error: data: 30 samples",
        ),
    ],
)
def test_a_two_line_file_asking_for_too_much_is_refused_at_once(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "net.yaml").write_text(text)
    for command in ("train", "show"):
        err = one_error_line(bp(command, "net.yaml", cwd=tmp_path))
        assert err.startswith(expected), err


def test_the_memory_limit_of_these_tests_would_catch_a_huge_allocation(tmp_path: Path) -> None:
    (tmp_path / "net.yaml").write_text(
        "inputs: 2\nlayers: [{units: 1}]\ndata:\n  - {input: [1, 2], target: [1]}\n"
    )  # a run that works under the limit ...
    assert bp("train", "net.yaml", "--format", "text", cwd=tmp_path).returncode == 0
    big = "import numpy; numpy.ones(1 << 28)"  # ... and 2 GB that does not fit in it
    proc = subprocess.run(
        [sys.executable, "-c", big], capture_output=True, env=ENV, timeout=TIMEOUT, preexec_fn=_limited
    )
    assert proc.returncode != 0 and b"MemoryError" in proc.stderr


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "net.yaml"
    os.mkfifo(fifo)
    err = one_error_line(bp("forward", str(fifo)))
    assert err == f"{fifo}: error: is a FIFO (named pipe), not a regular file (expected a YAML network file)\n"


def test_a_fifo_is_refused_in_process_without_blocking(tmp_path: Path) -> None:
    from bpexplain.spec import load_network

    fifo = tmp_path / "pipe.yml"
    os.mkfifo(fifo)
    result: list[BaseException] = []

    def load() -> None:
        try:
            load_network(str(fifo))
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            result.append(exc)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(TIMEOUT)
    if thread.is_alive():  # it blocks in open(): unblock it by opening the other end, then fail
        with open(fifo, "w"):
            pass
        pytest.fail("reading a FIFO blocked")
    assert isinstance(result[0], BpexplainError) and "is a FIFO" in result[0].line()


@pytest.mark.parametrize("device", ["/dev/null", "/dev/zero"])
def test_a_device_is_refused(device: str) -> None:
    if not Path(device).exists():
        pytest.skip(f"no {device}")
    err = one_error_line(bp("train", device))
    assert err.startswith(f"{device}: error: is a character device, not a regular file")


def test_a_directory_named_like_a_network_is_refused(tmp_path: Path) -> None:
    (tmp_path / "net.yaml").mkdir()
    assert one_error_line(bp("train", "net.yaml", cwd=tmp_path)).startswith("net.yaml: error: is a directory")


# ---- the trace of each format ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "pieces"),
    [
        (["--format", "html"], ["in html", "157,389 equations in all", "MB of memory", "the limit of html, 50,000"]),
        (["--format", "svg"], ["in svg", "157,389 equations in all", "MB of memory", "the limit of svg, 16,000"]),
        (["-o", "trace.html"], ["in html"]),
        (["-o", "trace.svg"], ["in svg"]),
        (["--format", "rich", "--max-equations", "100,000"], ["in rich", "157,389 equations a step"]),
        (["--format", "latex", "--max-equations", "1000"], ["in latex", "more than --max-equations 1,000"]),
    ],
)
def test_a_trace_too_costly_in_its_format_is_refused_before_any_output(
    tmp_path: Path, args: list[str], pieces: list[str]
) -> None:
    args = [a.replace(",", "") for a in args]
    err = one_error_line(bp("train", "lenet5", *args, cwd=tmp_path))
    assert err.startswith("lenet5.yaml: error: a full trace of this network in ")
    for piece in pieces + ["--max-equations N to change the limit (0: none)"]:
        assert piece in err, err
    assert list(tmp_path.iterdir()) == []  # -o FILE: nothing written, not even a temporary file


def test_the_limit_of_a_format_held_whole_counts_every_step(tmp_path: Path) -> None:
    one = bp("train", "xor", "--format", "html", "--max-equations", "40", cwd=tmp_path)
    assert one.returncode == 0 and one.stdout.startswith("<!DOCTYPE html>")
    err = one_error_line(bp("train", "xor", "--epochs", "2", "--format", "html", "--max-equations", "40"))
    assert "248 equations in all" in err
    lifted = bp("train", "xor", "--epochs", "2", "--format", "html", "--max-equations", "0")
    assert lifted.returncode == 0 and lifted.stdout.startswith("<!DOCTYPE html>")
    # text is written as it goes: the limit is on one step
    assert bp("train", "xor", "--epochs", "2", "--format", "text", "--max-equations", "40").returncode == 0


def test_window_tables_too_large_for_a_full_trace() -> None:
    text = "inputs: {shape: [1, 75, 75]}\nlayers:\n  - {type: conv2d, kernel_size: 15}\n"
    text += "data:\n  - {input: " + str([[0.5] * 75] * 75) + "}\n"
    err = error_of(text, command="forward", detail="full")
    assert err.where is not None and err.where.file == "net.yaml"
    assert "837,225 convolution taps" in err.line() and "more than 256 MB" in err.line()
    spec = parse_network(text, "net.yaml")
    for detail in ("layer", "summary"):
        assert list(run(spec, RunOptions(command="forward", detail=detail)))
    assert limits.window_tables(spec) == (837_225, 0)


def test_every_format_has_a_cost_and_its_limit_keeps_within_its_budget() -> None:
    from bpexplain.cli import FORMAT_CHOICES

    assert set(limits.FORMAT_COSTS) == set(FORMAT_CHOICES) - {"auto"}
    for fmt, cost in limits.FORMAT_COSTS.items():
        assert cost.limit <= limits.MAX_EQUATIONS
        if cost.held_whole:
            assert cost.limit * cost.kilobytes / 1000 <= limits.HELD_MEGABYTES, fmt
        else:
            assert cost.limit * cost.seconds <= limits.STEP_SECONDS, fmt
    assert limits.FORMAT_COSTS["html"].held_whole and limits.FORMAT_COSTS["svg"].held_whole
    assert limits.FORMAT_COSTS["svg"].limit < limits.FORMAT_COSTS["html"].limit < limits.FORMAT_COSTS["rich"].limit


def test_bundled_networks_keep_within_the_limits_of_the_plain_formats() -> None:
    from bpexplain.spec import bundled_names, load_network

    for name in bundled_names():
        spec = load_network(name)
        for fmt in ("text", "markdown", "latex", "json", "rich"):
            limits.check_trace_size(spec, RunOptions(command="train", output_format=fmt))


def test_docs_list_every_limit_by_the_name_of_its_constant() -> None:
    docs = (Path(__file__).parent.parent / "docs" / "errors.md").read_text("utf-8")
    names = [n for n in vars(limits) if n.isupper() and n != "TYPE_CHECKING"]
    assert len(names) >= 19
    for name in names:
        assert f"`{name}`" in docs, name
    for name in ("MAX_FILE_BYTES", "MAX_NODES", "MAX_SIZE", "MAX_INPUTS", "MAX_PARAMETERS", "MAX_UNITS"):
        assert f"{getattr(limits, name):,}" in docs, name
    for fmt, cost in limits.FORMAT_COSTS.items():
        assert f"| {fmt} |" in docs and f"{cost.limit:,}" in docs, fmt
