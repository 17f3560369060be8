"""The layer kinds, by the name used for `type:` in a network file. Add a new kind here."""

from __future__ import annotations

from .base import Layer
from .dense import Dense
from .maps import input_names

LAYER_TYPES: dict[str, type[Layer]] = {
    Dense.type_name: Dense,
}

__all__ = ["LAYER_TYPES", "Layer", "input_names"]
