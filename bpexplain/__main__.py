"""The `bpexplain` command (and `python -m bpexplain`).

The CLI is imported inside `main`, so that Ctrl-C pressed while it is still loading (a few dozen
milliseconds of imports) ends as it does later: one line and status 130, not a traceback.
"""

from __future__ import annotations

import sys

EXIT_INTERRUPTED = 130


def main() -> None:
    try:
        from .cli import main as run
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        raise SystemExit(EXIT_INTERRUPTED) from None
    run()


if __name__ == "__main__":
    main()
