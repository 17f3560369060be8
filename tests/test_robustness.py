"""The command line never answers with a traceback: pipes, Ctrl-C, odd files, hostile YAML and exit statuses.

These run `python -m bpexplain` as a subprocess, the way a student's shell does. Subprocess timeouts
here only guard against a hang; no test asserts how long anything takes (see benchmarks/).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from children import running
from click.testing import CliRunner

from bpexplain.cli import cli
from bpexplain.spec import MAX_DEPTH, MAX_FILE_BYTES, bundled_names

ERROR_LINE = re.compile(r"(\S.*: )?error: ")  # `FILE:LINE:COL: error: ...`, or `error: ...`

ENV = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR")}
HANG = 120  # seconds: only a guard against hanging, not a measurement


def bp(*args: str, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "bpexplain", *args], capture_output=True, env=ENV, timeout=HANG, **kwargs
    )  # type: ignore[call-overload]


def one_error_line(proc: subprocess.CompletedProcess[bytes], status: int = 2) -> str:
    err = proc.stderr.decode()
    assert proc.returncode == status, err
    assert "Traceback" not in err
    assert ERROR_LINE.match(err) and err.count("\n") == 1, err
    return err


# ---- start-up ----------------------------------------------------------------------------------


def modules_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=ENV, timeout=HANG)
    return set(out.stdout.split())


def test_help_and_version_do_not_import_numpy_or_yaml() -> None:
    for args in (["--help"], ["--version"], ["train", "--help"]):
        mods = modules_after(f"from bpexplain.cli import cli\ntry:\n    cli({args!r})\nexcept SystemExit:\n    pass")
        assert "bpexplain.cli" in mods
        assert not {"numpy", "yaml", "rich.console", "bpexplain.engine"} & mods, args


def test_a_run_loads_no_other_command_s_code() -> None:
    """Commands in bpexplain/commands/ are imported when run or listed, not by `forward` or `train`."""
    mods = modules_after(
        "from bpexplain.cli import cli\nimport io, contextlib\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        cli(['forward', 'lecture', '--format', 'text'])\n    except SystemExit:\n        pass"
    )
    assert "bpexplain.engine" in mods
    others = {"bpexplain.commands.variants", "bpexplain.commands.grading", "bpexplain.commands.tools"}
    assert not (others | {"bpexplain.variants", "bpexplain.marking", "matplotlib"}) & mods


def test_importtime_agrees_that_help_skips_numpy() -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bpexplain", "--help"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=HANG,
    )
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "click" in imported and "numpy" not in imported


def test_a_piped_run_does_not_import_rich_console() -> None:
    mods = modules_after(
        "from bpexplain.cli import cli\nimport io, contextlib\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        cli(['forward', 'lecture'])\n    except SystemExit:\n        pass"
    )
    assert "bpexplain.engine" in mods and "rich.console" not in mods and "numpy.random" not in mods


# ---- pipes and Ctrl-C --------------------------------------------------------------------------


def piped_to_head(args: list[str]) -> tuple[int, bytes, bytes]:
    producer = subprocess.Popen(
        [sys.executable, "-m", "bpexplain", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV
    )
    head = subprocess.run(["head", "-3"], stdin=producer.stdout, capture_output=True, timeout=HANG)
    assert producer.stdout is not None
    producer.stdout.close()
    _, err = producer.communicate(timeout=HANG)
    return producer.returncode, head.stdout, err


@pytest.mark.parametrize(
    "args",
    [
        ["train", "xor", "--epochs", "500", "--detail", "summary"],
        ["train", "xor", "--epochs", "500", "--detail", "summary", "--format", "rich"],
        ["train", "xor", "--epochs", "50", "--format", "json"],
        ["list"],
    ],
)
def test_a_closed_pipe_ends_quietly(args: list[str]) -> None:
    status, out, err = piped_to_head(args)
    assert 0 < out.count(b"\n") <= 3
    assert err == b"", err.decode()
    assert status == 0


@pytest.mark.skipif("lenet5" not in bundled_names(), reason="lenet5 is not bundled")
def test_a_closed_pipe_on_lenet5_ends_quietly() -> None:
    status, out, err = piped_to_head(["train", "lenet5"])
    assert out.startswith(b"bpexplain train: lenet5")
    assert err == b"" and status == 0


def test_ctrl_c_ends_with_130_and_one_line() -> None:
    args = ["train", "xor", "--epochs", "1000000", "--detail", "summary"]
    with running(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV) as proc:
        assert proc.stdout is not None
        proc.stdout.readline()  # it is running and writing
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=HANG)
    assert proc.returncode == 130
    assert err.decode() == "error: interrupted\n"


def test_ctrl_c_while_the_cli_is_still_loading_ends_the_same_way() -> None:
    loading = (
        "import sys\n"
        "class Interrupted:  # Ctrl-C arrives while bpexplain.cli is being imported\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'bpexplain.cli':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupted())\n"
        "from bpexplain.__main__ import main\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", loading], capture_output=True, env=ENV, timeout=HANG)
    assert proc.returncode == 130
    assert proc.stderr.decode() == "error: interrupted\n"


# ---- odd files ---------------------------------------------------------------------------------


def test_a_directory_as_net(tmp_path: Path) -> None:
    (tmp_path / "net.yaml").mkdir()
    assert "is a directory" in one_error_line(bp("train", str(tmp_path / "net.yaml")))
    assert "is a directory" in one_error_line(bp("forward", str(tmp_path)))


def test_an_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    net = tmp_path / "net.yaml"
    net.write_text("inputs: 1\n")
    if os.geteuid() != 0:
        net.chmod(0)
        assert "permission denied" in one_error_line(bp("train", str(net)))

    # as root every file is readable, so make reading fail the way it would
    real_open = Path.open

    def denied(self: Path, *args: object, **kwargs: object) -> object:
        if self == net:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", denied)
    result = CliRunner().invoke(cli, ["train", str(net)])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "permission denied" in result.stderr


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_an_endless_file_is_refused(device: str) -> None:
    if not Path(device).exists():
        pytest.skip(f"no {device}")
    err = one_error_line(bp("train", device))
    assert f"{device}: error: is a character device, not a regular file" in err  # refused before it is opened


def test_a_binary_file(tmp_path: Path) -> None:
    net = tmp_path / "net.yaml"
    net.write_bytes(b"\xff\xfe\x00garbage\x00")
    assert "not UTF-8" in one_error_line(bp("train", str(net)))


def test_a_file_of_megabytes_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    net = tmp_path / "big.yaml"
    net.write_text("inputs: 2\nlayers:\n  - weight: [" + "0.5, " * (MAX_FILE_BYTES // 5) + "1]\n")
    err = one_error_line(bp("train", str(net)))
    assert f"at most {MAX_FILE_BYTES} bytes" in err


BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_billion_laughs_is_refused(tmp_path: Path) -> None:
    net = tmp_path / "lol.yaml"
    net.write_text(BILLION_LAUGHS)
    err = one_error_line(bp("train", str(net)))
    assert "aliases that expand" in err


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    net = tmp_path / "loop.yaml"
    net.write_text("inputs: &x [*x]\n")
    err = one_error_line(bp("train", str(net)))
    assert "nested" in err or "alias" in err


@pytest.mark.parametrize("depth", [MAX_DEPTH + 5, 5000, 200_000])
def test_deep_nesting_is_refused(tmp_path: Path, depth: int) -> None:
    net = tmp_path / "deep.yaml"
    net.write_text("inputs: " + "[" * depth + "]" * depth + "\n")
    err = one_error_line(bp("train", str(net)))
    assert "nest" in err


def test_unsafe_tags_are_not_constructed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    net = tmp_path / "evil.yaml"
    net.write_text(f"inputs: !!python/object/apply:os.system ['touch {marker}']\n")
    err = one_error_line(bp("train", str(net)))
    assert "constructor" in err
    assert not marker.exists()


# ---- limits and exit statuses --------------------------------------------------------------------


WIDE = "inputs: 30\nlayers:\n  - {units: 30, activation: tanh}\n  - {units: 1}\ndata:\n" + (
    f"  - {{input: [{', '.join(['0.1'] * 30)}], target: [1]}}\n"
)


def test_a_trace_too_long_is_refused_and_the_limit_can_be_lifted(tmp_path: Path) -> None:
    net = tmp_path / "wide.yaml"
    net.write_text(WIDE)
    err = one_error_line(bp("train", str(net), "--max-equations", "1000"))
    assert "--max-equations 1,000" in err and "equations a step" in err
    ok = bp("train", str(net), "--max-equations", "0", "--format", "text")
    assert ok.returncode == 0 and b"Update: layer2" in ok.stdout
    assert bp("train", str(net), "--max-equations", "1000", "--detail", "summary").returncode == 0


def test_exit_statuses(tmp_path: Path) -> None:
    assert bp("forward", "lecture").returncode == 0
    diverging = tmp_path / "diverging.yaml"
    diverging.write_text(
        "inputs: 1\nlayers:\n  - {weight: [[1.0]]}\nlearning_rate: 10\ndata:\n  - {input: [3], target: [1]}\n"
    )
    err = one_error_line(bp("train", str(diverging), "--steps", "1000", "--detail", "summary"), status=1)
    assert "∞" in err
    one_error_line(bp("train", "no-such-network"), status=2)
    assert bp("train", "lecture", "--steps", "0").returncode == 2  # a usage error, from click


def test_sigmoid_never_raises_a_floating_point_flag_and_keeps_its_bits() -> None:
    import math

    import numpy as np

    from bpexplain.functions import make_activation

    sigmoid = make_activation("sigmoid").value
    near = np.array([0.0, -0.0, 1e-300, -1e-300, 0.5, -0.5, 36.0, -36.0, 709.0, -709.0, 745.0, 1e308])
    far = np.array([-720.0, -745.0, -1e308])  # exp(−e) overflows
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # as the engine computes
        y_near = sigmoid(near)
        y_all = sigmoid(np.concatenate([far, near]))
    assert np.array_equal(y_near, 1.0 / (1.0 + np.exp(-near)))  # the lecture's 1/(1 + exp(−e)), bit for bit
    assert np.array_equal(y_all[3:], y_near)  # elements far out do not change the others' bits
    # there exp(e)/(1 + exp(e)) is exp(e): subnormals, then 0
    assert list(y_all[:3]) == [math.exp(-720), 5e-324, 0.0] and y_all[0] > 0
    assert y_near[0] == 0.5 and y_near[-1] == 1.0
