"""Shell completion of NET arguments: the bundled networks' names, then the shell's own file names.

Its own small module because every command's NET argument names it: importing it costs no more than
the click module the CLI has already loaded.
"""

from __future__ import annotations

import os
from typing import Any


def complete_network(ctx: Any, param: Any, incomplete: str) -> list[Any]:
    """NET: the bundled networks whose names start with what is typed, then files (the shell's own)."""
    from click.shell_completion import CompletionItem

    folder = os.path.join(os.path.dirname(__file__), "networks")
    names = sorted(n[:-5] for n in os.listdir(folder) if n.endswith(".yaml"))
    items = [CompletionItem(n, help="bundled network") for n in names if n.startswith(incomplete)]
    return items + [CompletionItem(incomplete, type="file")]
