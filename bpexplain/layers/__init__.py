"""The layer kinds, by the name used for `type:` in a network file. Add a new kind here.

A kind's module is imported when a network first uses it: a network of dense layers never loads
the convolution and pooling code (a millisecond of every start-up).
"""

from __future__ import annotations

from importlib import import_module

from .base import InputNames, Layer, UnitNames

LAYER_TYPES: dict[str, str] = {
    "dense": "bpexplain.layers.dense:Dense",
    "conv2d": "bpexplain.layers.conv:Conv2d",
    "maxpool": "bpexplain.layers.pool:MaxPool",
    "avgpool": "bpexplain.layers.pool:AvgPool",
    "flatten": "bpexplain.layers.flatten:Flatten",
    "activation": "bpexplain.layers.activation:ActivationLayer",
    "add": "bpexplain.layers.add:AddLayer",
}


def layer_class(type_name: str) -> type[Layer]:
    """The class of a layer kind, by its `type:` name (one of LAYER_TYPES)."""
    module_name, class_name = LAYER_TYPES[type_name].split(":")
    cls: type[Layer] = getattr(import_module(module_name), class_name)
    return cls


def parameter_key(type_name: str, pname: str) -> str:
    """The key a network file writes a parameter under: its own name, unless the kind says otherwise (a
    conv2d's `weight` is written `kernel`)."""
    return layer_class(type_name).yaml_keys.get(pname, pname)


def input_names(shape: tuple[int, ...], names: tuple[str, ...] = ()) -> UnitNames:
    """How the network's inputs are written: x_1, x_2, ... for a vector (or the file's own names, i_1, i_2,
    when every one is a name a symbol can take), I(i,j) for an image."""
    if len(shape) == 3:
        from .maps import MapNames

        return MapNames("I", shape)
    from ..spec import names_are_symbols

    return InputNames(tuple(names) if names and names_are_symbols(names) else None)


__all__ = ["LAYER_TYPES", "Layer", "input_names", "layer_class", "parameter_key"]
