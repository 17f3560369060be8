"""-o FILE and standard output never harm the user: the network file, links, devices, FIFOs, binary
extensions, directories and disks that cannot be written, signals in the middle of a write, and a
standard output that is closed, full or not UTF-8. Also the bounds of option values and COLUMNS.

The CLI runs as a subprocess, as a student's shell runs it; each failure is one `error:` line, its
status and no traceback. Timeouts only guard against a hang.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from children import running
from click.testing import CliRunner

from bpexplain import option_limits as limits
from bpexplain.cli import cli
from bpexplain.filters import parse_steps
from bpexplain.output import atomic_output, output_format

ERROR_LINE = re.compile(r"(\S.*: )?error: ")  # `FILE:LINE:COL: error: ...`, or `error: ...`

ENV = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR", "COLUMNS")}
HANG = 120  # seconds: only a guard against hanging
LECTURE = Path(__file__).resolve().parents[1] / "bpexplain" / "networks" / "lecture.yaml"
POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX files and signals")


def bp(*args: str, env: dict[str, str] | None = None, timeout: float = HANG) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "bpexplain", *args], capture_output=True, env=env or ENV, timeout=timeout
    )


def one_error_line(proc: subprocess.CompletedProcess[bytes], status: int = 2) -> str:
    err = proc.stderr.decode()
    assert proc.returncode == status, err
    assert "Traceback" not in err
    assert ERROR_LINE.match(err) and err.count("\n") == 1, err
    return err


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture
def net(tmp_path: Path) -> Path:
    path = tmp_path / "net.yaml"
    path.write_bytes(LECTURE.read_bytes())
    return path


# ---- the network file being read -----------------------------------------------------------------


@POSIX
@pytest.mark.parametrize("how", ["same path", "other spelling", "hard link", "symbolic link"])
def test_output_onto_the_network_file_is_refused(net: Path, tmp_path: Path, how: str) -> None:
    before = net.read_bytes()
    target = {
        "same path": lambda: net,
        "other spelling": lambda: tmp_path / "." / ".." / tmp_path.name / "net.yaml",
        "hard link": lambda: (os.link(net, tmp_path / "hard.yaml"), tmp_path / "hard.yaml")[1],
        "symbolic link": lambda: ((tmp_path / "link.txt").symlink_to(net), tmp_path / "link.txt")[1],
    }[how]()
    err = one_error_line(bp("train", str(net), "-o", str(target)))
    assert "is the network file being read" in err and "expected another file name" in err
    assert net.read_bytes() == before and leftovers(tmp_path) == []


def test_output_onto_a_bundled_network_is_refused(tmp_path: Path) -> None:
    err = one_error_line(bp("forward", "lecture", "-o", str(LECTURE)))
    assert "is the network file being read" in err


# ---- links, devices, FIFOs --------------------------------------------------------------------------


@POSIX
def test_a_symbolic_link_is_written_through(tmp_path: Path) -> None:
    real = tmp_path / "real.md"
    real.write_text("old", encoding="utf-8")
    link = tmp_path / "key.md"
    link.symlink_to(real)
    proc = bp("forward", "lecture", "-o", str(link))
    assert proc.returncode == 0, proc.stderr.decode()
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text(encoding="utf-8").startswith("# bpexplain forward")
    assert leftovers(tmp_path) == []


@POSIX
def test_a_dangling_link_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "key.txt"
    link.symlink_to(tmp_path / "made.txt")
    assert bp("forward", "lecture", "-o", str(link)).returncode == 0
    assert link.is_symlink() and (tmp_path / "made.txt").read_text(encoding="utf-8").startswith("bpexplain forward")


@POSIX
@pytest.mark.parametrize("device", ["/dev/null"])
def test_a_character_device_stays_a_device(device: str) -> None:
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    proc = bp("train", "lecture", "-o", device)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stderr == b"" and proc.stdout == b""
    assert stat.S_ISCHR(os.stat(device).st_mode)  # as root, a rename would have made it a regular file


@POSIX
def test_dev_stdout_into_a_pipe() -> None:
    if not os.path.exists("/dev/stdout"):
        pytest.skip("no /dev/stdout")
    proc = bp("forward", "lecture", "--format", "markdown", "-o", "/dev/stdout")
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.startswith(b"# bpexplain forward: lecture")


@POSIX
def test_a_full_device_is_one_line(tmp_path: Path) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    err = one_error_line(bp("train", "lecture", "-o", "/dev/full"))
    assert err == "/dev/full: error: cannot write: no space left on the device (expected free space, or another disk)\n"
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


@POSIX
def test_a_fifo_nobody_reads_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    err = one_error_line(bp("train", "lecture", "-o", str(fifo), timeout=20))
    assert "no process is reading it" in err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@POSIX
def test_a_fifo_with_a_reader_gets_the_trace(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    deadline = time.monotonic() + 20
    proc = None
    while time.monotonic() < deadline:  # cat opens the FIFO a moment after it starts
        proc = bp("forward", "lecture", "-o", str(fifo))
        if proc.returncode == 0:
            break
        time.sleep(0.1)
    assert proc is not None and proc.returncode == 0, proc and proc.stderr.decode()
    out, _ = reader.communicate(timeout=HANG)
    assert out.startswith(b"bpexplain forward: lecture")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@POSIX
def test_every_writer_writes_through_links_and_into_devices(tmp_path: Path) -> None:
    """atomic_output, which pictures, variants and grading use too, keeps links and devices as they are."""
    real = tmp_path / "real.svg"
    real.write_text("old", encoding="utf-8")
    link = tmp_path / "loss.svg"
    link.symlink_to(real)
    with atomic_output(link) as out:
        out.write("new")
    assert link.is_symlink() and real.read_text(encoding="utf-8") == "new" and leftovers(tmp_path) == []
    with atomic_output(os.devnull) as out:
        out.write("nothing")
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_a_directory_is_refused(tmp_path: Path) -> None:
    assert "is a directory" in one_error_line(bp("forward", "lecture", "-o", str(tmp_path)))
    assert "names a directory" in one_error_line(bp("forward", "lecture", "-o", str(tmp_path / "new") + "/"))
    assert list(tmp_path.iterdir()) == []


# ---- extensions ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,hint",
    [("key.pdf", "-o key.tex, then pdflatex key.tex"), ("KEY.PNG", "-o key.svg"), ("key.docx", "-o key.md")],
)
def test_a_binary_extension_says_what_to_do_instead(tmp_path: Path, name: str, hint: str) -> None:
    for extra in ([], ["--format", "latex"]):
        err = one_error_line(bp("train", "lecture", *extra, "-o", str(tmp_path / name)))
        assert f"bpexplain cannot write {Path(name).suffix.lower()} files" in err and hint in err
    assert list(tmp_path.iterdir()) == []


def test_format_of_unknown_extensions() -> None:
    assert output_format("key.dat", "markdown") == "markdown"  # an explicit --format wins
    assert output_format("key.md", "json") == "json"
    assert output_format("key.dat", "auto") == "text"  # no known extension: plain text
    assert output_format("key", "auto") == "text"
    assert output_format("key.TEX", "auto") == "latex"


# ---- names, directories and disks that cannot be written ----------------------------------------------


def test_missing_directory_empty_name_and_long_name(tmp_path: Path) -> None:
    err = one_error_line(bp("forward", "lecture", "-o", str(tmp_path / "no" / "such" / "key.txt")))
    assert "no such directory" in err
    err = one_error_line(bp("forward", "lecture", "-o", ""))
    assert err == "error: -o: empty file name (expected a file name such as key.txt)\n"
    err = one_error_line(bp("forward", "lecture", "-o", str(tmp_path / ("k" * 300 + ".txt"))))
    assert "the file name is too long" in err
    err = one_error_line(bp("forward", "lecture", "-o", str(tmp_path / ("k" * 253 + ".md"))))
    assert "too long" in err  # 255 bytes is the most a name may have: the temporary name must fit too
    assert bp("forward", "lecture", "-o", str(tmp_path / ("k" * 252 + ".md"))).returncode == 0
    assert leftovers(tmp_path) == []


def test_a_file_under_a_regular_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x", encoding="utf-8")
    assert "not a directory" in one_error_line(bp("forward", "lecture", "-o", str(tmp_path / "f" / "key.txt")))


@pytest.fixture
def readonly_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory this process cannot create files in: by permissions, or (as root, who ignores them)
    a read-only tmpfs where mounting is allowed."""
    directory = tmp_path / "ro"
    directory.mkdir()
    if os.geteuid() != 0:
        directory.chmod(0o555)
        yield directory
        directory.chmod(0o755)
        return
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(directory)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("running as root, and no read-only file system can be mounted here")
    try:
        yield directory
    finally:
        subprocess.run(["umount", str(directory)], capture_output=True)


@POSIX
def test_a_read_only_directory_is_refused_before_the_run(readonly_dir: Path) -> None:
    err = one_error_line(bp("forward", "lecture", "-o", str(readonly_dir / "key.txt")))
    assert "cannot create files in" in err and "read-only or permission denied" in err


@POSIX
def test_a_read_only_file_is_not_replaced(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root may write any file")
    target = tmp_path / "key.txt"
    target.write_text("protected", encoding="utf-8")
    target.chmod(0o444)
    assert "read-only" in one_error_line(bp("forward", "lecture", "-o", str(target)))
    assert target.read_text(encoding="utf-8") == "protected"


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 kB tmpfs, where mounting is allowed (root in a container); else the test is skipped."""
    directory = tmp_path / "tiny"
    directory.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(directory)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("no tmpfs can be mounted here (the in-process test covers a full disk)")
    try:
        yield directory
    finally:
        subprocess.run(["umount", str(directory)], capture_output=True)


@POSIX
def test_a_full_disk_leaves_nothing(tiny_disk: Path) -> None:
    target = tiny_disk / "key.txt"
    target.write_text("the old key\n", encoding="utf-8")
    err = one_error_line(bp("train", "lecture", "--steps", "20", "-o", str(target)))
    assert "no space left on the device" in err
    assert target.read_text(encoding="utf-8") == "the old key\n" and leftovers(tiny_disk) == []


def test_a_full_disk_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    target = tmp_path / "key.txt"
    target.write_text("the old key\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["train", "lecture", "-o", str(target)])
    assert result.exit_code == 2
    assert (
        result.stderr
        == f"{target}: error: cannot write: no space left on the device (expected free space, or another disk)\n"
    )
    assert target.read_text(encoding="utf-8") == "the old key\n" and leftovers(tmp_path) == []


# ---- signals in the middle of a write -------------------------------------------------------------------


@POSIX
@pytest.mark.parametrize(
    "signum,status,line,args",
    [
        (signal.SIGINT, 130, "error: interrupted\n", ["train", "xor", "--epochs", "100000"]),
        (signal.SIGTERM, 143, "error: interrupted by SIGTERM\n", ["train", "lenet5", "--steps", "3"]),
        (signal.SIGHUP, 129, "error: interrupted by SIGHUP\n", ["train", "xor", "--epochs", "100000"]),
    ],
)
def test_a_signal_during_a_write_leaves_the_old_file_and_no_temporary_one(
    tmp_path: Path, signum: int, status: int, line: str, args: list[str]
) -> None:
    target = tmp_path / "x.txt"
    target.write_text("the old key\n", encoding="utf-8")
    with running([*args, "-o", str(target)], stderr=subprocess.PIPE, env=ENV) as proc:
        deadline = time.monotonic() + 60
        while not leftovers(tmp_path) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert leftovers(tmp_path), "the run never started writing"
        time.sleep(0.2)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=HANG)
    assert proc.returncode == status and err.decode() == line
    assert target.read_text(encoding="utf-8") == "the old key\n"
    assert leftovers(tmp_path) == []


# ---- standard output: closed, full, not UTF-8 -------------------------------------------------------------


@POSIX
@pytest.mark.parametrize(
    "args", [["forward", "lecture"], ["list"], ["check", "lecture"], ["show", "lecture"], ["--help"], ["train", "-h"]]
)
def test_a_closed_standard_output(args: list[str]) -> None:
    proc = subprocess.run(
        ["sh", "-c", '"$0" -m bpexplain "$@" >&-', sys.executable, *args], capture_output=True, env=ENV, timeout=HANG
    )
    err = one_error_line(proc)
    assert (
        err
        == "error: standard output is closed (expected somewhere to write: a terminal, a pipe, a file, or -o FILE)\n"
    )


@POSIX
@pytest.mark.parametrize(
    "args", [["train", "lecture", "--steps", "3"], ["list"], ["check", "lecture"], ["train", "--help"], ["--version"]]
)
def test_a_full_standard_output(args: list[str]) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "bpexplain", *args], stdout=full, stderr=subprocess.PIPE, env=ENV, timeout=HANG
        )
    err = one_error_line(proc)
    assert err.startswith("error: cannot write to standard output: no space left on device")


@pytest.mark.parametrize("encoding", ["cp1252", "ascii"])
def test_a_standard_output_that_is_not_utf8_is_refused_before_any_output(encoding: str) -> None:
    proc = bp("train", "lecture", env={**ENV, "PYTHONIOENCODING": encoding})
    err = one_error_line(proc)
    assert f"standard output's encoding, {encoding}, cannot write U+03B4 GREEK SMALL LETTER DELTA" in err
    assert "PYTHONIOENCODING=utf-8" in err and "-o FILE" in err
    assert proc.stdout == b""


def test_a_non_utf8_standard_output_can_still_take_a_latex_key_or_a_file(tmp_path: Path) -> None:
    env = {**ENV, "PYTHONIOENCODING": "cp1252"}
    proc = bp("forward", "lecture", "--format", "latex", env=env)
    if proc.returncode != 0:  # before LaTeX keys became pure ASCII: the character is named in one line
        one_error_line(proc)
    else:
        assert proc.stdout.startswith(b"% bpexplain forward lecture")
    assert bp("forward", "lecture", "-o", str(tmp_path / "key.txt"), env=env).returncode == 0
    assert "δ" in (tmp_path / "key.txt").read_text(encoding="utf-8")


def test_the_c_locale_gives_utf8_or_one_line() -> None:
    env = {k: v for k, v in ENV.items() if not k.startswith("LC_") and k not in ("LANG", "PYTHONIOENCODING")}
    proc = bp("forward", "lecture", env={**env, "LC_ALL": "C"})
    if proc.returncode == 0:
        assert "δ" in proc.stdout.decode("utf-8")  # Python coerces the C locale to UTF-8 (PEP 538)
    else:
        one_error_line(proc)


# ---- bounds of option values, COLUMNS ---------------------------------------------------------------------------


def test_a_huge_step_range_is_two_numbers_not_a_set() -> None:
    steps = parse_steps("1-100000000,5")
    assert steps.ranges == ((1, 100_000_000),) and 99_999_999 in steps and steps.last == 100_000_000
    with pytest.raises(ValueError, match="expected steps from 1 to 100,000,000"):
        parse_steps("1-10000000000")
    # refused at once, before a set of a hundred million numbers (gigabytes) could be built
    err = one_error_line(bp("train", "lecture", "--steps", "2", "--step", "1-100000000", timeout=30))
    assert "--step 100000000 is beyond --steps 2" in err


@pytest.mark.parametrize(
    "raw,used", [(None, None), ("", None), ("0", None), ("-5", None), ("abc", None), ("5", "20"), ("80", "80"),
                 ("99999999999999999999", None), ("100000", "1000")]
)  # fmt: skip
def test_columns_rule(raw: str | None, used: str | None) -> None:
    assert limits.columns(raw) == used


@pytest.mark.parametrize("columns", ["0", "-5", "abc", "5", "1000000000"])
def test_odd_columns_give_a_bounded_terminal_view(columns: str) -> None:
    env = {**ENV, "COLUMNS": columns, "FORCE_COLOR": "1"}
    proc = bp("forward", "lecture", env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    lines = proc.stdout.decode().splitlines()
    assert len(lines) > 10
    assert max(len(line) for line in lines) < 4 * limits.COLUMNS[1]  # escape codes included
