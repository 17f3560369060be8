"""`train --save FILE.yaml`: the trained network, written in the format it was read in.

The network file is read again as a document (with any `--set` applied), and only its parameters are
replaced, by the values training left, each at full precision (Python's repr of the float64, which
reads back as the same bits). Every other key stays as written, so `bpexplain train FILE.yaml`
continues where the run stopped; comments are not kept. A weight written `layout: from_to` is written
back in that layout; a parameter drawn at random (or left out) is written as the values it took. The
file is written atomically (`output.atomic_output`), and never over the network file being read.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .errors import BpexplainError, Location
from .layers import parameter_key
from .spec import NetworkSpec, parse_document, parse_network, read_network_text

SUFFIXES = (".yaml", ".yml")


def check_save_target(path: str, net: str, others: Sequence[str | None] = ()) -> None:
    """Refuse, before the run, a --save path that is not a .yaml file, or that is the network file being read
    (or another output of the same run)."""
    if Path(path).suffix.lower() not in SUFFIXES:
        raise BpexplainError(
            "--save writes a network file", where=Location(path), expected="a file name ending in .yaml or .yml"
        )
    for other, what in [(net, "the network file being read")] + [(o, "the file -o writes") for o in others if o]:
        if _same_file(path, other):
            raise BpexplainError(
                f"--save would write over {what}", where=Location(path), expected="another file name for --save"
            )


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (a bundled network's name, a new file)
        return os.path.abspath(a) == os.path.abspath(b)


def trained_document(net: str, sets: Sequence[str], parameters: Mapping[str, np.ndarray]) -> str:
    """The YAML text of network `net` (as `--set` changed it) with `parameters` (flat names, as in a trace's
    final parameters) in place of its own."""
    text, source = read_network_text(net)
    spec = parse_network(text, source, sets)
    doc = parse_document(text, source)
    if sets:
        from .overrides import apply_overrides

        doc = apply_overrides(doc, sets)
    data = copy.deepcopy(doc.data)
    _replace_parameters(data, spec, parameters)
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=None, allow_unicode=True, width=120)
    return "# Written by bpexplain train --save: the trained network, parameters at full precision.\n" + body


def _replace_parameters(data: dict[str, Any], spec: NetworkSpec, parameters: Mapping[str, np.ndarray]) -> None:
    for ls, raw in zip(spec.layers, data["layers"]):
        for pname, param in ls.params.items():
            value = np.asarray(parameters[f"{ls.name}.{pname}"])
            if ls.type == "dense" and pname == "weight" and ls.options.get("layout") == "from_to":
                value = value.T  # the engine keeps one row per unit
            else:
                value = value.reshape(param.value.shape)  # the shape the file gives (a conv kernel as a matrix)
            key = parameter_key(ls.type, pname)
            old = raw.get(key)
            if isinstance(old, dict):  # {value: ..., trainable: ...} or {init: ..., trainable: ...}
                new: Any = {"value": value.tolist()}
                new.update((k, v) for k, v in old.items() if k not in ("value", "init"))
            elif not param.trainable:
                new = {"value": value.tolist(), "trainable": False}
            else:
                new = value.tolist()
            raw[key] = new


class _Dumper(yaml.SafeDumper):
    """The safe dumper, writing a value shared through an anchor in the file out in full at each place."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def save_trained(path: str, net: str, sets: Sequence[str], parameters: Mapping[str, np.ndarray]) -> None:
    """Write the trained network to `path`, atomically."""
    from .output import atomic_output

    text = trained_document(net, sets, parameters)
    with atomic_output(path) as out:
        out.write(text)
