"""`bpexplain schema`: a JSON Schema (draft 2020-12) of the network file, for editors and checkers.

The schema is made from the tables the loader itself checks against: the top-level keys of spec.py,
the activations and losses of functions.py, the layer kinds of the layer registry and each kind's own
KEYS. So it cannot drift from what loads: a key the loader knows and this module does not describe
still gets an entry (and a test fails until it is described). The schema checks the form of a file
(keys, types, names, enums); shapes (a weight's rows and columns against the layer sizes) are left
to the loader, whose errors say where.
"""

from __future__ import annotations

import json
from importlib import import_module
from typing import Any

NUMBER = {"type": "number"}
TENSOR: dict[str, Any] = {  # nested lists of numbers, any depth: a vector, a matrix, a kernel, a map
    "type": "array",
    "items": {"anyOf": [{"type": "number"}, {"$ref": "#/$defs/tensor"}]},
}
INIT = {"enum": ["random", "zeros"], "description": "random: seeded uniform in ±1/√fan-in; zeros: all 0"}


def _param(what: str) -> dict[str, Any]:
    return {
        "description": what
        + ". A list of numbers, or random / zeros, or {value: ..., trainable: false} to keep it fixed.",
        "anyOf": [
            {"$ref": "#/$defs/tensor"},
            INIT,
            {
                "type": "object",
                "properties": {
                    "value": {"$ref": "#/$defs/tensor", "description": "the numbers"},
                    "trainable": {"type": "boolean", "description": "false: training never changes it"},
                    "init": INIT,
                },
                "additionalProperties": False,
            },
        ],
    }


def _pair(what: str, minimum: int) -> dict[str, Any]:
    return {
        "description": what + ": n, or [rows, columns]",
        "anyOf": [
            {"type": "integer", "minimum": minimum},
            {"type": "array", "items": {"type": "integer", "minimum": minimum}, "minItems": 2, "maxItems": 2},
        ],
    }


def top_properties() -> dict[str, dict[str, Any]]:
    """Every top-level key of a network file, described."""
    from .functions import LOSSES

    return {
        "name": {"type": "string", "description": "short name of the network (default: the file's name)"},
        "title": {"type": "string", "description": "one line shown at the top of every trace"},
        "description": {"type": "string", "description": "free text about the network"},
        "inputs": {
            "description": "the inputs: a count (2), a list of names ([x1, x2]), or a map {shape: [h, w]} "
            "or {shape: [channels, h, w]}",
            "anyOf": [
                {"type": "integer", "minimum": 1},
                {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": True},
                {
                    "type": "object",
                    "properties": {
                        "shape": {
                            "description": "[n], [h, w] or [channels, h, w]",
                            "type": "array",
                            "items": {"type": "integer", "minimum": 1},
                            "minItems": 1,
                            "maxItems": 3,
                        }
                    },
                    "required": ["shape"],
                    "additionalProperties": False,
                },
            ],
        },
        "layers": {
            "description": "the layers, from the input to the output; neurons are numbered in this order",
            "type": "array",
            "minItems": 1,
            "items": {"$ref": "#/$defs/layer"},
        },
        "loss": {
            "description": "the loss E: " + "; ".join(f"{name}: {loss.formula}" for name, loss in LOSSES.items()),
            "enum": list(LOSSES),
            "default": "mse",
        },
        "learning_rate": {"description": "η, greater than 0", "type": "number", "exclusiveMinimum": 0, "default": 0.5},
        "data": {
            "description": "the samples, each an input and (for training) its target",
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "input": {
                        "description": "one value per input (a matrix for a one-channel map)",
                        "$ref": "#/$defs/tensor",
                    },
                    "target": {"description": "ŷ: one value per output", "$ref": "#/$defs/tensor"},
                },
                "required": ["input"],
                "additionalProperties": False,
            },
        },
        "seed": {"description": "seed of the random initial weights", "type": "integer", "minimum": 0},
        "init": {
            "description": "how random initial weights are drawn",
            "type": "object",
            "properties": {
                "seed": {"description": "seed of the random initial weights", "type": "integer", "minimum": 0},
                "decimals": {
                    "description": "random weights are rounded to this many decimals (default 2)",
                    "type": "integer",
                    "minimum": 0,
                },
            },
            "additionalProperties": False,
        },
    }


_NAME = "^[A-Za-z][A-Za-z0-9_]*$"  # a unit's or weight's name: it becomes a symbol


def layer_properties() -> dict[str, dict[str, Any]]:
    """Every key any layer kind reads, described (a key means the same in every kind that has it)."""
    from .functions import ACTIVATION_NAMES
    from .layers import LAYER_TYPES

    activation_names = list(ACTIVATION_NAMES)
    props: dict[str, dict[str, Any]] = {
        "name": {"type": "string", "description": "the layer's name, unique (default: layer1, layer2, ...)"},
        "type": {"description": "the kind of layer", "enum": list(LAYER_TYPES), "default": "dense"},
        "inputs": {
            "description": "the layers it reads, by name: earlier layers, or input for the network's input "
            "(default: the layer above); add and concat read two or more, multiply two",
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}, "minItems": 1},
            ],
        },
        "units": {
            "description": "dense: number of neurons (needed when no weight matrix is given), or their names "
            "([h1, h2]: e_h1, y_h1, ...)",
            "anyOf": [
                {"type": "integer", "minimum": 1},
                {"type": "array", "items": {"type": "string", "pattern": _NAME}, "minItems": 1},
            ],
        },
        "layout": {
            "description": "dense: to_from (default; weight rows are units) or from_to (rows are inputs, w_mn "
            "from m to n as the lecture writes it)",
            "enum": ["to_from", "from_to"],
            "default": "to_from",
        },
        "labels": {
            "description": "dense: a name for every weight, a matrix in the weight's layout ([[w1, w2], [w3, w4]])",
            "type": "array",
            "items": {"type": "array", "items": {"type": "string", "pattern": _NAME}},
        },
        "activation": {
            "description": "the activation h: "
            + ", ".join(activation_names)
            + " (softmax: last layer only); or {name: leaky_relu, slope: 0.01}",
            "anyOf": [
                {"enum": activation_names},
                {
                    "type": "object",
                    "properties": {
                        "name": {"enum": activation_names, "description": "the activation"},
                        "slope": {"type": "number", "description": "leaky_relu only: the slope below 0"},
                    },
                    "required": ["name"],
                    "additionalProperties": False,
                },
            ],
        },
        "weight": _param("dense: weight[i][j] is the weight from input j to unit i (one row per unit)"),
        "bias": _param("one value per unit (dense) or per output channel (conv2d); leave out for none"),
        "kernel": _param(
            "conv2d: a matrix [rows][columns] for one input and one output channel, or [out][in][rows][columns]"
        ),
        "kernel_size": _pair("conv2d: the kernel's size, with a random or zeros kernel", 1),
        "channels": {"description": "conv2d: output channels (default 1)", "type": "integer", "minimum": 1},
        "stride": _pair("conv2d (default 1), pooling (default: the size): the step of the window", 1),
        "padding": _pair("conv2d: zeros added around the input (default 0)", 0),
        "dilation": _pair("conv2d: spacing of the kernel's taps (default 1)", 1),
        "flip": {
            "description": "conv2d: true (default) is the lecture's convolution, the kernel rotated 180°; "
            "false is cross-correlation (PyTorch's)",
            "type": "boolean",
            "default": True,
        },
        "size": _pair("maxpool, avgpool: the pooling window", 1),
    }
    for module in _kind_modules().values():  # a kind's own keys, described in its own module
        for key, described in getattr(module, "KEY_SCHEMA", {}).items():
            props.setdefault(key, described)
    return props


def _kind_modules() -> dict[str, Any]:
    from .layers import LAYER_TYPES

    return {type_name: import_module(target.split(":")[0]) for type_name, target in LAYER_TYPES.items()}


def layer_keys() -> dict[str, tuple[str, ...]]:
    """Each layer kind's keys, as its own module lists them (its KEYS), and `inputs`, which every kind takes."""
    return {
        type_name: tuple(getattr(module, "KEYS", ("name", "type"))) + ("inputs",)
        for type_name, module in _kind_modules().items()
    }


def required_keys(type_name: str) -> list[str]:
    """Keys a kind cannot do without (beyond what the loader works out): its module's REQUIRED_KEYS."""
    return list(_REQUIRED.get(type_name, getattr(_kind_modules()[type_name], "REQUIRED_KEYS", ())))


# keys a layer kind cannot do without (beyond what the loader works out)
_REQUIRED = {"maxpool": ["size"], "avgpool": ["size"], "activation": ["activation"]}


def network_schema() -> dict[str, Any]:
    """The JSON Schema of a network file, as a dict."""
    from .spec import TOP_KEYS

    props = layer_properties()
    per_kind = layer_keys()
    used = sorted(
        {k for keys in per_kind.values() for k in keys}, key=lambda k: list(props).index(k) if k in props else 99
    )
    rules = []
    for type_name, keys in per_kind.items():
        then: dict[str, Any] = {"propertyNames": {"enum": list(keys)}}
        if required_keys(type_name):
            then["required"] = required_keys(type_name)
        if type_name == "dense":
            then["anyOf"] = [{"required": ["units"]}, {"required": ["weight"]}]
        kind: dict[str, Any] = {"properties": {"type": {"const": type_name}}, "required": ["type"]}
        if type_name == "dense":  # the default kind
            kind = {"anyOf": [kind, {"not": {"required": ["type"]}}]}
        rules.append({"if": kind, "then": then})
    top = top_properties()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "bpexplain network",
        "description": "A neural network for bpexplain: its inputs, layers, loss, learning rate and data. "
        "Every key: docs/network-format.md.",
        "type": "object",
        "properties": {k: top.get(k, {"description": k}) for k in TOP_KEYS},
        "required": ["inputs", "layers"],
        "additionalProperties": False,
        "$defs": {
            "tensor": TENSOR,
            "layer": {
                "description": "one layer; which keys it takes depends on its type",
                "type": "object",
                "properties": {k: props.get(k, {"description": k}) for k in used},
                "allOf": rules,
            },
        },
    }


def schema_json() -> str:
    """The schema as JSON text, keys in a fixed order, ending in a newline."""
    return json.dumps(network_schema(), indent=2, ensure_ascii=False) + "\n"
