"""The bounds of every command-line option value, in one place, checked before any work starts.

Each bound is a named constant that `cli.py` turns into a click type, so a value outside it is one
`error: --OPTION: found ... (expected ...)` line and status 2 before the network is even read. The
bounds keep numbers sane rather than judge a run: a run inside them may still be long, and it streams
and stops on Ctrl-C. docs/errors.md lists them.
"""

from __future__ import annotations

MAX_STEPS = 100_000_000  # --steps, and every step number in --step / --steps-shown
MAX_EPOCHS = 100_000_000  # --epochs
MAX_STEP_PARTS = 1_000  # comma-separated parts of one --step / --steps-shown list
MAX_SEED = 2**63 - 1  # --seed: the same range as a network file's seed (limits.MAX_SEED)
MAX_INDEX = 1_000_000_000  # --sample and --limit (the data and the parameters are smaller still)
PRECISION = (1, 17)  # --precision: significant digits; 17 is all a float64 has
ROUND = (0, 12)  # --round: decimals carried as by hand
MAX_TERMS = (2, 1_000_000)  # --max-terms
MAX_EQUATIONS = 10**12  # --max-equations (0: no limit)
MAX_EVALUATIONS = 10**12  # check --max-evaluations (0: no limit)
COLUMNS = (20, 1_000)  # COLUMNS, as rich reads it: a whole number is clamped into this range


def columns(value: str | None) -> str | None:
    """COLUMNS as the terminal view may use it: a whole number clamped into COLUMNS, or None (ignored)
    for anything else (unset, empty, 0, negative, not a number), which lets rich ask the terminal."""
    if value is None or not value.strip().isdigit() or len(value.strip()) > 9 or int(value) == 0:
        return None
    return str(min(max(int(value), COLUMNS[0]), COLUMNS[1]))
