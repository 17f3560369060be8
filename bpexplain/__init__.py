"""bpexplain: the worked back-propagation solution of a network written in YAML.

    >>> import bpexplain
    >>> t = bpexplain.train("lecture", steps=2)
    >>> t.losses
    >>> t.to_dict()["steps"][0]["gradients"]

The API functions live in `bpexplain.api` and are imported on first use, so that importing the
package (and `bpexplain --help`) stays instant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what a type checker and an editor see; at run time they come from __getattr__ on first use
    from .api import forward, load, train
    from .errors import BpexplainError

__version__ = "0.1.0"
__all__ = ["__version__", "forward", "train", "load", "BpexplainError"]


def __dir__() -> list[str]:
    """The API beside the module's own names, so that tab completion in a notebook offers train and forward."""
    return sorted(set(globals()) | set(__all__))


def __getattr__(name: str) -> Any:
    if name in ("forward", "train", "load"):
        from . import api

        return getattr(api, name)
    if name == "BpexplainError":
        from .errors import BpexplainError

        return BpexplainError
    raise AttributeError(name)
