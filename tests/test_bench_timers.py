"""The benchmark's in-process timers run (`make bench` writes each into a file and runs it in a child). No
test here measures or asserts a time; a timer that fails would fail `make bench` only, which no other test runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import bench  # noqa: E402


def run_timer(tmp_path: Path, source: str, *args: str) -> list[str]:
    script = tmp_path / "timer.py"
    script.write_text(source.replace("# SAMPLE\n", bench.SAMPLE))
    out = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def test_the_view_timer_gives_a_count_and_each_rounds_times(tmp_path: Path) -> None:
    count, times = run_timer(tmp_path, bench.VIEW_TIMER, "xor", "2", "80")
    assert int(count) > 0
    rounds = json.loads(times)
    assert set(rounds) == {"text", "rich"} and all(len(t) == 2 and min(t) > 0 for t in rounds.values())


def test_the_formats_timer_gives_a_count_and_each_rounds_times(tmp_path: Path) -> None:
    count, times = run_timer(tmp_path, bench.FORMAT_TIMER, "lecture", "2", "lines,text,json,layout")
    assert int(count) == 53  # lecture's equations in one training step
    rounds = json.loads(times)
    assert set(rounds) == {"lines", "text", "json", "layout"} and all(min(t) > 0 for t in rounds.values())


def test_the_training_timer_trains_as_the_numpy_loop_does(tmp_path: Path) -> None:
    net = tmp_path / "mlp.yaml"
    net.write_text(bench.mlp_yaml((4, 8, 3), "a small MLP"))
    (line,) = run_timer(tmp_path, bench.TRAIN_TIMER, str(net), "70", "2")
    engine, numpy_step, ratio, same = line.split()
    assert float(engine) > 0 and float(numpy_step) > 0 and float(ratio) > 0
    assert same == "same"
