"""The cost of one equation of a full trace in each output format: what `limits.FORMAT_COSTS` holds.

Each format writes `train NET.yaml -o FILE --max-equations 0` for a dense network made here, as a subprocess;
its user time and peak memory (`os.wait4`) less those of the same run with `--detail summary` (start-up,
the numerics), divided by the equations the run writes (`limits.estimated_equations`), give the seconds and
kilobytes an equation costs. Kilobytes are those written (for html, the page a browser holds whole), or for
svg, held whole by rich, those of peak memory. The fast formats (html's page among them) are measured on a
larger network than rich and svg.

Usage: python benchmarks/format_costs.py [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bpexplain import limits  # noqa: E402
from bpexplain.engine import RunOptions  # noqa: E402
from bpexplain.spec import load_network  # noqa: E402

NETWORKS = {  # inputs, hidden units, outputs
    "fast": (100, 150, 30),
    "slow": (40, 60, 10),
}
SLOW = ("rich", "svg")


def network(folder: Path, name: str, sizes: tuple[int, int, int]) -> Path:
    n_in, hidden, n_out = sizes
    path = folder / f"{name}.yaml"
    path.write_text(
        f"name: {name}\ninputs: {n_in}\nlayers:\n  - {{units: {hidden}, activation: tanh}}\n"
        f"  - {{units: {n_out}, activation: sigmoid}}\ndata:\n"
        f"  - {{input: [{', '.join(['0.1'] * n_in)}], target: [{', '.join(['0.5'] * n_out)}]}}\n"
    )
    return path


def measure(args: list[str], cwd: Path) -> tuple[float, float]:
    """(user seconds, peak resident kilobytes) of one run of the CLI."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bpexplain", *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{' '.join(args)} failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    return usage.ru_utime, usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="runs of each; the fastest is kept")
    repeats = parser.parse_args().repeats
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        nets = {kind: network(folder, kind, sizes) for kind, sizes in NETWORKS.items()}
        print(f"{'format':9} {'equations':>9} {'µs/eq':>8} {'KB/eq':>7}   limits.FORMAT_COSTS: µs/eq, KB/eq")
        for fmt, cost in limits.FORMAT_COSTS.items():
            net = nets["slow" if fmt in SLOW else "fast"]
            equations, _ = limits.estimated_equations(load_network(str(net)), RunOptions(command="train"))
            base = min(
                measure(["train", net.name, "--detail", "summary", "--format", "text"], folder) for _ in range(repeats)
            )
            out = folder / f"out.{fmt}"
            runs = [
                measure(["train", net.name, "--format", fmt, "-o", out.name, "--max-equations", "0"], folder)
                for _ in range(repeats)
            ]
            user = min(r[0] for r in runs) - base[0]
            peak = min(r[1] for r in runs) - base[1]
            kilobytes = peak if cost.held_whole and fmt != "html" else out.stat().st_size / 1000
            print(
                f"{fmt:9} {equations:9,} {user / equations * 1e6:8.1f} {kilobytes / equations:7.2f}"
                f"   {cost.seconds * 1e6:.0f}, {cost.kilobytes}"
            )


if __name__ == "__main__":
    main()
