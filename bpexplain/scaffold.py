"""`bpexplain new NAME`: a commented network file to start from, never written over an existing file.

The template's lists of activations, losses and layer types come from the same tables the loader
checks against (functions.py, the layer registry), so its comments cannot drift from what loads.
With `--like NET`, the file is a bundled network's own commented text under the new name.
Every file written is loaded first, so that what `new` writes always loads and trains.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .errors import BpexplainError, Location

_NAME_LINE = re.compile(r"^name:.*$", re.MULTILINE)


def template(name: str) -> str:
    """The commented 2-2-1 network that `bpexplain new NAME` writes."""
    from .functions import ACTIVATION_NAMES, LOSSES
    from .layers import LAYER_TYPES

    activations = ", ".join(ACTIVATION_NAMES)
    losses = ", ".join(LOSSES)
    types = ", ".join(LAYER_TYPES)
    return f"""\
# {name}: a network for bpexplain. Every key is described in docs/network-format.md.
#   bpexplain forward {name}.yaml             the forward pass: every e_n and y_n, and the loss
#   bpexplain train {name}.yaml --steps 1     one step: forward, loss, errors δ_n, gradients, updates
#   bpexplain diagram {name}.yaml             a picture of it ({name}.svg)
name: {_yaml_text(name)}
title: A 2-2-1 sigmoid network with biases        # shown at the top of every trace
inputs: [x1, x2]               # names of the inputs x_1, x_2 (or a count: 2; or a map: {{shape: [6, 6]}})
layers:                        # from the input to the output; neurons are numbered 1, 2, ... in this order
  - name: hidden               # neurons 1 and 2
    type: dense                # one of: {types}
    activation: sigmoid        # one of: {activations} (softmax: last layer only)
    weight: [[0.1, 0.4],       # weight[i][j] is the weight from input j to unit i: w_(x1)1, w_(x2)1
             [0.3, -0.2]]      #                                                    w_(x1)2, w_(x2)2
    bias: [0.1, -0.1]          # b_1, b_2; leave out for no bias; {{value: [...], trainable: false}} to freeze
  - name: output               # neuron 3
    type: dense
    activation: sigmoid
    weight: [[0.5, -0.6]]      # w_13, w_23 (leave a weight out and give units: n for seeded random values)
    bias: [0.2]                # b_3
loss: mse                      # one of: {losses}
learning_rate: 0.5             # η
data:                          # the samples: an input and its target ŷ (one value per output)
  - input: [0.5, 0.8]
    target: [1]
  - input: [0.9, 0.2]
    target: [0]
"""


def like(name: str, net: str) -> str:
    """A bundled network's text (comments and all) under the name `name`."""
    from .spec import read_network_text

    text, source = read_network_text(net)
    head = f"# {name}: started from {source} (bpexplain new {name} --like {net}).\n"
    line = f"name: {_yaml_text(name)}"
    if _NAME_LINE.search(text):
        text = _NAME_LINE.sub(lambda m: line, text, count=1)
    else:
        text = f"{line}\n{text}"
    return head + text


def write_new(name: str, like_net: str | None = None) -> str:
    """Write NAME.yaml (NAME as given when it already ends in .yaml or .yml); return the path written."""
    from .spec import parse_network

    path = Path(name if name.endswith((".yaml", ".yml")) else f"{name}.yaml")
    stem = path.stem
    if not stem or stem.startswith("."):
        raise BpexplainError(
            f"cannot make a file name of {name!r}", where=Location(name), expected="a name such as my-net"
        )
    text = like(stem, like_net) if like_net else template(stem)
    parse_network(text, str(path))  # what is written must load (a BpexplainError here is a bug in the template)
    try:
        with path.open("x", encoding="utf-8", newline="\n") as f:
            f.write(text)
    except FileExistsError:
        raise BpexplainError(
            "the file already exists, and new never writes over a file",
            where=Location(str(path)),
            expected="a new name, or remove the file first",
        ) from None
    except FileNotFoundError:
        raise BpexplainError("no such folder", where=Location(str(path)), expected="a folder that exists") from None
    except OSError as exc:
        raise BpexplainError(f"cannot write the file ({exc.strerror})", where=Location(str(path))) from None
    return str(path)


def _yaml_text(text: str) -> str:
    """`text` as a YAML scalar that reads back as the same string."""
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", text) and text.lower() not in (
        "true",
        "false",
        "yes",
        "no",
        "on",
        "off",
        "null",
    ):
        return text
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar
