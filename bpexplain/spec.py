"""A validated, frozen network description: its records and their assembly from a YAML document.

`parse_network` reads the document (yamldoc.py, which keeps every value's position) with the validation
vocabulary (reader.py), so that every error names the position, the key path (`layers[1].weight`), what
was found and what was expected. Layer-specific keys are validated by the layer's own module
(`bpexplain.layers`), so a new layer type brings its own rules.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

from .errors import Location
from .functions import LOSSES
from .limits import (
    MAX_DATA_VALUES,
    MAX_DECIMALS,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_INPUTS,
    MAX_PARAMETERS,
    MAX_SAMPLES,
    MAX_SEED,
    MAX_SIZE,
    MAX_UNITS,
)
from .reader import (
    ParamInit,
    Reader,
    _shape_of,
    check_identifier,
    describe,
    format_shape,
    names_are_symbols,
)
from .record import Record
from .yamldoc import (
    Document,
    _close_matches,
    bundled_names,
    check_text,
    fold_text,
    format_path,
    parse_document,
    read_network_text,
    without_controls,
)

# What other modules imported from spec.py before yamldoc.py and reader.py were split from it: still importable here.
__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_PARAMETERS",
    "TOP_KEYS",
    "Document",
    "LayerSpec",
    "NetworkSpec",
    "Param",
    "ParamInit",
    "Reader",
    "Sample",
    "_shape_of",
    "bundled_names",
    "check_identifier",
    "describe",
    "format_path",
    "format_shape",
    "load_network",
    "names_are_symbols",
    "parse_document",
    "parse_network",
    "read_network_text",
    "read_param",
]


class Param(Record):
    """One parameter tensor: its initial value, whether training changes it, where it came from."""

    __slots__ = __match_args__ = ("value", "trainable", "origin")

    def __init__(self, value: np.ndarray, trainable: bool = True, origin: str = "given") -> None:
        self.value: Final = value
        self.trainable: Final = trainable
        self.origin: Final = origin  # "given", "random" or "zeros"


class LayerSpec(Record):
    """One layer as the YAML describes it, validated by its layer module (see `bpexplain.layers`)."""

    __slots__ = __match_args__ = (
        "name",
        "type",
        "index",
        "in_shape",
        "out_shape",
        "params",
        "activation",
        "slope",
        "options",
        "where",
        "inputs",
        "in_shapes",
    )

    def __init__(
        self,
        name: str,
        type: str,
        index: int,  # 0-based position in the network
        in_shape: tuple[int, ...],  # the shape of its first input
        out_shape: tuple[int, ...],
        params: Mapping[str, Param],  # "weight", "bias", in a fixed order
        activation: str = "identity",
        slope: float = 0.01,  # leaky_relu only
        options: Mapping[str, Any] | None = None,  # layer-type-specific settings
        where: Location | None = None,
        inputs: tuple[str, ...] = (),  # the layers it reads, by name (`input`: the network's input)
        in_shapes: tuple[tuple[int, ...], ...] = (),  # the shape of each of them
    ) -> None:
        self.name: Final = name
        self.type: Final = type
        self.index: Final = index
        self.in_shape: Final = in_shape
        self.out_shape: Final = out_shape
        self.params: Final = params
        self.activation: Final = activation
        self.slope: Final = slope
        self.options: Final[Mapping[str, Any]] = {} if options is None else options
        self.where: Final = where
        self.inputs: Final = inputs
        self.in_shapes: Final = in_shapes or (in_shape,)

    @property
    def units(self) -> int:
        return int(np.prod(self.out_shape))

    def reading(self, inputs: tuple[str, ...], in_shapes: tuple[tuple[int, ...], ...]) -> LayerSpec:
        """The same layer, reading the given inputs (set by `parse_network`, which resolves `inputs:`)."""
        return LayerSpec(
            self.name,
            self.type,
            self.index,
            in_shapes[0],
            self.out_shape,
            self.params,
            self.activation,
            self.slope,
            self.options,
            self.where,
            inputs,
            in_shapes,
        )


class Sample(Record):
    """One item of the network's data: an input and its target (NaN where the YAML gives none)."""

    __slots__ = __match_args__ = ("input", "target")

    def __init__(self, input: np.ndarray, target: np.ndarray) -> None:
        self.input: Final = input
        self.target: Final = target


class NetworkSpec(Record):
    """The whole network, validated: what the engine runs."""

    __slots__ = __match_args__ = (
        "name",
        "title",
        "source",
        "input_names",
        "input_shape",
        "layers",
        "loss",
        "learning_rate",
        "data",
        "seed",
        "description",
    )

    def __init__(
        self,
        name: str,
        title: str,
        source: str,
        input_names: tuple[str, ...],
        input_shape: tuple[int, ...],
        layers: tuple[LayerSpec, ...],
        loss: str,
        learning_rate: float,
        data: tuple[Sample, ...],
        seed: int = 0,
        description: str = "",
    ) -> None:
        self.name: Final = name
        self.title: Final = title
        self.source: Final = source
        self.input_names: Final = input_names
        self.input_shape: Final = input_shape
        self.layers: Final = layers
        self.loss: Final = loss
        self.learning_rate: Final = learning_rate
        self.data: Final = data
        self.seed: Final = seed
        self.description: Final = description

    def parameters(self) -> dict[str, np.ndarray]:
        return {f"{layer.name}.{pname}": p.value for layer in self.layers for pname, p in layer.params.items()}

    def frozen(self) -> list[str]:
        return [
            f"{layer.name}.{pname}" for layer in self.layers for pname, p in layer.params.items() if not p.trainable
        ]


# --------------------------------------------------------------------------------------------
# A parameter as the file gives it (beside Param, not in reader.py: the vocabulary imports no records)


def read_param(
    reader: Reader,
    raw: Any,
    path: tuple,
    shape: tuple[int, ...],
    what: str,
    init: ParamInit,
    fan_in: int,
    optional: bool,
) -> Param | None:
    """A weight or bias: a plain array, or {value: ..., trainable: ...}; omitted -> random or absent."""
    init.count(reader, path, shape)
    trainable = True
    value: Any = raw
    if isinstance(raw, dict):
        reader.mapping(raw, path, ("value", "trainable", "init"))
        trainable = reader.boolean(raw.get("trainable", True), path + ("trainable",))
        value = raw.get("value")
        if "init" in raw:
            reader.string(raw["init"], path + ("init",), ("random", "zeros"))
            if value is not None:
                reader.fail(path + ("init",), "both 'value' and 'init' are given", expected="one of them")
        init_kind = raw.get("init", "random")
        if value is None:
            if init_kind == "zeros":
                zeros = np.zeros(shape)
                zeros.setflags(write=False)
                return Param(zeros, trainable, "zeros")
            return Param(init.draw(shape, fan_in), trainable, "random")
        path = path + ("value",)
    elif isinstance(raw, str):
        kind = reader.string(raw, path, ("random", "zeros"))
        if kind == "zeros":
            zeros = np.zeros(shape)
            zeros.setflags(write=False)
            return Param(zeros, True, "zeros")
        return Param(init.draw(shape, fan_in), True, "random")
    if value is None:
        if optional:
            return None
        return Param(init.draw(shape, fan_in), True, "random")
    return Param(reader.array(value, path, shape, what), trainable, "given")


# --------------------------------------------------------------------------------------------
# The network


TOP_KEYS = ("name", "title", "description", "inputs", "layers", "loss", "learning_rate", "data", "seed", "init")


def parse_network(text: str, source: str, overrides: Sequence[str] = ()) -> NetworkSpec:
    from .layers import LAYER_TYPES, layer_class  # the layer modules validate their own keys

    doc = parse_document(text, source)
    if overrides:  # --set KEY=VALUE: applied to the document, then validated as if written in the file
        from .overrides import apply_overrides

        doc = apply_overrides(doc, overrides)
    check_text(doc)
    r = Reader(doc)
    top = r.mapping(doc.data, (), TOP_KEYS, required=("inputs", "layers"))

    name = r.string(top.get("name", without_controls(Path(source).stem)), ("name",))
    title = fold_text(r.string(top.get("title", name), ("title",)))
    description = fold_text(r.string(top.get("description", ""), ("description",)))
    seed = r.integer(top.get("seed", 0), ("seed",), maximum=MAX_SEED)
    decimals = 2
    if "init" in top:
        init_raw = r.mapping(top["init"], ("init",), ("seed", "decimals"))
        seed = r.integer(init_raw.get("seed", seed), ("init", "seed"), maximum=MAX_SEED)
        decimals = r.integer(init_raw.get("decimals", decimals), ("init", "decimals"), maximum=MAX_DECIMALS)
    init = ParamInit(seed, decimals)

    input_names, input_shape = _read_inputs(r, top["inputs"])

    layers_raw = top["layers"]
    if not isinstance(layers_raw, list) or not layers_raw:
        r.fail(("layers",), f"found {describe(layers_raw)}", expected="a list of at least one layer")
    layers: list[LayerSpec] = []
    names_seen: dict[str, int] = {}
    for i, raw in enumerate(layers_raw):
        path = ("layers", i)
        if not isinstance(raw, dict):
            r.fail(path, f"found {describe(raw)}", expected="a mapping with name, type, ...")
        type_name = r.string(raw.get("type", "dense"), path + ("type",), tuple(LAYER_TYPES))
        layer_name = r.string(raw.get("name", f"layer{i + 1}"), path + ("name",))
        if layer_name in names_seen:
            r.fail(
                path + ("name",),
                f"duplicate layer name {layer_name!r} (also layers[{names_seen[layer_name]}])",
                expected="a unique name per layer",
            )
        kind = layer_class(type_name)
        sources = _read_layer_inputs(r, raw, path, type_name, kind.arity, layers, names_seen)
        names_seen[layer_name] = i
        in_shapes = tuple(input_shape if s == INPUT else layers[names_seen[s]].out_shape for s in sources)
        body = {k: v for k, v in raw.items() if k != "inputs"}  # `inputs:` is the graph's, read here
        extra: dict[str, Any] = {"in_shapes": in_shapes} if kind.arity != 1 else {}
        spec = kind.read_spec(
            r, body, path, i, layer_name, in_shapes[0], init, is_last=(i == len(layers_raw) - 1), **extra
        ).reading(sources, in_shapes)
        units_total = sum(math.prod(ls.out_shape) for ls in layers) + math.prod(spec.out_shape)
        if units_total > MAX_UNITS:
            r.fail(
                path,
                f"the output of shape {format_shape(spec.out_shape)} brings the values of one forward pass "
                f"to {units_total:,}",
                expected=f"at most {MAX_UNITS:,}: a network small enough to explain",
            )
        layers.append(spec)
    _check_every_layer_used(r, layers)
    shape = layers[-1].out_shape

    _check_symbol_names(r, input_names, layers)
    loss = r.string(top.get("loss", "mse"), ("loss",), tuple(LOSSES))
    if "learning_rate" in top:
        lr = r.number(top["learning_rate"], ("learning_rate",), positive=True)
    else:
        lr = 0.5
    data = _read_data(r, top.get("data", []), input_shape, shape)
    for i, sample in enumerate(data):  # what the loss's formulas assume of a target (functions.py)
        problem = None if np.isnan(sample.target).any() else LOSSES[loss].target_problem(sample.target)
        if problem is not None:
            r.fail(("data", i, "target"), problem[0], expected=problem[1])
    last = layers[-1]
    if loss in ("cross_entropy", "binary_cross_entropy") and last.activation not in ("softmax", "sigmoid"):
        r.fail(
            ("loss",),
            f"{loss} needs outputs between 0 and 1, but the last layer's activation is {last.activation}",
            expected="softmax (cross_entropy) or sigmoid (binary_cross_entropy)",
        )
    return NetworkSpec(
        name, title, source, input_names, input_shape, tuple(layers), loss, lr, tuple(data), seed, description
    )


INPUT = "input"  # in a layer's `inputs:`, the network's input


def _read_layer_inputs(
    r: Reader,
    raw: dict,
    path: tuple,
    type_name: str,
    arity: int | None,
    earlier: Sequence[LayerSpec],
    names_seen: Mapping[str, int],
) -> tuple[str, ...]:
    """The names of the layers a layer reads: its `inputs:` (earlier layers, or `input`), else the layer above.

    Only earlier layers may be named, so the file's order is an order in which the graph can be computed."""
    above = earlier[-1].name if earlier else INPUT
    if "inputs" not in raw:
        if arity is None or arity > 1:
            want = "two or more" if arity is None else f"{arity}"
            r.fail(path, f"a {type_name} layer needs {want} inputs", expected=f"inputs: [{above}, ...] naming them")
        return (above,)
    ipath = path + ("inputs",)
    value = raw["inputs"]
    if isinstance(value, str):
        value = [value]
        where = [ipath]
    elif isinstance(value, list) and value:
        where = [ipath + (k,) for k in range(len(value))]
    else:
        r.fail(ipath, f"found {describe(value)}", expected="a list of earlier layers' names, or input")
    names: list[str] = []
    for name, at in zip(value, where):
        if not isinstance(name, str):
            r.fail(at, f"found {describe(name)}", expected="the name of an earlier layer, or input")
        if name == INPUT and INPUT in names_seen:
            r.fail(at, "'input' names both the network's input and a layer", expected="another name for that layer")
        if name != INPUT and name not in names_seen:
            close = _close_matches(name, [INPUT, *names_seen], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            r.fail(
                at,
                f"{name!r} is not an earlier layer{hint}",
                expected="the name of a layer above this one, or input (the file's order is the order of computing)",
            )
        if name in names:
            r.fail(at, f"{name!r} is named twice", expected="each input once")
        names.append(name)
    count = len(names)
    if arity is None and count < 2:
        r.fail(ipath, f"a {type_name} layer needs two or more inputs, found {count}", expected="two or more names")
    if arity is not None and count != arity:
        want = "one input" if arity == 1 else f"{arity} inputs"
        r.fail(ipath, f"a {type_name} layer takes {want}, found {count}", expected=f"{arity} name(s)")
    return tuple(names)


def _check_every_layer_used(r: Reader, layers: Sequence[LayerSpec]) -> None:
    """Every layer but the last feeds a later one: the last is the network's output."""
    used = {name for ls in layers for name in ls.inputs}
    for ls in layers[:-1]:
        if ls.name not in used:
            r.fail(
                ("layers", ls.index),
                f"the output of layer {ls.name!r} is used by no later layer",
                expected="every layer but the last named in a later layer's inputs (the last layer is the output)",
            )


def _read_inputs(r: Reader, raw: Any) -> tuple[tuple[str, ...], tuple[int, ...]]:
    path = ("inputs",)
    if isinstance(raw, bool):
        r.fail(path, f"found {describe(raw)}", expected="a count, a list of names, or a shape [c, h, w]")
    if isinstance(raw, int):
        n = r.integer(raw, path, minimum=1, maximum=MAX_INPUTS)
        return tuple(f"x{i + 1}" for i in range(n)), (n,)
    if isinstance(raw, list) and raw and all(isinstance(v, str) for v in raw):
        if len(set(raw)) != len(raw):
            r.fail(path, "an input name appears twice", expected="distinct names")
        return tuple(raw), (len(raw),)
    if isinstance(raw, dict):
        m = r.mapping(raw, path, ("shape",), required=("shape",))
        shape_raw = m["shape"]
        if not isinstance(shape_raw, list) or not (1 <= len(shape_raw) <= 3):
            r.fail(path + ("shape",), f"found {describe(shape_raw)}", expected="[n], [h, w] or [channels, h, w]")
        dims = tuple(r.integer(v, path + ("shape", i), 1, MAX_SIZE) for i, v in enumerate(shape_raw))
        size = math.prod(dims)  # a Python int: no overflow
        if size > MAX_INPUTS:
            r.fail(
                path + ("shape",),
                f"the shape {format_shape(dims)} is {size:,} inputs",
                expected=f"at most {MAX_INPUTS:,} inputs",
            )
        if len(dims) == 2:
            dims = (1,) + dims
        return tuple(f"x{i + 1}" for i in range(size)), dims
    r.fail(path, f"found {describe(raw)}", expected="a count, a list of names, or {shape: [c, h, w]}")


def _check_symbol_names(r: Reader, input_names: tuple[str, ...], layers: Sequence[LayerSpec]) -> None:
    """Unit names and weight labels (dense layers) are distinct across the network and from the inputs' names."""
    named = names_are_symbols(input_names)
    seen: dict[str, str] = {name: "an input" for name in input_names} if named else {}
    for ls in layers:
        for key in ("unit_names", "labels"):
            names = ls.options.get(key)
            if not names:
                continue
            flat = [n for row in names for n in row] if key == "labels" else list(names)
            for n in flat:
                if n in seen:
                    r.fail(
                        ("layers", ls.index, "units" if key == "unit_names" else "labels"),
                        f"the name {n!r} is used twice (also {seen[n]})",
                        expected="a distinct name for every unit and every weight",
                    )
                seen[n] = f"in layer {ls.name!r}"


def _given_shape(value: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A map of one channel may be given as a plain matrix: then that is the shape to read."""
    if len(shape) == 3 and shape[0] == 1 and _shape_of(value) == shape[1:]:
        return shape[1:]
    return shape


def _read_data(r: Reader, raw: Any, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> list[Sample]:
    if not isinstance(raw, list):
        r.fail(("data",), f"found {describe(raw)}", expected="a list of {input: ..., target: ...}")
    if len(raw) > MAX_SAMPLES:
        r.fail(("data",), f"found {len(raw):,} samples", expected=f"at most {MAX_SAMPLES:,}")
    per_sample = math.prod(in_shape) + math.prod(out_shape)
    if len(raw) * per_sample > MAX_DATA_VALUES:
        r.fail(
            ("data",),
            f"{len(raw):,} samples of {math.prod(in_shape):,} inputs and {math.prod(out_shape):,} outputs are "
            f"{len(raw) * per_sample:,} values",
            expected=f"at most {MAX_DATA_VALUES:,} values in the data (samples × (inputs + outputs))",
        )
    samples = []
    for i, item in enumerate(raw):
        path = ("data", i)
        m = r.mapping(item, path, ("input", "target"), required=("input",))
        x = r.array(m["input"], path + ("input",), _given_shape(m["input"], in_shape), "an input").reshape(in_shape)
        if "target" in m:
            t = r.array(
                m["target"],
                path + ("target",),
                _given_shape(m["target"], out_shape),
                "a target with one value per output",
            ).reshape(out_shape)
        else:
            t = np.full(out_shape, np.nan)
        samples.append(Sample(x, t))
    return samples


def load_network(name_or_path: str, overrides: Sequence[str] = ()) -> NetworkSpec:
    """A bundled network or a file; `overrides` are `--set KEY=VALUE` texts (see `bpexplain.overrides`)."""
    text, source = read_network_text(name_or_path)
    return parse_network(text, source, overrides)
