"""Progress on stderr for long runs (bpexplain/progress.py): a bar appears on a terminal stderr once a run has
lasted the delay (set to 0 here to make a run "long"), shows steps done of the total and the equations counted,
writes nothing at all to a stderr that is not a terminal, never changes a byte of stdout, and is taken off before
an error's one line."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest

import bpexplain.progress as progress_module
from bpexplain.cli import cli
from bpexplain.progress import LazyProgress, total_steps, watch
from bpexplain.trace import Block, Equation, StepEnd

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class FakeTerminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def run_cli(args: list[str], stderr: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """Run the CLI in process with this stderr and a StringIO (not a terminal) as stdout: (exit code, stdout)."""
    stdout = io.StringIO()
    monkeypatch.setattr("sys.stdout", stdout)
    monkeypatch.setattr("sys.stderr", stderr)
    with pytest.raises(SystemExit) as exc:
        cli.main(args, prog_name="bpexplain", standalone_mode=True)
    code = exc.value.code if isinstance(exc.value.code, int) else 0
    return code, stdout.getvalue()


@pytest.fixture
def long_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run is "long": the bar may appear at the first event; the terminal is an ordinary one."""
    monkeypatch.setattr(progress_module, "AFTER", 0.0)
    monkeypatch.setenv("TERM", "xterm-256color")
    for name in ("TTY_COMPATIBLE", "FORCE_COLOR", "NO_COLOR", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


TRAIN = ["train", "lecture", "--steps", "300", "--format", "text"]


def test_the_bar_appears_on_a_terminal_stderr_with_steps_of_the_total_and_equations(
    long_runs: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    stderr = FakeTerminal()
    code, _ = run_cli(TRAIN, stderr, monkeypatch)
    shown = ANSI.sub("", stderr.getvalue())
    assert code == 0
    assert "writing the trace" in shown
    assert re.search(r"\b\d+/300\b", shown), shown[-500:]
    assert re.search(r"[\d,]+ equations", shown)


def test_nothing_is_written_to_a_stderr_that_is_not_a_terminal(
    long_runs: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    stderr = io.StringIO()
    code, out = run_cli(TRAIN, stderr, monkeypatch)
    assert code == 0 and out
    assert stderr.getvalue() == ""


def test_stdout_is_byte_identical_with_and_without_the_bar(long_runs: None, monkeypatch: pytest.MonkeyPatch) -> None:
    bar = FakeTerminal()
    _, with_bar = run_cli(TRAIN, bar, monkeypatch)
    _, without = run_cli(TRAIN, io.StringIO(), monkeypatch)
    assert "writing the trace" in bar.getvalue()  # the bar was there
    assert with_bar == without


def test_stdout_matches_the_golden_file_while_the_bar_is_shown(
    long_runs: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    golden = (Path(__file__).parent / "golden" / "train-lecture-1.txt").read_text(encoding="utf-8")
    stderr = FakeTerminal()
    _, out = run_cli(["train", "lecture", "--steps", "1", "--format", "text"], stderr, monkeypatch)
    assert "writing the trace" in stderr.getvalue()
    assert out == golden


def test_no_bar_when_stdout_is_the_terminal_the_trace_is_written_on(
    long_runs: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bpexplain.cli._isatty", lambda: True)
    stderr = FakeTerminal()
    code, _ = run_cli(TRAIN, stderr, monkeypatch)
    assert code == 0 and stderr.getvalue() == ""


def test_a_bar_for_a_trace_written_to_a_file(long_runs: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setattr("bpexplain.cli._isatty", lambda: True)  # stdout a terminal, but the trace goes to -o
    stderr = FakeTerminal()
    target = tmp_path / "key.md"
    code, _ = run_cli([*TRAIN[:4], "-o", str(target)], stderr, monkeypatch)
    assert code == 0 and target.stat().st_size > 0
    assert re.search(r"\b\d+/300\b", ANSI.sub("", stderr.getvalue()))


def test_an_interrupted_run_ends_with_one_line_after_the_bar_is_taken_off(
    long_runs: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = progress_module.watch
    stopped: list[bool] = []

    def interrupted_watch(events: Any, progress: LazyProgress, total: int | None) -> Any:
        for i, ev in enumerate(original(events, progress, total)):
            if i == 200:
                assert progress.shown
                progress.close = lambda close=progress.close: (stopped.append(True), close())  # type: ignore[method-assign]
                raise KeyboardInterrupt
            yield ev

    monkeypatch.setattr(progress_module, "watch", interrupted_watch)
    stderr = FakeTerminal()
    code, _ = run_cli(TRAIN, stderr, monkeypatch)
    assert code == 130 and stopped == [True]
    last = stderr.getvalue().rsplit("\n", 2)
    # the bar's line is erased (cursor up, erase line), then the one line of the error, nothing after it
    assert last[-1] == "" and last[-2].endswith("\x1b[2Kerror: interrupted")


def test_check_still_shows_its_bar_through_the_same_mechanism(long_runs: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from bpexplain.render.check import LazyProgress as Reexported

    assert Reexported is LazyProgress
    stderr = FakeTerminal()
    code, out = run_cli(["check", "lecture", "--format", "text"], stderr, monkeypatch)
    assert code == 0 and "gradients agree" in out
    assert "checking gradients" in stderr.getvalue()


# ---- the counting itself, with a clock of our own ------------------------------------------------------------


class Recorder(LazyProgress):
    def __init__(self) -> None:
        super().__init__(after=0)
        self.calls: list[tuple[int, int | None, int | None]] = []
        self._clock = iter(range(10**6)).__next__  # type: ignore[assignment] # a second passes at every look

    def __call__(self, done: int, total: int | None, equations: int | None = None) -> None:
        self.calls.append((done, total, equations))


def _equation() -> Equation:
    return Equation.__new__(Equation)


def test_watch_counts_step_ends_and_equations_and_passes_every_event_unchanged() -> None:
    events: list[Any] = []
    for _ in range(3):
        events.append(Block("forward", "h", "t", "", equations=(_equation(), _equation())))
        events.append(Block("error", "h", "t", "", equations=(_equation(),)))
        events.append(StepEnd(index=1, loss=None, outputs={}))
    recorder = Recorder()
    passed = list(watch(iter(events), recorder, 3))
    assert passed == events and all(a is b for a, b in zip(passed, events))
    # the clock moves a second at every look, so every event updates the bar, counted before it passes on
    assert recorder.calls == [
        (0, 3, 2), (0, 3, 3), (1, 3, 3), (1, 3, 5), (1, 3, 6), (2, 3, 6), (2, 3, 8), (2, 3, 9), (3, 3, 9)
    ]  # fmt: skip


def test_a_quick_run_shows_nothing_and_does_not_import_the_bar() -> None:
    stderr = FakeTerminal()
    with LazyProgress("quick", after=60, file=stderr) as bar:
        bar(1, 10, 5)
        assert not bar.shown
    assert stderr.getvalue() == ""


@pytest.mark.parametrize(
    ("args", "want"),
    [
        (("train", 5, None, "single", 4), 5),
        (("train", None, None, "single", 4), 1),
        (("train", None, 3, "single", 4), 12),
        (("train", None, 3, "full", 4), 3),
        (("forward", None, None, "single", 4), None),
    ],
)
def test_the_total_steps_of_a_run(args: tuple[Any, ...], want: int | None) -> None:
    assert total_steps(*args) == want
