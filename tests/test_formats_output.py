"""-o FILE: the format follows the extension, and the file appears whole or not at all (failure, Ctrl-C)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from children import running
from click.testing import CliRunner

from bpexplain.cli import cli
from bpexplain.output import atomic_output, format_for

ENV = {"NO_COLOR": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "COLUMNS": "100"}
DIVERGING = """\
name: diverging
title: a network whose weights blow up after a few steps
inputs: [x]
layers:
  - {name: out, type: dense, activation: identity, weight: [[1.0]]}
loss: mse
learning_rate: 1.0e+100
data:
  - {input: [3], target: [0]}
"""


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner(env=ENV).invoke(cli, list(args))


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize(
    "name,fmt",
    [
        ("key.md", "markdown"),
        ("key.tex", "latex"),
        ("key.json", "json"),
        ("key.txt", "text"),
        ("key.html", "html"),
        ("key.svg", "svg"),
        ("KEY.MD", "markdown"),
        ("key", None),
    ],
)
def test_format_for(name: str, fmt: str | None) -> None:
    assert format_for(name) == fmt


@pytest.mark.parametrize(
    "ext,start",
    [
        ("md", "# bpexplain train: lecture"),
        ("tex", "% bpexplain train lecture"),
        ("txt", "bpexplain train: lecture"),
        ("html", "<!DOCTYPE html>"),
        ("svg", "<svg"),
    ],
)
def test_output_file_takes_its_format_from_the_extension(tmp_path: Path, ext: str, start: str) -> None:
    target = tmp_path / f"key.{ext}"
    result = invoke("train", "lecture", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert target.read_text(encoding="utf-8").startswith(start)
    assert leftovers(tmp_path) == []


def test_json_output_file_and_explicit_format(tmp_path: Path) -> None:
    target = tmp_path / "trace.json"
    assert invoke("train", "lecture", "--steps", "2", "-o", str(target)).exit_code == 0
    assert len(json.loads(target.read_text(encoding="utf-8"))["steps"]) == 2
    other = tmp_path / "trace.dat"
    assert invoke("forward", "lecture", "--format", "markdown", "-o", str(other)).exit_code == 0
    assert other.read_text(encoding="utf-8").startswith("# bpexplain forward")


def test_latex_body_with_output(tmp_path: Path) -> None:
    target = tmp_path / "part.tex"
    assert invoke("train", "lecture", "--latex-body", "-o", str(target)).exit_code == 0
    assert "\\documentclass" not in target.read_text(encoding="utf-8")
    result = invoke("train", "lecture", "--latex-body", "--format", "markdown")
    assert result.exit_code == 2 and "--latex-body goes with --format latex" in result.stderr


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_failing_run_leaves_no_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    net = tmp_path / "diverging.yaml"
    net.write_text(DIVERGING, encoding="utf-8")
    target = tmp_path / "key.md"
    result = invoke("train", str(net), "--steps", "50", "-o", str(target))
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: step ")  # it failed mid-run, after steps had been written
    assert not target.exists() and leftovers(tmp_path) == []
    target.write_text("the old key\n", encoding="utf-8")
    assert invoke("train", str(net), "--steps", "50", "-o", str(target)).exit_code == 1
    assert target.read_text(encoding="utf-8") == "the old key\n"
    assert leftovers(tmp_path) == []


def test_an_error_before_the_run_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "key.txt"
    result = invoke("train", "lecture", "--layer", "nope", "-o", str(target))
    assert result.exit_code == 2
    assert not target.exists() and leftovers(tmp_path) == []


def test_atomic_output_removes_the_temporary_file_on_interrupt(tmp_path: Path) -> None:
    target = tmp_path / "key.txt"
    with pytest.raises(KeyboardInterrupt):
        with atomic_output(target) as out:
            out.write("half a key")
            assert leftovers(tmp_path)  # the temporary file exists meanwhile, beside the target
            raise KeyboardInterrupt
    assert not target.exists() and leftovers(tmp_path) == []


def test_atomic_output_keeps_the_permissions_of_the_file_it_replaces(tmp_path: Path) -> None:
    target = tmp_path / "key.txt"
    target.write_text("old", encoding="utf-8")
    os.chmod(target, 0o640)
    with atomic_output(target) as out:
        out.write("new")
    assert target.read_text(encoding="utf-8") == "new"
    assert target.stat().st_mode & 0o777 == 0o640


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
def test_sigint_during_a_run_leaves_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "key.txt"
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR")}
    args = ["train", "xor", "--epochs", "100000", "-o", str(target)]
    with running(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as proc:
        deadline = time.monotonic() + 60
        while not leftovers(tmp_path) and time.monotonic() < deadline:  # wait until it is writing
            time.sleep(0.05)
        assert leftovers(tmp_path), "the run never started writing"
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert b"interrupted" in err
    assert not target.exists() and leftovers(tmp_path) == []
