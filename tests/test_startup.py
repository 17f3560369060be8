"""What a run of `bpexplain forward lecture` does not do at start-up, and the records that make it so.

Start-up is measured in benchmarks/bench.py, never here; these tests pin down the laziness it relies on:
the record modules make no dataclass (making one costs a millisecond or more at import), a command
defined in cli.py does not import the table of the other commands, and no pattern for YAML text or
names is compiled for a file that needs none. And `record.replace` copies a Record as it copies a
dataclass.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest

from bpexplain.functions import make_activation
from bpexplain.options import RunOptions
from bpexplain.record import replace
from bpexplain.trace import Equation, StepEnd

ENV = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR")}
HANG = 120  # seconds: only a guard against hanging, not a measurement

RUN = (
    "import io, contextlib, sys\n"
    "from bpexplain.cli import cli\n"
    "out = io.StringIO()\n"
    "with contextlib.redirect_stdout(out):\n"
    "    try:\n        cli(['forward', 'lecture'])\n    except SystemExit:\n        pass\n"
    "assert 'bpexplain forward: lecture' in out.getvalue().splitlines()[0], out.getvalue()[:200]\n"
)


def probe(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=HANG)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_record_modules_make_no_dataclass() -> None:
    out = probe(
        "import sys\nimport numpy\nbefore = 'dataclasses' in sys.modules\n"
        "import bpexplain.options, bpexplain.trace, bpexplain.functions, bpexplain.limits, bpexplain.expr\n"
        "print(before, 'dataclasses' in sys.modules)"
    )
    assert out.split() == ["False", "False"]


def test_the_marking_and_variant_modules_make_no_dataclass_either() -> None:
    """One record idiom: the grading side's records are `Record`s too (docs/design.md, "One record idiom")."""
    out = probe(
        "import sys\nimport numpy, yaml\n"
        "import bpexplain.check, bpexplain.filters, bpexplain.scoring, bpexplain.answers, bpexplain.facts\n"
        "import bpexplain.marking, bpexplain.grading, bpexplain.variants\n"
        "print('dataclasses' in sys.modules)"
    )
    assert out.split() == ["False"]


def test_a_run_of_a_command_in_cli_py_does_not_import_the_command_table() -> None:
    out = probe(RUN + "print(sorted(m for m in sys.modules if m.startswith('bpexplain.commands')))")
    assert out.strip() == "[]"


def test_a_plain_network_compiles_no_pattern_for_its_text_or_names() -> None:
    """lecture.yaml's text is printable, its names plain and its numbers YAML's own: yamldoc's and reader's
    patterns (control characters, folding, 1e-3 floats, identifiers) are left uncompiled."""
    import re

    if not hasattr(re, "_compile"):
        pytest.skip("this Python's re has no _compile to watch")
    out = probe(
        "import re\nseen = []\nreal = re._compile\n"
        "def watched(pattern, flags):\n    seen.append(str(pattern))\n    return real(pattern, flags)\n"
        "re._compile = watched\n" + RUN + "from bpexplain import yamldoc\n"
        "ours = {yamldoc._CONTROL, yamldoc._FOLD, r'[A-Za-z][A-Za-z0-9_]*'}\n"
        "ours |= {p.pattern for p in vars(yamldoc).values() if isinstance(p, yamldoc._PatternOnFirstUse)}\n"
        "print(len(seen) > 0, sorted(ours & set(seen)))"
    )
    assert out.split() == ["True", "[]"]


def test_control_characters_are_still_found_and_folded() -> None:
    from bpexplain.yamldoc import fold_text, without_controls

    assert without_controls("net\x1b[31m") == "net?[31m"
    assert without_controls("a\u202eb\u2028c") == "a?b?c"
    assert without_controls("plain name é") == "plain name é"
    assert fold_text("\tone\n  two\t three\n") == "one two three"
    assert fold_text("one line") == "one line"


def test_replace_copies_a_record_with_fields_changed() -> None:
    opts = RunOptions(command="forward", precision=6)
    summary = replace(opts, detail="summary")
    assert summary == RunOptions(command="forward", precision=6, detail="summary")
    assert opts.detail == "full" and hash(opts) == hash(RunOptions(command="forward", precision=6))
    assert repr(opts).startswith("RunOptions(command='forward', steps=None, epochs=None, notation='lecture'")
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        replace(opts, colour="red")


def test_replace_keeps_every_other_field_of_an_equation_and_a_rule() -> None:
    from bpexplain.expr import Num, Sym

    eq = Equation.of("forward", Sym("y"), Num(2.0), 2, cells=(1, 2))
    noted = replace(eq, note="winner")
    assert (noted.note, noted.kind, noted.value, noted.cells) == ("winner", "forward", 2.0, (1, 2))
    sigmoid = make_activation("sigmoid")
    changed = replace(sigmoid, derivative=None)
    assert changed.derivative is None and changed.value is sigmoid.value and changed.label == sigmoid.label


def test_replace_copies_a_dataclass_too() -> None:
    @dataclasses.dataclass
    class Point:
        x: int
        y: int = 0

    assert replace(Point(1, 2), y=5) == Point(1, 5)
    end = StepEnd(1, 0.5, {})
    assert replace(end, loss=0.25).loss == 0.25 and replace(end, loss=0.25).outputs == {}
