"""The `bpexplain` command (and `python -m bpexplain`).

Signals are turned into an exception first (interrupts.py), then the CLI is imported inside `main`,
so that Ctrl-C, SIGTERM or SIGHUP arriving while it is still loading (a few dozen milliseconds of
imports) ends as it does later: one line and status 128 + the signal's number (130 for Ctrl-C), not
a traceback.
"""

from __future__ import annotations

import sys

EXIT_INTERRUPTED = 130


def main() -> None:
    import gc

    gc.set_threshold(100_000, 50, 100)  # as cli.main sets it, already for click's import and ours (16 collections)
    from .interrupts import Interrupted, install

    install()
    try:
        from .cli import main as run
    except KeyboardInterrupt:
        _stop("interrupted", EXIT_INTERRUPTED)
    except Interrupted as exc:
        _stop(exc.line(), exc.exit_code)
    run()


def _stop(line: str, code: int) -> None:
    try:
        sys.stderr.write(f"error: {line}\n")
    except (OSError, ValueError, AttributeError):
        pass
    raise SystemExit(code) from None


if __name__ == "__main__":
    main()
