"""The layer kinds, by the name used for `type:` in a network file. Add a new kind here."""

from __future__ import annotations

from .activation import ActivationLayer
from .base import Layer
from .conv import Conv2d
from .dense import Dense
from .flatten import Flatten
from .maps import input_names
from .pool import AvgPool, MaxPool

LAYER_TYPES: dict[str, type[Layer]] = {
    Dense.type_name: Dense,
    Conv2d.type_name: Conv2d,
    MaxPool.type_name: MaxPool,
    AvgPool.type_name: AvgPool,
    Flatten.type_name: Flatten,
    ActivationLayer.type_name: ActivationLayer,
}

__all__ = ["LAYER_TYPES", "Layer", "input_names"]
