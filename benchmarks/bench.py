"""`make bench`: start-up, training throughput and trace throughput, each measured beside its reference.

Every figure is a median over several repeats, taken in the same run as the figure it is compared
with, and the commands of one comparison are interleaved (A B A B ...) so that a slow moment of the
machine hits both. Commands are timed as subprocesses, the way a student runs them.

- start-up: `bpexplain forward lecture` against the floor `python -c "import numpy, yaml, click, rich"`
  (the libraries bpexplain cannot do without); goal: within 1.2x of the floor. Where valgrind is installed
  (and without --quick), the two are also counted in instructions (callgrind), which the load does not move.
- training: `bpexplain train xor --steps N --detail summary`, per step, against a plain numpy loop
  for the same 2-2-1 network written here (and PyTorch, when it is importable); goal: within 1.5x.
  A step of the CLI is (time of N steps - time of 1 step) / (N - 1), which takes start-up out; it
  includes writing the step's summary line. The numpy loop is timed the same way, as a script.
- trace: `bpexplain train lenet5 --steps 1 --format text` into a file: equations per second, and the
  peak memory (max RSS) beside that of `--steps 2` (twice the trace): the same when it is written as it
  is produced.
- terminal view: the rich format beside the text format of the same trace; goal: within 2x. In-process
  for each bundled network and a 64-128-64-10 MLP (the events made once, then each format written into
  a StringIO of width 120, A B A B ...), each also at width 80 (what a command writes into a file or a
  pipe), homework-cnn and the MLP also coloured, and as whole commands for lenet5 and the MLP: into a file at
  120 and at 80 columns, and into a pseudo-terminal of 120 columns (colour and all). Each ratio is the median
  of the rounds' ratios. `--only rich` runs these rows alone.

Bytecode is compiled first (`compileall`), since an installed package has it; OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE are taken out of the measured commands' environment (see the environment notes).
- training sizes: `train --detail summary` in-process for a small, a 64-128-64-10 and a 256-512-256-10 MLP,
  per step (the lesser of CPU and wall time: see SAMPLE), against a numpy loop for the same network in the
  same process (the median of the interleaved runs' ratios); goal: within 1.2x.
- formats: markdown, json and latex beside text (goal: within 2x), and text beside the line-writing floor
  (goal: within 3x), in-process for lecture, homework-cnn and a 784-100-10 MLP, and as whole commands for
  lenet5. In-process the floor writes, per equation, one f-string line with the text line's fields, its
  symbol and expression made before the clock starts and every number shown formatted as it is written;
  as whole commands (the child's CPU time, from wait4) it is the engine's trace with a bare line per equation
  (kind and value). Each ratio is the median of the interleaved rounds' ratios (a round's two runs saw the same
  load), as the training rows' are; an in-process sample is about 20 ms of writes, timed as SAMPLE says.
  html (the interactive page, held whole by a browser) and svg (one piece, held whole) in-process only, beside
  text (goal: within 2x), svg also beside the terminal view's coloured layout it is drawn from (the lines made
  as the svg format has them made, with its codes where the view can, and drawn nowhere). `--only formats` /
  `--only training` run these rows alone.

Usage: python benchmarks/bench.py [--quick] [--repeats N] [--steps N] [--only core|trace|rich|formats|training]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable

NUMPY_LOOP = textwrap.dedent('''
    """bpexplain/networks/xor.yaml trained by hand in numpy: one sample a step, in order."""
    import sys

    import numpy as np

    steps = int(sys.argv[1])
    W1 = np.array([[0.5, 0.4], [0.9, 1.0]]); b1 = np.array([-0.8, 0.1])
    W2 = np.array([[-1.2, 1.1]]); b2 = np.array([-0.3]); lr = 2.0
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    T = np.array([[0], [1], [1], [0]], dtype=float)

    def sigmoid(e):
        return 1.0 / (1.0 + np.exp(-e))

    import time

    start = time.perf_counter()
    losses = []
    for s in range(steps):
        x, t = X[s % 4], T[s % 4]
        y1 = sigmoid(W1 @ x + b1)
        y2 = sigmoid(W2 @ y1 + b2)
        losses.append(0.5 * float(np.sum((y2 - t) ** 2)))
        d2 = (y2 - t) * y2 * (1.0 - y2)
        d1 = (W2.T @ d2) * y1 * (1.0 - y1)
        W2 = W2 - lr * np.outer(d2, y1); b2 = b2 - lr * d2
        W1 = W1 - lr * np.outer(d1, x); b1 = b1 - lr * d1
    elapsed = time.perf_counter() - start
    print(repr(losses[-1]), W1.ravel().tolist(), b1.tolist(), W2.ravel().tolist(), b2.tolist())
    print(elapsed)
''')

ENGINE_LOOP = textwrap.dedent('''
    """The engine alone through the API, no output: the summary path's events, consumed and dropped."""
    import sys
    import time

    from bpexplain.engine import RunOptions, run
    from bpexplain.spec import load_network

    spec = load_network("xor")
    start = time.perf_counter()
    for _ in run(spec, RunOptions(command="train", steps=int(sys.argv[1]), detail="summary")):
        pass
    print(time.perf_counter() - start)
''')

TORCH_LOOP = textwrap.dedent('''
    """The same loop in PyTorch (float64, autograd, plain SGD)."""
    import sys

    import torch

    torch.set_num_threads(1)
    steps = int(sys.argv[1])
    d = torch.float64
    W1 = torch.tensor([[0.5, 0.4], [0.9, 1.0]], dtype=d, requires_grad=True)
    b1 = torch.tensor([-0.8, 0.1], dtype=d, requires_grad=True)
    W2 = torch.tensor([[-1.2, 1.1]], dtype=d, requires_grad=True)
    b2 = torch.tensor([-0.3], dtype=d, requires_grad=True)
    X = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=d)
    T = torch.tensor([[0], [1], [1], [0]], dtype=d)
    opt = torch.optim.SGD([W1, b1, W2, b2], lr=2.0)
    for s in range(steps):
        opt.zero_grad()
        y = torch.sigmoid(W2 @ torch.sigmoid(W1 @ X[s % 4] + b1) + b2)
        loss = 0.5 * ((y - T[s % 4]) ** 2).sum()
        loss.backward()
        opt.step()
    print(float(loss))
''')


# ------------------------------------------------------------------------------------------------
# Timing


def bench_env() -> dict[str, str]:
    env = dict(os.environ)
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # together, or neither: see the environment notes
        env.pop(var, None)
    env.setdefault("COLUMNS", "100")
    return env


def run_once(cmd: Sequence[str], env: dict[str, str], stdout: int | None = subprocess.DEVNULL) -> tuple[float, int]:
    """Wall time in seconds and the child's peak RSS in KiB (from wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"benchmark command failed ({proc.returncode}): {' '.join(cmd)}\n{err}")
    return elapsed, int(usage.ru_maxrss)


def cpu_once(cmd: Sequence[str], env: dict[str, str]) -> float:
    """The child's CPU time (user + system, from wait4): a whole command timed so that the shared machine's
    other jobs disturb it less than the wall clock."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}\n{err}")
    return float(usage.ru_utime + usage.ru_stime)


RSS_WRAPPER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[2:]).returncode\n"
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    "sys.exit(code)\n"
)


def peak_rss(cmd: Sequence[str], env: dict[str, str], stdout: int, workdir: Path) -> tuple[float, int]:
    """Wall time and peak RSS (KiB) of `cmd`, run from a lean wrapper: Linux keeps the max RSS of a
    forked process across exec, so a child of this (larger) process would report at least our size."""
    out = workdir / "rss.txt"
    elapsed, _ = run_once([PY, "-S", "-c", RSS_WRAPPER, str(out), *cmd], env, stdout)
    return elapsed, int(out.read_text())


def interleaved(cmds: dict[str, Sequence[str]], repeats: int, env: dict[str, str]) -> dict[str, list[float]]:
    """Each command `repeats` times, in turn, after one untimed warm-up each."""
    for cmd in cmds.values():
        run_once(cmd, env)
    times: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(repeats):
        for key, cmd in cmds.items():
            times[key].append(run_once(cmd, env)[0])
    return times


def med(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def round_ratio(times: dict[str, list[float]], a: str, b: str) -> float:
    """The median over the interleaved rounds of a's time over b's in the same round: a round's two runs saw the
    same load on the shared machine, which a ratio of the two medians (from different rounds) does not."""
    return med([x / y for x, y in zip(times[a], times[b])])


def bpexplain_cmd() -> list[str]:
    script = Path(PY).with_name("bpexplain")
    return [str(script)] if script.exists() else [PY, "-m", "bpexplain"]


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


# ------------------------------------------------------------------------------------------------
# The three comparisons


Row = tuple[str, str, str, str, str]  # what, measured, reference, ratio, goal


STARTUP_GOAL = 1.2  # bpexplain forward lecture against the import floor


def startup(repeats: int, env: dict[str, str], count_instructions: bool = True) -> list[Row]:
    bp = bpexplain_cmd()
    floor_cmd = [PY, "-c", "import numpy, yaml, click, rich"]
    t = interleaved({"floor": floor_cmd, "forward": bp + ["forward", "lecture"], "help": bp + ["--help"]}, repeats, env)
    floor, fwd, hlp = med(t["floor"]), med(t["forward"]), med(t["help"])
    rows = [
        (
            "start-up: bpexplain forward lecture",
            fmt_time(fwd),
            f"{fmt_time(floor)} (import numpy, yaml, click, rich)",
            f"{fwd / floor:.2f}×",
            f"≤ {STARTUP_GOAL}× " + ("✓" if fwd / floor <= STARTUP_GOAL else "✗"),
        ),
        ("start-up: bpexplain --help", fmt_time(hlp), fmt_time(floor), f"{hlp / floor:.2f}×", "(no numpy)"),
    ]
    if count_instructions:
        rows.append(startup_instructions(floor_cmd, bp + ["forward", "lecture"], env))
    return rows


def startup_instructions(floor_cmd: Sequence[str], cmd: Sequence[str], env: dict[str, str]) -> Row:
    """The same two commands counted in instructions (valgrind's callgrind, both at once), a figure the
    machine's load does not move. OpenBLAS gets one thread, so that its idle thread's spinning, which
    depends on the scheduler, is not counted."""
    what = "start-up: forward lecture, instructions (callgrind)"
    if shutil.which("valgrind") is None:
        return (what, "skipped", "valgrind is not installed", "", "")
    counted_env = dict(env, OPENBLAS_NUM_THREADS="1")
    tool = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    procs = [
        subprocess.Popen(tool + list(c), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=counted_env, cwd=ROOT)
        for c in (floor_cmd, cmd)
    ]
    counts = []
    for proc in procs:
        _, err = proc.communicate()
        found = [line.split()[-1] for line in err.decode().splitlines() if "Collected :" in line]
        if proc.returncode != 0 or not found:
            return (what, "failed", f"valgrind exited {proc.returncode}", "", "")
        counts.append(int(found[-1]))
    floor, fwd = counts
    return (what, f"{fwd / 1e6:,.0f} M", f"{floor / 1e6:,.0f} M (the floor)", f"{fwd / floor:.3f}×", "")


def training(repeats: int, steps: int, env: dict[str, str], workdir: Path) -> list[Row]:
    bp = bpexplain_cmd()
    numpy_script = workdir / "numpy_xor.py"
    numpy_script.write_text(NUMPY_LOOP)
    cmds: dict[str, Sequence[str]] = {
        "bp_n": bp + ["train", "xor", "--steps", str(steps), "--detail", "summary"],
        "bp_1": bp + ["train", "xor", "--steps", "1", "--detail", "summary"],
        "np_n": [PY, str(numpy_script), str(steps)],
        "np_1": [PY, str(numpy_script), "1"],
    }
    torch_ok = subprocess.run([PY, "-c", "import torch"], capture_output=True, env=env).returncode == 0
    if torch_ok:
        torch_script = workdir / "torch_xor.py"
        torch_script.write_text(TORCH_LOOP)
        cmds["pt_n"] = [PY, str(torch_script), str(steps)]
        cmds["pt_1"] = [PY, str(torch_script), "1"]
    check_same_result(steps, numpy_script, env)
    t = interleaved(cmds, repeats, env)

    def per_step(prefix: str) -> float:
        return max(med(t[f"{prefix}_n"]) - med(t[f"{prefix}_1"]), 0.0) / (steps - 1)

    bp_step, np_step = per_step("bp"), per_step("np")
    engine_script = workdir / "engine_xor.py"
    engine_script.write_text(ENGINE_LOOP)
    inner: dict[str, list[float]] = {"engine": [], "numpy": []}
    for _ in range(repeats):  # in-process loop times, without start-up or output
        for key, script in (("engine", engine_script), ("numpy", numpy_script)):
            out = subprocess.run(
                [PY, str(script), str(steps)], capture_output=True, text=True, env=env, cwd=ROOT, check=True
            )
            inner[key].append(float(out.stdout.split()[-1]) / steps)
    rows: list[Row] = [
        (
            f"training: train xor --steps {steps} --detail summary, per step",
            fmt_time(bp_step),
            f"{fmt_time(np_step)} (plain numpy loop)",
            f"{bp_step / np_step:.2f}×",
            "≤ 1.5× " + ("✓" if bp_step / np_step <= 1.5 else "✗"),
        ),
        (
            "training: the engine alone (API, no output), per step",
            fmt_time(med(inner["engine"])),
            f"{fmt_time(med(inner['numpy']))} (the numpy loop, timed inside)",
            f"{med(inner['engine']) / med(inner['numpy']):.2f}×",
            "",
        ),
        (
            f"training: the whole command ({steps} steps)",
            fmt_time(med(t["bp_n"])),
            f"{fmt_time(med(t['np_n']))} (numpy script)",
            f"{med(t['bp_n']) / med(t['np_n']):.2f}×",
            "",
        ),
    ]
    if torch_ok:
        pt_step = per_step("pt")
        rows.append(
            (
                "training: per step against PyTorch",
                fmt_time(bp_step),
                f"{fmt_time(pt_step)} (PyTorch)",
                f"{bp_step / pt_step:.2f}×",
                "",
            )
        )
    else:
        rows.append(("training: against PyTorch", "skipped", "PyTorch is not installed", "", ""))
    return rows


def check_same_result(steps: int, numpy_script: Path, env: dict[str, str]) -> None:
    """The numpy loop is the same computation: its final parameters equal bpexplain's (to 1e-9)."""
    probe = (
        "import bpexplain, numpy as np\n"
        f"end = list(bpexplain.train('xor', steps={steps}, detail='summary'))[-1]\n"
        "print(' '.join(repr(float(x)) for v in end.final_parameters.values() for x in v.ravel()))\n"
    )
    mine = [
        float(x)
        for x in subprocess.run(
            [PY, "-c", probe], capture_output=True, text=True, env=env, cwd=ROOT, check=True
        ).stdout.split()
    ]
    out = subprocess.run([PY, str(numpy_script), str(steps)], capture_output=True, text=True, env=env, check=True)
    parts = out.stdout.strip().splitlines()[0].split(" ", 1)[1]
    theirs = [float(x) for x in parts.replace("[", " ").replace("]", " ").replace(",", " ").split()]
    same = len(mine) == len(theirs) and all(
        abs(a - b) <= 1e-9 * max(1.0, abs(b)) for a, b in zip(mine, theirs, strict=True)
    )
    if not same:
        raise SystemExit(f"the numpy loop does not compute what bpexplain does:\n{mine}\n{theirs}")


def trace(repeats: int, env: dict[str, str], workdir: Path) -> list[Row]:
    bp = bpexplain_cmd()
    names = subprocess.run(bp + ["list"], capture_output=True, text=True, env=env).stdout.split()
    if "lenet5" not in names:
        return [("trace: train lenet5 --steps 1 --format text", "skipped", "lenet5 is not bundled yet", "", "")]
    count = subprocess.run(
        [PY, "-c", "import bpexplain; print(len(bpexplain.train('lenet5', steps=1).equations))"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    equations = int(count.stdout)
    out_path = workdir / "lenet5.txt"
    times, peaks, peaks_2 = [], [], []
    for _ in range(repeats):
        with open(out_path, "wb") as f:
            elapsed, rss = peak_rss(
                bp + ["train", "lenet5", "--steps", "1", "--format", "text"], env, f.fileno(), workdir
            )
        times.append(elapsed)
        peaks.append(rss)
        size = out_path.stat().st_size
        with open(workdir / "lenet5-2.txt", "wb") as f:
            peaks_2.append(
                peak_rss(bp + ["train", "lenet5", "--steps", "2", "--format", "text"], env, f.fileno(), workdir)[1]
            )
    wall = med(times)
    return [
        (
            "trace: train lenet5 --steps 1 --format text",
            fmt_time(wall),
            f"{equations:,} equations, {size / 1e6:.1f} MB of text",
            f"{equations / wall:,.0f} eq/s",
            "a few seconds",
        ),
        (
            "trace: peak memory (max RSS), 1 step",
            f"{med(peaks) / 1024:.0f} MiB",
            f"{med(peaks_2) / 1024:.0f} MiB for 2 steps (twice the text)",
            f"{med(peaks_2) / med(peaks):.2f}×",
            "flat ✓" if med(peaks_2) <= 1.1 * med(peaks) else "flat ✗",
        ),
    ]


MLP_YAML = textwrap.dedent("""
    name: mlp
    title: A 64-128-64-10 MLP with random weights (the terminal view's benchmark)
    inputs: {shape: [64]}
    init: {seed: 1, decimals: 2}
    layers:
      - {name: h1, type: dense, units: 128, weight: random, bias: zeros, activation: tanh}
      - {name: h2, type: dense, units: 64, weight: random, bias: zeros, activation: tanh}
      - {name: out, type: dense, units: 10, weight: random, bias: zeros, activation: softmax}
    loss: cross_entropy
    learning_rate: 0.1
    data:
      - {input: [%s], target: [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]}
""") % ", ".join(f"{((k * 37) % 200 - 100) / 100:g}" for k in range(64))

# A timed sample of a write, for the in-process timers below: as many writes as take about 20 ms (a small
# network's write is under a millisecond), each sample the lesser of the CPU time and the wall time over its
# number of writes. The CPU time leaves out the other jobs of the shared machine; the wall time leaves out the
# whole scheduler tick (about 4 ms) that this machine's CPU clock now and then charges to one short write (seen:
# 15 writes of 2,000, each of 0.3 ms, measured at 4.3 ms of CPU time and 0.3 ms of wall time).
SAMPLE = textwrap.dedent('''
    def calls_per_sample(f, span=0.02):
        """How many calls of f take about `span` seconds of wall time (the first call included, as a warm-up)."""
        calls, start = 0, time.perf_counter()
        while time.perf_counter() - start < span or calls == 0:
            f()
            calls += 1
        return calls

    def sample(f, calls):
        """The time of one call of f, from `calls` calls: the lesser of the CPU and the wall time."""
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(calls):
            f()
        return min(time.process_time() - cpu, time.perf_counter() - wall) / calls
''')

VIEW_TIMER = textwrap.dedent('''
    """The text and rich formats of one trace, in-process: the events made once, then written A B A B ...
    (each sample as SAMPLE takes it: the lesser of the CPU and the wall time of about 20 ms of writes)."""
    import io, json, sys, time

    import bpexplain
    from bpexplain.render import render_stream
    from rich.console import Console

    # SAMPLE
    network, repeats, columns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    colour = dict(force_terminal=True, color_system="truecolor") if sys.argv[4:] == ["colour"] else {}
    try:
        events = list(bpexplain.train(network, steps=1).events)
    except bpexplain.BpexplainError:  # batchnorm: a step needs every sample
        events = list(bpexplain.train(network, steps=1, batch="full").events)

    def text():
        render_stream(events, "text", io.StringIO())

    def rich():
        buffer = io.StringIO()
        render_stream(events, "rich", buffer, console=Console(file=buffer, width=columns, **colour))

    times = {"text": [], "rich": []}
    calls = {f: calls_per_sample(f) for f in (text, rich)}
    for _ in range(repeats):
        for f in (text, rich):
            times[f.__name__].append(sample(f, calls[f]))
    print(len([e for e in events if hasattr(e, "equations") for _ in e.equations]))
    print(json.dumps(times))  # every round's two times: the bench takes the median of a round's ratios
''')


def run_pty(cmd: Sequence[str], env: dict[str, str], columns: int = 120) -> float:
    """Wall time of `cmd` writing into a pseudo-terminal of `columns` columns, its output read and dropped."""
    import fcntl
    import pty
    import struct
    import termios
    import threading

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))

    def drain() -> None:
        while True:
            try:
                if not os.read(master, 1 << 16):
                    return
            except OSError:
                return

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=slave, stderr=subprocess.PIPE, env=dict(env, COLUMNS=str(columns)), cwd=ROOT)
    os.close(slave)
    _, err = proc.communicate()
    elapsed = time.perf_counter() - start
    reader.join(timeout=5)
    os.close(master)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark command failed ({proc.returncode}): {' '.join(cmd)}\n{err.decode()}")
    return elapsed


def view(repeats: int, env: dict[str, str], workdir: Path) -> list[Row]:
    bp = bpexplain_cmd()
    mlp = workdir / "mlp.yaml"
    mlp.write_text(MLP_YAML)
    timer = workdir / "view_timer.py"
    timer.write_text(VIEW_TIMER.replace("# SAMPLE\n", SAMPLE))
    listed = subprocess.run(bp + ["list"], capture_output=True, text=True, env=env).stdout.splitlines()
    names = [line.split()[0] for line in listed if line.strip()]  # a name, then its title
    rows: list[Row] = []

    def row(what: str, times: dict[str, list[float]], rich: str, note: str = "") -> Row:
        ratio = round_ratio(times, rich, "text")
        text = med(times["text"])
        goal = "≤ 2× " + ("✓" if ratio <= 2 else "✗")
        return (what, fmt_time(med(times[rich])), f"{fmt_time(text)} (text){note}", f"{ratio:.2f}×", goal)

    # every bundled network but lenet5 (timed below as whole commands) and the MLP, at 120 columns and at 80 (what
    # a command writes into a file or a pipe: rich's width when not a terminal), then coloured as in a terminal
    networks = [n for n in names if n != "lenet5"] + [str(mlp)]
    runs = [(n, c, "") for c in (120, 80) for n in networks] + [(n, 120, "colour") for n in ("homework-cnn", str(mlp))]
    for network, columns, colour in runs:
        if network not in networks:
            continue
        out = subprocess.run(
            [PY, str(timer), network, str(repeats), str(columns)] + ([colour] if colour else []),
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            check=True,
        )
        count, times = out.stdout.split("\n", 1)
        label = "64-128-64-10 MLP" if network == str(mlp) else network
        into = f"a coloured console({columns})" if colour else f"StringIO({columns})"
        what = f"view: {label}, train --steps 1, rich into {into}"
        rows.append(row(what, json.loads(times), "rich", f", {int(count):,} eq"))
    commands = {"MLP": ["train", str(mlp), "--steps", "1"]}
    if "lenet5" in names:
        commands["lenet5"] = ["train", "lenet5", "--steps", "1"]
    cli_repeats = max(repeats // 5, 1)
    for label, args in commands.items():
        walls: dict[str, list[float]] = {"text": [], "rich": [], "rich80": [], "pty": []}
        for _ in range(cli_repeats):
            for fmt, width in (("text", "120"), ("rich", "120"), ("rich80", "80")):
                with open(workdir / f"view.{fmt}", "wb") as f:
                    cmd = bp + args + ["--format", fmt[:4]]
                    walls[fmt].append(run_once(cmd, dict(env, COLUMNS=width), f.fileno())[0])
            walls["pty"].append(run_pty(bp + args, env))
        rows.append(row(f"view: {label} command, --format rich into a file", walls, "rich", ", whole command"))
        what = f"view: {label} command, --format rich into a file at 80 columns"
        rows.append(row(what, walls, "rich80", ", whole command"))
        rows.append(row(f"view: {label} command in a 120-column pseudo-terminal", walls, "pty", " into a file"))
    return rows


# ---- every format against text, and text against writing a line per equation ---------------------

FORMAT_NAMES = ("text", "markdown", "json", "latex")
# in-process only: formats held whole (an SVG picture by the program, an HTML page by the browser), whose limits
# a whole lenet5 run is far over (svg would hold some hundreds of MB at once)
HELD_WHOLE = ("html", "svg")


def mlp_yaml(sizes: Sequence[int], title: str) -> str:
    """A dense network of these sizes, initialised at random (seeded), tanh then softmax, one sample."""
    layers = "".join(
        f"  - {{name: h{k + 1}, type: dense, units: {n}, weight: random, bias: zeros, "
        f"activation: {'softmax' if k == len(sizes) - 2 else 'tanh'}}}\n"
        for k, n in enumerate(sizes[1:])
    )
    data = ", ".join(f"{((k * 37) % 200 - 100) / 100:g}" for k in range(sizes[0]))
    target = ", ".join("1" if k == 3 % sizes[-1] else "0" for k in range(sizes[-1]))
    return (
        f"name: mlp\ntitle: {title}\ninputs: {{shape: [{sizes[0]}]}}\ninit: {{seed: 1, decimals: 2}}\n"
        f"layers:\n{layers}loss: cross_entropy\nlearning_rate: 0.1\n"
        f"data:\n  - {{input: [{data}], target: [{target}]}}\n"
    )


FORMAT_TIMER = textwrap.dedent('''
    """Each format of one trace, in-process: the events made once, then each format written into a StringIO,
    interleaved. "lines" is the line-writing floor: per equation, one f-string line with the fields the text
    line has (symbol = expression = numbers = value), the symbol and expression as strings made before the
    clock starts (as a hand-written script has them as literals), every number shown formatted as it is
    written (`.4g`, the numbers of the terms the text shows); no tree, no alignment.
    Each sample as SAMPLE takes it: the lesser of the CPU and the wall time of about 20 ms of writes."""
    import io, json, sys, time

    from bpexplain.engine import RunOptions, run
    from bpexplain.expr import Var, Num, Add
    from bpexplain.render import fewer_collections, render_stream
    from bpexplain.render.printer import TextPrinter
    from bpexplain.spec import load_network
    from bpexplain.trace import Block

    # SAMPLE
    network, repeats, formats = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
    with fewer_collections():
        events = list(run(load_network(network), RunOptions(command="train", steps=1, max_equations=0)))

    def numbers(node, out):
        """The numbers of a bound tree's leaves, in order."""
        if type(node) is Var or type(node) is Num:
            out.append(node.value)
            return out
        for name in node.__match_args__:
            child = getattr(node, name)
            for c in child if type(child) is tuple else (child,):
                if hasattr(c, "__match_args__"):
                    numbers(c, out)
        return out

    printer = TextPrinter(4, 8)
    fields = []  # (symbol, expression, numbers, value) of every equation, made before the clock starts
    for ev in events:
        if isinstance(ev, Block):
            for eq in ev.equations:
                bound = eq.bound
                if type(bound) is Add and len(bound.terms) > 8:  # the terms the text shows
                    bound = Add(bound.terms[:4] + bound.terms[-4:])
                fields.append((printer.doprint(eq.symbol), printer.doprint(eq.bound), numbers(bound, []), eq.value))

    def lines(out):
        with fewer_collections():
            for symbol, expression, values, value in fields:
                shown = "·".join([format(v, ".4g") for v in values])
                out.write(f"    {symbol} = {expression} = {shown} = {value:.4g}\\n")

    def write(fmt):
        if fmt == "lines":
            lines(io.StringIO())
        elif fmt == "layout":  # the terminal view's coloured lines as the svg format has them made, drawn nowhere
            from bpexplain.render.rich import trace_renderables
            from bpexplain.render.svg import SvgCodes, SvgPicture

            codes = SvgCodes(SvgPicture(120))  # a block's equations and its maps' rows written with the codes
            with fewer_collections():
                for part in trace_renderables(events):
                    for _ in part.make(120, False, codes=codes) if part.coloured else part.make(120, False):
                        pass
        else:
            render_stream(events, fmt, io.StringIO())

    times = {f: [] for f in formats}
    calls = {f: calls_per_sample(lambda: write(f)) for f in formats}
    for _ in range(repeats):
        for f in formats:
            times[f].append(sample(lambda: write(f), calls[f]))
    print(len(fields))
    print(json.dumps(times))  # every round's time of each format: the bench takes the medians of a round's ratios
''')

LINES_COMMAND = textwrap.dedent('''
    """The line-writing floor as a whole command: the engine's trace, one f-string line per equation."""
    import sys

    from bpexplain.engine import RunOptions, run
    from bpexplain.render import fewer_collections
    from bpexplain.spec import load_network
    from bpexplain.trace import Block

    with open(sys.argv[2], "w") as out, fewer_collections():
        for ev in run(load_network(sys.argv[1]), RunOptions(command="train", steps=1, max_equations=0)):
            if isinstance(ev, Block):
                for eq in ev.equations:
                    out.write(f"{eq.kind}: {eq.value!r}\\n")
''')


# what the text rows are set beside: in-process, the line-writing floor (FORMAT_TIMER's "lines"); as whole
# commands, the engine's trace and a bare line per equation (LINES_COMMAND)
COMPARABLE_LINE = "an f-string line/eq, its symbol and expression ready-made, numbers formatted"
BARE_LINE = "engine + an f-string line/eq: kind and value"


def format_rows(label: str, count: int, times: dict[str, list[float]], how: str, floor: str) -> list[Row]:
    text = med(times["text"])
    floor_ratio = round_ratio(times, "text", "lines")
    rows: list[Row] = [
        (
            f"formats: {label}, text{how}",
            fmt_time(text),
            f"{fmt_time(med(times['lines']))} ({floor}), {count:,} eq",
            f"{floor_ratio:.2f}×",
            "≤ 3× " + ("✓" if floor_ratio <= 3 else "✗"),
        )
    ]
    for fmt in [f for f in FORMAT_NAMES[1:] + HELD_WHOLE if f in times]:
        ratio = round_ratio(times, fmt, "text")
        rows.append(
            (
                f"formats: {label}, {fmt}{how}",
                fmt_time(med(times[fmt])),
                f"{fmt_time(text)} (text)",
                f"{ratio:.2f}×",
                "≤ 2× " + ("✓" if ratio <= 2 else "✗"),
            )
        )
    if "layout" in times and "svg" in times:
        rows.append(
            (
                f"formats: {label}, svg beside the layout it draws{how}",
                fmt_time(med(times["svg"])),
                f"{fmt_time(med(times['layout']))} (the coloured layout alone)",
                f"{round_ratio(times, 'svg', 'layout'):.2f}×",
                "",
            )
        )
    return rows


def formats(repeats: int, env: dict[str, str], workdir: Path, quick: bool) -> list[Row]:
    """Every fast format beside text for lecture, homework-cnn and a 784-100-10 MLP (in-process, the events
    made once) and lenet5 (whole commands into a file, beside a command that writes a line per equation)."""
    bp = bpexplain_cmd()
    mlp = workdir / "mlp784.yaml"
    mlp.write_text(mlp_yaml((784, 100, 10), "A 784-100-10 MLP with random weights (the formats' benchmark)"))
    timer = workdir / "format_timer.py"
    timer.write_text(FORMAT_TIMER.replace("# SAMPLE\n", SAMPLE))
    names = ("lines",) + FORMAT_NAMES
    in_process = names + HELD_WHOLE + ("layout",)
    rows: list[Row] = []
    for network, label in (("lecture", "lecture"), ("homework-cnn", "homework-cnn"), (str(mlp), "784-100-10 MLP")):
        out = subprocess.run(
            [PY, str(timer), network, str(repeats), ",".join(in_process)],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            check=True,
        )
        counted, times = out.stdout.split("\n", 1)
        rows += format_rows(label, int(counted), json.loads(times), ", in-process", COMPARABLE_LINE)
    lines_script = workdir / "lines_command.py"
    lines_script.write_text(LINES_COMMAND)
    walls: dict[str, list[float]] = {n: [] for n in names}
    target, lines_out = workdir / "lenet5.out", workdir / "lenet5.lines"
    for _ in range(1 if quick else max(repeats // 5, 2)):
        for fmt in names:
            if fmt == "lines":
                args = [PY, str(lines_script), "lenet5", str(lines_out)]
            else:
                args = bp + [
                    "train",
                    "lenet5",
                    "--steps",
                    "1",
                    "--format",
                    fmt,
                    "--max-equations",
                    "0",
                    "-o",
                    str(target),
                ]
            walls[fmt].append(cpu_once(args, env))
    with open(lines_out, encoding="utf-8") as f:
        count = sum(1 for _ in f)
    rows += format_rows("lenet5", count, walls, ", whole command, CPU time", BARE_LINE)
    return rows


# ---- training at three sizes: the summary path against a numpy loop --------------------------------

TRAIN_SIZES = ((4, 8, 3), (64, 128, 64, 10), (256, 512, 256, 10))

TRAIN_TIMER = textwrap.dedent('''
    """`train NET --detail summary` in-process (the engine and the text summary into a StringIO) against a
    numpy loop written here for the same network (tanh layers, softmax with cross-entropy, a line a step
    written into a StringIO), interleaved: per step, the median of each and the median of the runs' ratios
    (each engine run beside the loop run just before it), and the two runs' final weights compared (those of
    the last run, of N steps). Each time is the lesser of the process's CPU time (which the shared machine's
    other jobs disturb less) and the wall time (which a scheduler tick charged now and then does not: see
    SAMPLE)."""
    import io, json, statistics, sys, time

    import numpy as np

    from bpexplain.engine import RunOptions, run
    from bpexplain.render import render_stream
    from bpexplain.spec import load_network
    from bpexplain.trace import StepEnd, TraceHeader

    spec = load_network(sys.argv[1])
    steps, repeats = int(sys.argv[2]), int(sys.argv[3])
    last = {}

    def clocks():
        return time.process_time(), time.perf_counter()

    def between(start, end):
        """The lesser of the CPU and the wall time from start to end (see SAMPLE: a tick now and then charged)."""
        return min(end[0] - start[0], end[1] - start[1])

    def engine(steps):
        """Per step: from the header written (the first event) to the last step's end, the text summary
        written as it goes. What a run costs once is left out: before the steps, and the header (which writes
        the initial weights); after them, the final forward pass and the closing table (the loop has none of
        these). The engine computes up to 64 steps before it hands out their events, so the time between two
        step ends is not a step's."""
        times = []

        def events():
            opts = RunOptions(command="train", steps=steps, detail="summary", summary_steps=(3, 3))  # as the CLI
            for ev in run(spec, opts):
                if isinstance(ev, StepEnd):
                    last["engine"] = ev
                    times[1:] = [clocks()]
                yield ev
                if isinstance(ev, TraceHeader):  # written: the steps start
                    times.append(clocks())

        render_stream(events(), "text", io.StringIO())
        return between(times[0], times[1]) / steps

    def numpy_loop(steps):
        Ws = [ls.params["weight"].value.copy() for ls in spec.layers]
        bs = [ls.params["bias"].value.copy() for ls in spec.layers]
        X = [d.input for d in spec.data]
        T = [d.target for d in spec.data]
        lr, n = spec.learning_rate, len(Ws)
        out = io.StringIO()
        for s in range(steps):
            x, t = X[s % len(X)], T[s % len(T)]
            ys = [x]
            for k in range(n):
                e = Ws[k].dot(ys[-1]) + bs[k]
                if k == n - 1:
                    z = np.exp(e - e.max())
                    ys.append(z / z.sum())
                else:
                    ys.append(np.tanh(e))
            loss = -float(np.sum(t * np.log(ys[-1])))
            out.write(f"step {s + 1}: E = {loss:.4g}\\n")  # a line a step, as the command writes
            d = ys[-1] - t
            for k in range(n - 1, -1, -1):
                g = np.outer(d, ys[k])
                back = Ws[k].T.dot(d) if k else None
                Ws[k] = Ws[k] - lr * g
                bs[k] = bs[k] - lr * d
                if k:
                    d = back * (1 - ys[k] ** 2)
        last["numpy"] = (loss, Ws)

    times = {"engine": [], "numpy_loop": []}
    for _ in range(repeats):
        start = clocks()
        numpy_loop(steps)
        times["numpy_loop"].append(between(start, clocks()) / steps)
        times["engine"].append(engine(steps))
    per = {f: statistics.median(t) for f, t in times.items()}
    ratio = statistics.median(e / n for e, n in zip(times["engine"], times["numpy_loop"]))
    names = [f"{ls.name}.weight" for ls in spec.layers]
    final = zip(names, last["numpy"][1])
    ok = all(np.allclose(last["engine"].parameters[k], w, rtol=1e-9, atol=1e-12) for k, w in final)
    print(per["engine"], per["numpy_loop"], ratio, "same" if ok else "DIFFERENT")
''')


def training_sizes(repeats: int, env: dict[str, str], workdir: Path, quick: bool) -> list[Row]:
    """Per step at --detail summary for three dense networks, beside a numpy loop in the same process."""
    timer = workdir / "train_timer.py"
    timer.write_text(TRAIN_TIMER)
    rows: list[Row] = []
    for sizes in TRAIN_SIZES:
        label = "-".join(map(str, sizes))
        net = workdir / f"mlp-{label}.yaml"
        net.write_text(mlp_yaml(sizes, f"A {label} MLP with random weights (the training benchmark)"))
        values = sum(a * b for a, b in zip(sizes, sizes[1:]))
        steps = max(200, min(2000, 8_000_000 // values)) // (2 if quick else 1)  # a few batches of 64 at least
        out = subprocess.run(
            [PY, str(timer), str(net), str(steps), str(repeats)], capture_output=True, text=True, env=env, cwd=ROOT
        )
        if out.returncode != 0:
            raise SystemExit(f"training benchmark failed for {label}:\n{out.stderr}")
        engine, numpy_step, paired, same = out.stdout.split()
        ratio = float(paired)
        rows.append(
            (
                f"training: {label} MLP, train --detail summary in-process, per step ({steps} steps)",
                fmt_time(float(engine)),
                f"{fmt_time(float(numpy_step))} (numpy loop, {same} weights)",
                f"{ratio:.2f}×",
                "≤ 1.2× " + ("✓" if ratio <= 1.2 else "✗"),
            )
        )
    return rows


# ------------------------------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    head: Row = ("measure", "bpexplain", "reference", "ratio", "goal")
    all_rows = [head] + rows
    widths = [max(len(r[i]) for r in all_rows) for i in range(5)]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in all_rows]
    lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
    return "\n".join(lines)


def machine() -> str:
    import numpy as np

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = ""
    try:
        from threadpoolctl import threadpool_info  # type: ignore[import-not-found]

        blas = ", ".join(f"{i.get('internal_api')} {i.get('architecture', '')}".strip() for i in threadpool_info())
    except ImportError:
        blas = "kernel unknown (threadpoolctl not installed)"
    return f"Python {platform.python_version()}, numpy {np.__version__} ({blas}), {os.cpu_count()} cores, {cpu}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--steps", type=int, default=10000)
    ap.add_argument("--quick", action="store_true", help="fewer repeats, for a smoke test")
    ap.add_argument(
        "--only",
        choices=("core", "trace", "rich", "formats", "training"),
        help="run one group of rows alone (core: start-up and training xor; trace: lenet5's text trace and its "
        "memory; rich: the terminal view's; formats: every format against text; training: three network sizes "
        "against a numpy loop)",
    )
    args = ap.parse_args()
    repeats = 3 if args.quick else args.repeats
    compileall.compile_dir(str(ROOT / "bpexplain"), quiet=1)
    env = bench_env()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.only == "core":
            rows = startup(repeats, env, not args.quick) + training(max(repeats // 2, 3), args.steps, env, work)
        elif args.only == "trace":
            rows = trace(2 if not args.quick else 1, env, work)
        elif args.only == "rich":
            rows = view(repeats, env, work)
        elif args.only == "formats":
            rows = formats(repeats, env, work, args.quick)
        elif args.only == "training":
            rows = training_sizes(repeats, env, work, args.quick)
        else:
            rows = startup(repeats, env, not args.quick)
            rows += training(max(repeats // 2, 3), args.steps, env, work)
            rows += training_sizes(repeats, env, work, args.quick)
            rows += trace(2 if not args.quick else 1, env, work)
            rows += formats(repeats, env, work, args.quick)
            rows += view(repeats, env, work)
    print(f"bpexplain benchmarks, median of {repeats} runs each (interleaved); {machine()}")
    print(f"command: {shutil.which('make') and 'make bench' or 'python benchmarks/bench.py'}")
    print()
    print(table(rows))


if __name__ == "__main__":
    main()
