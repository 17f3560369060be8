"""Commands that live in modules of their own, added to the click group by `cli.py`.

Each module defines click commands and keeps its heavy imports (numpy, rich, the engine) inside
the command bodies, so that `bpexplain --help` stays instant. To add one, write the module and
list it here with the names of the commands it defines.
"""

from __future__ import annotations

# module (relative to this package) -> the click commands it defines, in the order `--help` lists them
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "variants": ("variants",),
    "grading": ("sheet", "compare", "grade"),
    "tools": ("schema", "new", "diagram"),
}
