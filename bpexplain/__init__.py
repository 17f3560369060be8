"""bpexplain: the worked back-propagation solution of a network written in YAML.

    >>> import bpexplain
    >>> t = bpexplain.train("lecture", steps=2)
    >>> t.losses
    >>> t.to_dict()["steps"][0]["gradients"]

The API functions live in `bpexplain.api` and are imported on first use, so that importing the
package (and `bpexplain --help`) stays instant.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "forward", "train", "load", "BpexplainError"]


def __getattr__(name: str) -> Any:
    if name in ("forward", "train", "load"):
        from . import api

        return getattr(api, name)
    if name == "BpexplainError":
        from .errors import BpexplainError

        return BpexplainError
    raise AttributeError(name)
