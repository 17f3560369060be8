"""Every failure class we know of ends as one `error:` line, its exit status, and never a traceback.

One table, run through the real CLI as a subprocess: usage errors, option bounds, `-o`, the network
file (sizes, YAML tags, huge integers, a FIFO, as fixed on wip/bounds) and numerics (a convolution's
overflow, as fixed on wip/numerics).
"""

# ruff: noqa: E501  (CASES is a table: one case a line, however long)
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ERROR_LINE = re.compile(r"(\S.*: )?error: ")  # `FILE:LINE:COL: error: ...`, or `error: ...`

ENV = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR", "COLUMNS")}
HANG = 60  # seconds: only a guard against hanging

DENSE = """\
name: t
inputs: [x]
layers:
  - {{name: out, type: dense, activation: identity, weight: [[{weight}]]}}
loss: mse
learning_rate: {rate}
data:
  - {{input: [1], target: [0]}}
"""
FILES = {
    "diverging.yaml": DENSE.format(weight="1.0", rate="1.0e+100"),
    "bigint.yaml": DENSE.format(weight="1" + "0" * 400, rate="0.1"),
    "bigrate.yaml": DENSE.format(weight="0.5", rate="9" * 320),
    "tag-int.yaml": DENSE.format(weight="!!int abc", rate="0.1"),
    "tag-float.yaml": DENSE.format(weight="!!float x", rate="0.1"),
    "tag-timestamp.yaml": DENSE.format(weight="0.5", rate="!!timestamp 2001-13-99"),
    "decimals.yaml": (
        "name: t\ninputs: [x]\ninit: {decimals: 400}\n"
        "layers:\n  - {name: out, type: dense, units: 1, activation: identity}\n"
        "loss: mse\nlearning_rate: 0.1\ndata:\n  - {input: [1], target: [0]}\n"
    ),
    # forward finite, but ∂E/∂K = Σ I·δO ≈ 4·1e160·1.6e151 overflows inside the convolution's sum
    "conv-overflow.yaml": """\
name: c
inputs: {shape: [3, 3]}
layers:
  - {name: conv1, type: conv2d, kernel: [[1.0e-10, 1.0e-10], [1.0e-10, 1.0e-10]]}
  - {name: flatten, type: flatten}
  - {name: fc, type: dense, weight: [[1.0, 1.0, 1.0, 1.0]], activation: identity}
loss: mse
learning_rate: 0.1
data:
  - input: [[1.0e+160, 1.0e+160, 1.0e+160], [1.0e+160, 1.0e+160, 1.0e+160], [1.0e+160, 1.0e+160, 1.0e+160]]
    target: [0]
""",
    "binary.yaml": "\x00\x01\x02 not yaml",
}


# (arguments, status, a piece of the line); {tmp} is the test's directory, where FILES are written
CASES = [
    # click's usage errors, one line each
    pytest.param(["train", "lecture", "--steps", "abc"], 2, "error: --steps: found 'abc' (expected a whole number from 1 to 100,000,000)", id="not-an-integer"),
    pytest.param(["train", "lecture", "--stpes", "3"], 2, "--stpes: no such option; did you mean", id="unknown-option"),
    pytest.param(["trian", "lecture"], 2, "trian: no such command; did you mean 'train'?", id="unknown-command"),
    pytest.param(["train"], 2, "NET: missing (expected a bundled network's name", id="missing-net"),
    pytest.param([], 2, "no command given (expected one of", id="no-command"),
    pytest.param(["train", "lecture", "--steps"], 2, "--steps: needs a value", id="missing-value"),
    pytest.param(["train", "lecture", "--format", "pdf"], 2, "--format: found 'pdf' (expected one of auto, text", id="bad-choice"),
    pytest.param(["train", "lecture", "extra"], 2, "unexpected extra argument", id="extra-argument"),
    pytest.param(["train", "lecture", "--steps", "1", "--epochs", "1"], 2, "give --steps or --epochs, not both", id="steps-and-epochs"),
    # option values out of bounds
    pytest.param(["train", "lecture", "--steps", "0"], 2, "--steps: found 0", id="steps-0"),
    pytest.param(["train", "lecture", "--steps", "9" * 40], 2, "--steps: found '99999", id="steps-40-digits"),
    pytest.param(["train", "lecture", "--steps", "1" + "0" * 5000], 2, "--steps: found '1000", id="steps-5000-digits"),
    pytest.param(["train", "xor", "--epochs", "1000000000"], 2, "--epochs: found 1000000000 (expected a whole number from 1 to 100,000,000)", id="epochs-huge"),
    pytest.param(["train", "xor", "--shuffle", "--seed", "-1", "--epochs", "1"], 2, "--seed: found -1 (expected a whole number from 0 to 9,223,372,036,854,775,807)", id="negative-seed"),
    pytest.param(["train", "xor", "--seed", str(2**63)], 2, "--seed: found 9223372036854775808", id="seed-too-large"),
    pytest.param(["train", "xor", "--until-loss", "nan"], 2, "--until-loss: found 'nan' (expected a finite number of at least 0)", id="until-loss-nan"),
    pytest.param(["train", "xor", "--until-loss", "inf"], 2, "--until-loss: found 'inf'", id="until-loss-inf"),
    pytest.param(["train", "xor", "--until-loss", "-1"], 2, "--until-loss: found '-1'", id="until-loss-negative"),
    pytest.param(["train", "xor", "--until-loss", "1e999"], 2, "--until-loss: found '1e999'", id="until-loss-overflow"),
    pytest.param(["train", "lecture", "--precision", "18"], 2, "--precision: found 18 (expected a whole number from 1 to 17)", id="precision"),
    pytest.param(["train", "lecture", "--max-terms", "1"], 2, "--max-terms: found 1", id="max-terms"),
    pytest.param(["train", "lecture", "--max-equations", "-1"], 2, "--max-equations: found -1", id="max-equations"),
    pytest.param(["forward", "xor", "--sample", "0"], 2, "--sample: found 0", id="sample-0"),
    pytest.param(["forward", "xor", "--sample", "99"], 2, "no sample 99", id="sample-beyond-data"),
    pytest.param(["check", "lecture", "--limit", "0"], 2, "--limit: found 0", id="limit-0"),
    pytest.param(["train", "lecture", "--round", "13"], 2, "--round: found 13 (expected a whole number from 0 to 12)", id="round"),
    pytest.param(["train", "lecture", "--step", "1-10000000000"], 2, "--step: found step 10,000,000,000 (expected steps from 1 to 100,000,000)", id="step-range-huge"),
    pytest.param(["train", "lecture", "--steps", "2", "--steps-shown", "1-100000000"], 2, "is beyond --steps 2", id="steps-shown-beyond"),
    pytest.param(["train", "lecture", "--step", "0"], 2, "--step: found '0'", id="step-0"),
    pytest.param(["train", "lecture", "--step", ",".join(["1"] * 1001)], 2, "--step: found 1,001 parts", id="step-parts"),
    pytest.param(["train", "lecture", "--only", "backward"], 2, "--only: unknown phase 'backward'", id="only-unknown"),
    pytest.param(["train", "lecture", "--layer", "nope"], 2, "no layer 'nope'", id="layer-unknown"),
    # forward has no training steps or backward phases
    pytest.param(["forward", "lecture", "--step", "3"], 2, "--step: forward works one pass", id="forward-step"),
    pytest.param(["forward", "lecture", "--steps-shown", "1"], 2, "--steps-shown: forward works one pass", id="forward-steps-shown"),
    pytest.param(["forward", "lecture", "--only", "forward,gradient"], 2, "--only: forward has no gradient phase", id="forward-only"),
    pytest.param(["forward", "lecture", "--steps", "3"], 2, "--steps: no such option", id="forward-steps"),
    # -o
    pytest.param(["train", "lecture", "-o", "{tmp}/key.pdf"], 2, "bpexplain cannot write .pdf files (expected -o key.tex, then pdflatex key.tex)", id="o-pdf"),
    pytest.param(["train", "lecture", "-o", ""], 2, "-o: empty file name", id="o-empty"),
    pytest.param(["train", "lecture", "-o", "{tmp}/no/key.txt"], 2, "cannot write: no such directory", id="o-missing-directory"),
    pytest.param(["train", "lecture", "-o", "{tmp}"], 2, "is a directory", id="o-directory"),
    pytest.param(["train", "lecture", "-o", "{tmp}/" + "k" * 300], 2, "the file name is too long", id="o-long-name"),
    pytest.param(["train", "{tmp}/diverging.yaml", "-o", "{tmp}/diverging.yaml"], 2, "is the network file being read", id="o-network-file"),
    pytest.param(["train", "lecture", "--latex-body", "-o", "{tmp}/k.md"], 2, "--latex-body goes with --format latex", id="latex-body"),
    # the network file
    pytest.param(["train", "{tmp}/none.yaml"], 2, "no such file", id="missing-file"),
    pytest.param(["train", "lectur"], 2, "did you mean 'lecture'?", id="unknown-name"),
    pytest.param(["train", "{tmp}/binary.yaml"], 2, "{tmp}/binary.yaml:", id="binary-file"),
    pytest.param(["train", "{tmp}/diverging.yaml", "--steps", "50"], 1, "error: ", id="numerical"),
    # YAML failure classes and odd files (wip/bounds), a convolution's overflow (wip/numerics)
    pytest.param(["train", "{tmp}/bigint.yaml"], 2, "{tmp}/bigint.yaml:4:", id="hundreds-of-digits"),
    pytest.param(["train", "{tmp}/bigrate.yaml"], 2, "{tmp}/bigrate.yaml:6:", id="hundreds-of-digits-rate"),
    pytest.param(["train", "{tmp}/tag-int.yaml"], 2, "{tmp}/tag-int.yaml:4:", id="tag-int-abc"),
    pytest.param(["train", "{tmp}/tag-float.yaml"], 2, "{tmp}/tag-float.yaml:4:", id="tag-float-x"),
    pytest.param(["train", "{tmp}/tag-timestamp.yaml"], 2, "{tmp}/tag-timestamp.yaml:6:", id="tag-timestamp"),
    pytest.param(["train", "{tmp}/decimals.yaml"], 2, "{tmp}/decimals.yaml:3:", id="init-decimals-400"),
    pytest.param(["train", "{tmp}/fifo.yaml"], 2, "{tmp}/fifo.yaml: error: ", id="fifo-as-network"),
    pytest.param(["train", "{tmp}/conv-overflow.yaml"], 1, "conv1", id="conv-overflow"),
    pytest.param(["train", "{tmp}/conv-overflow.yaml", "--detail", "summary"], 1, "conv1", id="conv-overflow-lean"),
]  # fmt: skip


@pytest.mark.parametrize("args,status,piece", CASES)
def test_one_line_and_a_status(tmp_path: Path, args: list[str], status: int, piece: str) -> None:
    for name, text in FILES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo.yaml")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    try:
        proc = subprocess.run([sys.executable, "-m", "bpexplain", *argv], capture_output=True, env=ENV, timeout=HANG)
    except subprocess.TimeoutExpired:
        pytest.fail(f"no answer in {HANG} s (it blocked or hung)")
    err = proc.stderr.decode()
    assert "Traceback" not in err
    assert proc.returncode == status, err
    assert ERROR_LINE.match(err) and err.count("\n") == 1, err
    assert piece.replace("{tmp}", str(tmp_path)) in err
    assert "internal error" not in err


def test_ctrl_c_while_help_is_written() -> None:
    """A real SIGINT arriving while click formats the help (any moment of the command line's reading)."""
    script = (
        "import os, signal, sys, click\n"
        "def interrupted(self):\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    return 'never shown'\n"
        "click.Context.get_help = interrupted\n"
        "sys.argv = ['bpexplain', 'train', '--help']\n"
        "from bpexplain.__main__ import main\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, env=ENV, timeout=HANG)
    assert proc.returncode == 130 and proc.stderr.decode() == "error: interrupted\n"
    assert b"never shown" not in proc.stdout


def test_a_keyboard_interrupt_inside_click_is_one_line_too() -> None:
    """click answers KeyboardInterrupt with a blank line and 'Aborted!'; ours is one line."""
    script = (
        "import sys, click\n"
        "def interrupted(self):\n"
        "    raise KeyboardInterrupt\n"
        "click.Context.get_help = interrupted\n"
        "sys.argv = ['bpexplain', '--help']\n"
        "from bpexplain.__main__ import main\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, env=ENV, timeout=HANG)
    assert proc.returncode == 130 and proc.stderr.decode() == "error: interrupted\n"


def test_sigterm_while_the_cli_is_loading() -> None:
    script = (
        "import os, signal, sys\n"
        "class Terminated:  # SIGTERM arrives while bpexplain.cli is being imported\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'bpexplain.cli':\n"
        "            os.kill(os.getpid(), signal.SIGTERM)\n"
        "sys.meta_path.insert(0, Terminated())\n"
        "from bpexplain.__main__ import main\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, env=ENV, timeout=HANG)
    assert proc.returncode == 143 and proc.stderr.decode() == "error: interrupted by SIGTERM\n"


def test_a_bug_is_one_line_with_status_3_and_its_traceback_on_request(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "import bpexplain.spec\n"
        "def broken(*args, **kwargs):\n"
        "    raise ZeroDivisionError('a bug')\n"
        "bpexplain.spec.load_network = broken\n"
        "sys.argv = ['bpexplain', 'forward', 'lecture']\n"
        "from bpexplain.__main__ import main\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, env=ENV, timeout=HANG)
    assert proc.returncode == 3
    assert proc.stderr.decode() == (
        "error: internal error (ZeroDivisionError: a bug); please report it with the command and the network "
        "file; BPEXPLAIN_TRACEBACK=1 shows where\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, env={**ENV, "BPEXPLAIN_TRACEBACK": "1"}, timeout=HANG
    )
    assert b"Traceback" in proc.stderr and b"ZeroDivisionError: a bug" in proc.stderr


def test_an_empty_net_is_named_as_such() -> None:
    from click.testing import CliRunner

    from bpexplain.cli import cli

    result = CliRunner().invoke(cli, ["train", "", "--steps", "2"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: NET is empty (expected a bundled network's name (")
