"""Exam variants: the structure of a network with new, hand-friendly numbers, the same bytes for the same seed.

A source network is read once (`analyse`): every number a variant may change is found in the document
by its key path, and each group of numbers (a weight or kernel tensor, a bias, the inputs of the data,
the targets) gets its rule from the source's own text: how many decimals it is written with, its range
and signs, whether it holds a zero or a whole number. A variant (`draw`) takes whole multiples of
10^-D in that range from `random.Random(seed)` -- whose `random()` sequence Python keeps the same
across versions -- writes the network back as YAML, reads it with `spec.parse_network` (so the file
is exactly what `bpexplain train` reads), and checks it with the engine's own layers: no sigmoid,
softmax or tanh output of any sample near saturation, and a training run whose numbers stay finite.
A draw that fails is drawn again from the same stream, a bounded number of times.

Variant k of `--seed S` draws from its own seed, a hash of (S, k): it does not depend on how many
variants are made, and it is written into its file.
"""

from __future__ import annotations

import copy
import hashlib
import math
import random
import re
import shlex
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

from .errors import BpexplainError, Location
from .record import Record

if TYPE_CHECKING:  # numpy and the YAML reader are imported where used: `bpexplain --help` lists this command
    import numpy as np

    from .spec import Document, NetworkSpec

VARY_KINDS = ("weights", "inputs", "targets", "learning_rate")
DEFAULT_VARY = ("weights", "inputs", "targets")
MAX_COUNT = 100  # variants in one run
MAX_VALUES = 2000  # numbers in the source network (parameters and data): a network worked by hand
MAX_DECIMALS = 6
MAX_DRAWS = 200  # draws of one variant before giving up
MAX_VALUE = 10**6  # largest magnitude of a number drawn
SATURATION = 0.01  # a sigmoid or softmax output must lie in (0.01, 0.99); a tanh output in (-0.99, 0.99)
LR_SERIES = tuple(k * 10.0**e for e in range(-5, 4) for k in (1, 2, 5))


class DrawError(BpexplainError):
    """No draw met the checks: a numerical problem of the source's ranges; exit status 1."""

    exit_code = 1


class Raw:
    """A number as it is to be written in YAML (already formatted)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __deepcopy__(self, memo: dict) -> Raw:
        return self


class Group(Record):
    """Numbers drawn by one rule: a parameter tensor, the inputs of the data, or its targets."""

    __slots__ = __match_args__ = (
        "kind",
        "label",
        "leaves",
        "decimals",
        "low",
        "high",
        "zero",
        "whole",
        "one_hot",
        "replace",
        "shape",
        "keep_dict",
    )

    def __init__(
        self,
        kind: str,
        label: str,
        leaves: tuple[tuple, ...],
        decimals: int,
        low: int,
        high: int,
        zero: bool,
        whole: bool,
        one_hot: int = 0,
        replace: tuple = (),
        shape: tuple[int, ...] = (),
        keep_dict: bool = False,
    ) -> None:
        self.kind: Final = kind  # weights, inputs or targets
        self.label: Final = label  # layers[0].weight, data inputs, data targets
        self.leaves: Final = leaves  # key paths of the numbers in the document, in reading order
        self.decimals: Final = decimals
        self.low: Final = low  # the range, in units of 10^-decimals
        self.high: Final = high
        self.zero: Final = zero  # may a number be 0
        self.whole: Final = whole  # may a number be a whole number other than 0
        # > 0: each sample's target is one-hot over this many values (leaves are per sample)
        self.one_hot: Final = one_hot
        self.replace: Final = replace  # a random parameter: the key path whose node becomes the nested list `shape`
        self.shape: Final = shape
        self.keep_dict: Final = keep_dict  # the random parameter was {init: random, trainable: ...}


class Source(Record):
    """What a variant keeps of its source network, and the rules by which it changes the rest."""

    __slots__ = __match_args__ = (
        "name",
        "doc",
        "spec",
        "groups",
        "learning_rates",
        "distinct_inputs",
        "vary",
        "decimals",
    )

    def __init__(
        self,
        name: str,
        doc: Document,
        spec: NetworkSpec,
        groups: tuple[Group, ...],
        learning_rates: tuple[float, ...],
        distinct_inputs: bool,
        vary: tuple[str, ...],
        decimals: int | None,
    ) -> None:
        self.name: Final = name  # the file name shown in messages
        self.doc: Final = doc
        self.spec: Final = spec
        self.groups: Final = groups
        self.learning_rates: Final = learning_rates  # empty unless the learning rate is varied
        self.distinct_inputs: Final = (
            distinct_inputs  # the source's samples have different inputs, so a variant's must too
        )
        self.vary: Final = vary
        self.decimals: Final = decimals  # --decimals, or None: as the source writes each group


class Variant(Record):
    """One variant: its number, its own seed, its YAML file and network, and how many draws it took."""

    __slots__ = __match_args__ = ("index", "seed", "text", "spec", "draws")

    def __init__(self, index: int, seed: int, text: str, spec: NetworkSpec, draws: int) -> None:
        self.index: Final = index  # 1-based
        self.seed: Final = seed  # the seed of its own random stream
        self.text: Final = text  # the YAML file
        self.spec: Final = spec
        self.draws: Final = draws  # how many draws it took


class _Draw(Record):
    """The numbers of one draw: by key path, the nested lists of random parameters, the learning rate."""

    __slots__ = __match_args__ = ("values", "replaced", "learning_rate")

    def __init__(self, values: dict[tuple, Raw], replaced: dict[tuple, Any], learning_rate: Raw | None) -> None:
        self.values: Final = values
        self.replaced: Final = replaced
        self.learning_rate: Final = learning_rate


# --------------------------------------------------------------------------------------------
# Reading the source


def analyse(text: str, source: str, vary: Sequence[str] = DEFAULT_VARY, decimals: int | None = None) -> Source:
    """The source network, validated, and the rule of every group of numbers a variant draws anew."""
    from .spec import parse_document, parse_network

    spec = parse_network(text, source)
    doc = parse_document(text, source)
    total = sum(p.size for p in spec.parameters().values()) + sum(s.input.size + s.target.size for s in spec.data)
    if total > MAX_VALUES:
        raise BpexplainError(
            f"the network has {total:,} numbers (parameters and data)",
            where=Location(source),
            expected=f"at most {MAX_VALUES:,} for exam variants: a network worked by hand",
        )
    if not spec.data:
        raise BpexplainError("the network has no data", where=Location(source), expected="a 'data' list to vary")
    lines = re.split(r"\r\n|[\r\n\x85\u2028\u2029]", text)
    groups: list[Group] = []
    if "weights" in vary:
        groups.extend(_parameter_groups(doc, spec, lines, decimals))
    if "inputs" in vary:
        leaves = [leaf for i in range(len(spec.data)) for leaf in _leaves(doc.data, ("data", i, "input"))]
        groups.append(_group("inputs", "data inputs", doc, lines, leaves, decimals))
    if "targets" in vary:
        group = _target_group(doc, spec, lines, decimals)
        if group is not None:
            groups.append(group)
    rates: tuple[float, ...] = ()
    if "learning_rate" in vary:
        lr = spec.learning_rate
        rates = tuple(r for r in LR_SERIES if lr / 2.5 * (1 - 1e-9) <= r <= lr * 2.5 * (1 + 1e-9)) or (lr,)
    inputs = [s.input.tobytes() for s in spec.data]
    return Source(
        source,
        doc,
        spec,
        tuple(g for g in groups if g.leaves or g.replace),
        rates,
        len(set(inputs)) == len(inputs),
        tuple(vary),
        decimals,
    )


def _parameter_groups(doc: Document, spec: NetworkSpec, lines: list[str], decimals: int | None) -> Iterator[Group]:
    import numpy as np

    from .layers import parameter_key

    init = doc.data.get("init") if isinstance(doc.data.get("init"), dict) else {}
    init_decimals = init.get("decimals", 2) if isinstance(init.get("decimals", 2), int) else 2
    for ls in spec.layers:
        raw = doc.data["layers"][ls.index]
        for pname, param in ls.params.items():
            key = parameter_key(ls.type, pname)
            path = ("layers", ls.index, key)
            label = f"layers[{ls.index}].{key}"
            node = raw.get(key)
            if param.origin in ("zeros", "default") or not np.any(param.value):
                continue  # zeros stay zero (the source's choice of no bias), a kind's default (γ = 1) stays too
            if param.origin == "given":
                base = path + ("value",) if isinstance(node, dict) else path
                yield _group("weights", label, doc, lines, list(_leaves(doc.data, base)), decimals)
            else:  # random: drawn anew, and written out as numbers
                d = min(init_decimals, MAX_DECIMALS) if decimals is None else decimals
                values = [float(v) for v in param.value.ravel()]
                low, high, zero, whole = _rule(values, d)
                yield Group(
                    "weights", label, (), d, low, high, zero, whole, 0, path, param.value.shape, isinstance(node, dict)
                )


def _target_group(doc: Document, spec: NetworkSpec, lines: list[str], decimals: int | None) -> Group | None:
    import numpy as np

    samples = [i for i, s in enumerate(spec.data) if not np.isnan(s.target).any()]
    if not samples:
        return None
    leaves = [leaf for i in samples for leaf in _leaves(doc.data, ("data", i, "target"))]
    activation = spec.layers[-1].activation
    if activation == "softmax":
        d = max(_token_decimals(doc, lines, leaf, _at(doc.data, leaf)) for leaf in leaves)
        d = min(d, MAX_DECIMALS) if decimals is None else decimals
        size = int(spec.data[samples[0]].target.size)
        return Group("targets", "data targets", tuple(leaves), d, 0, 1, True, True, one_hot=size)
    group = _group("targets", "data targets", doc, lines, leaves, decimals)
    if activation in ("sigmoid", "tanh"):  # strictly inside the activation's range, with at least one decimal
        d = max(group.decimals, 1)
        top = 10**d - 1
        values = [float(_at(doc.data, leaf)) for leaf in leaves]
        zero = activation == "tanh" and any(v == 0 for v in values)
        return Group(
            "targets", "data targets", tuple(leaves), d, 1 if activation == "sigmoid" else -top, top, zero, False
        )
    return group


def _group(kind: str, label: str, doc: Document, lines: list[str], leaves: list[tuple], decimals: int | None) -> Group:
    values = [_at(doc.data, leaf) for leaf in leaves]
    if decimals is None:
        d = max((_token_decimals(doc, lines, leaf, v) for leaf, v in zip(leaves, values)), default=0)
        d = min(d, MAX_DECIMALS)
    else:
        d = decimals
    low, high, zero, whole = _rule([float(v) for v in values], d)
    return Group(kind, label, tuple(leaves), d, low, high, zero, whole)


def _rule(values: Sequence[float], d: int) -> tuple[int, int, bool, bool]:
    """The range in units of 10^-d (the source's signs, up to its largest magnitude), and whether a number may
    be zero or whole (only if the source has one); widened until at least two numbers may be drawn."""
    scale = 10**d
    top = max((abs(v) for v in values), default=0.0)
    m = max(1, min(math.ceil(round(top * scale, 6)), MAX_VALUE * scale))
    zero = any(v == 0 for v in values)
    whole = d == 0 or any(v != 0 and float(v).is_integer() for v in values)
    positive = any(v > 0 for v in values)
    negative = any(v < 0 for v in values)
    while True:
        low = -m if negative or not positive else 0
        high = m if positive or not negative else 0
        if _choices(low, high, d, zero, whole) >= 2 or m >= MAX_VALUE * scale:
            return low, high, zero, whole
        m += 1


def _choices(low: int, high: int, d: int, zero: bool, whole: bool) -> int:
    return sum(1 for n in range(low, min(high, low + 10) + 1) if _allowed(n, d, zero, whole))


def _allowed(n: int, d: int, zero: bool, whole: bool) -> bool:
    if n == 0:
        return zero
    return whole or n % 10**d != 0


def _leaves(data: Any, path: tuple) -> Iterator[tuple]:
    node = _at(data, path)
    if isinstance(node, list):
        for i in range(len(node)):
            yield from _leaves(data, path + (i,))
    else:
        yield path


def _at(data: Any, path: tuple) -> Any:
    for part in path:
        data = data[part]
    return data


_NUMBER = re.compile(r"[-+]?(?:[0-9][0-9_]*)?(?:\.([0-9_]*))?(?:[eE]([-+]?[0-9]+))?")


def _token_decimals(doc: Document, lines: list[str], path: tuple, value: Any) -> int:
    """The decimals a number is written with in the source's text (0.10 has two), or else in its value."""
    where = doc.where(path)
    if where.line is not None and where.column is not None and 1 <= where.line <= len(lines):
        m = _NUMBER.match(lines[where.line - 1], where.column - 1)
        if m and m.group(0) and any(c.isdigit() for c in m.group(0)):
            digits = (m.group(1) or "").replace("_", "")
            return max(0, len(digits) - int(m.group(2) or 0))
    text = repr(float(value))
    m = _NUMBER.fullmatch(text)
    return max(0, len((m.group(1) or "").rstrip("0")) - int(m.group(2) or 0)) if m else 0


# --------------------------------------------------------------------------------------------
# Drawing a variant


def variant_seed(seed: int, index: int) -> int:
    """The seed of variant `index` (1-based) of a run with `seed`: nine digits of a hash of both."""
    digest = hashlib.sha256(f"bpexplain variants {seed} {index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10**9


def draw(
    source: Source,
    index: int,
    seed: int,
    check_run: Callable[[NetworkSpec], None] | None = None,
) -> Variant:
    """Variant `index` of `seed`: drawn, written, read back and checked; drawn again while a check fails.

    `check_run` may run the variant's answer key (raising BpexplainError when its numbers overflow)."""
    from .spec import parse_network

    own = variant_seed(seed, index)
    rng = random.Random(own)
    header = "".join(f"# {_comment(line)}\n" for line in _header(source, index, seed, own))
    problem = ""
    for attempt in range(1, MAX_DRAWS + 1):
        d = _draw_once(source, rng)
        text = header + write_yaml(_apply(source, d, index))
        spec = parse_network(text, f"variant-{index}.yaml")
        problem = check(spec, source.distinct_inputs and "inputs" in source.vary)
        if not problem and check_run is not None:
            try:
                check_run(spec)
            except BpexplainError as exc:
                problem = exc.message
        if not problem:
            return Variant(index, own, text, spec, attempt)
    raise DrawError(
        f"variant {index} (seed {own}): none of {MAX_DRAWS} draws met the checks; the last: {problem}",
        where=Location(source.name),
        expected="numbers in ranges where the activations do not saturate: try other --decimals, --vary or --seed",
    )


def _header(source: Source, index: int, seed: int, own: int) -> list[str]:
    decimals = "as the source writes each" if source.decimals is None else str(source.decimals)
    options = "" if source.vary == DEFAULT_VARY else f" --vary {','.join(source.vary)}"
    options += "" if source.decimals is None else f" --decimals {source.decimals}"
    return [
        f"bpexplain variants: variant {index} of {source.name}, --seed {seed}; this variant's own seed: {own}",
        f"varied: {', '.join(source.vary)} (decimals: {decimals}); everything else is the source's",
        f"variant {index} of --seed {seed} is the same whatever --count: "
        f"bpexplain variants {shlex.quote(source.name)} --seed {seed} --count {index}{options}",
    ]


def _draw_once(source: Source, rng: random.Random) -> _Draw:
    values: dict[tuple, Raw] = {}
    replaced: dict[tuple, Any] = {}
    for g in source.groups:
        if g.one_hot:
            per = len(g.leaves) // g.one_hot
            for s in range(per):
                hot = _pick(rng, g.one_hot)
                for j in range(g.one_hot):
                    values[g.leaves[s * g.one_hot + j]] = Raw(_format(10**g.decimals if j == hot else 0, g.decimals))
        elif g.replace:
            flat = [Raw(_format(_number(rng, g), g.decimals)) for _ in range(math.prod(g.shape))]
            replaced[g.replace] = _nest(flat, g.shape)
        else:
            for leaf in g.leaves:
                values[leaf] = Raw(_format(_number(rng, g), g.decimals))
    learning_rate = None
    if source.learning_rates:
        learning_rate = Raw(_format_float(source.learning_rates[_pick(rng, len(source.learning_rates))]))
    return _Draw(values, replaced, learning_rate)


def _pick(rng: random.Random, n: int) -> int:
    return min(int(rng.random() * n), n - 1)


def _number(rng: random.Random, g: Group) -> int:
    """A whole multiple of 10^-decimals in [low, high] (in those units) that the group allows."""
    span = g.high - g.low + 1
    for _ in range(1000):
        n = g.low + _pick(rng, span)
        if _allowed(n, g.decimals, g.zero, g.whole):
            return n
    raise DrawError(f"{g.label}: no number in its range may be drawn", expected="a range with allowed numbers")


def _nest(flat: list[Any], shape: tuple[int, ...]) -> Any:
    if len(shape) <= 1:
        return flat if shape else flat[0]
    step = math.prod(shape[1:])
    return [_nest(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


def _format(n: int, d: int) -> str:
    """n·10^-d with at most d decimals (0.5, not 0.50), and a whole number as 1.0 when d > 0."""
    if d == 0:
        return str(n)
    sign = "-" if n < 0 else ""
    whole, frac = divmod(abs(n), 10**d)
    digits = f"{frac:0{d}d}".rstrip("0") or "0"
    return f"{sign}{whole}.{digits}"


def _format_float(x: float) -> str:
    text = repr(float(x))
    if "e" in text and "." not in text:
        text = text.replace("e", ".0e")
    return text


def _apply(source: Source, d: _Draw, index: int) -> Any:
    data = copy.deepcopy(source.doc.data)
    for path, raw in d.values.items():
        _at(data, path[:-1])[path[-1]] = raw
    for path, nested in d.replaced.items():
        parent = _at(data, path[:-1])
        node = parent.get(path[-1])
        if isinstance(node, dict):
            node = {k: v for k, v in node.items() if k != "init"}
            node["value"] = nested
            parent[path[-1]] = node
        else:
            parent[path[-1]] = nested
    if d.learning_rate is not None:
        data["learning_rate"] = d.learning_rate
    name = f"{source.spec.name}-v{index:02d}"
    return {"name": name, **{k: v for k, v in data.items() if k != "name"}}


# --------------------------------------------------------------------------------------------
# The checks


def check(spec: NetworkSpec, distinct_inputs: bool) -> str:
    """What is wrong with a variant's numbers, or "" when nothing is: the forward pass of every sample through
    the engine's layers, with every sigmoid and softmax output in (0.01, 0.99) and every tanh output in
    (-0.99, 0.99); and different inputs for different samples when the source has them."""
    import numpy as np

    from .engine import forward_pass
    from .errors import NumericalError

    try:
        values = forward_pass(spec)
    except NumericalError:
        return "a value overflows"
    for n, vals in enumerate(values, 1):
        for v, ls in zip(vals, spec.layers):
            problem = _saturated(ls.activation, v.y)
            if problem:
                return f"sample {n}: {ls.name}'s output {problem}"
        if not np.all(np.isfinite(vals[-1].y)):
            return f"sample {n}: a value is not finite"
    if distinct_inputs:
        inputs = [s.input.tobytes() for s in spec.data]
        if len(set(inputs)) != len(inputs):
            return "two samples have the same input"
    return ""


def _saturated(activation: str, y: np.ndarray) -> str:
    import numpy as np

    if activation in ("sigmoid", "softmax"):
        low, high = SATURATION, 1 - SATURATION
    elif activation == "tanh":
        low, high = -1 + SATURATION, 1 - SATURATION
    else:
        return ""
    bad = (y <= low) | (y >= high)
    if np.any(bad):
        return f"{float(y[bad].flat[0]):.6g} is outside ({low:g}, {high:g}) ({activation})"
    return ""


# --------------------------------------------------------------------------------------------
# Writing YAML


def write_yaml(data: Any) -> str:
    """The network as block-style YAML: mappings one key a line, numbers in flow lists (a matrix row a line)."""
    return "".join(line + "\n" for line in _block(data, 0))


def _block(value: Any, indent: int) -> Iterator[str]:
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            yield pad + "{}"
        for key, item in value.items():
            head = f"{pad}{_scalar(key)}:"
            if _inline(item):
                yield from _with_head(head + " ", item)
            else:
                yield head
                yield from _block(item, indent + 2)
    elif isinstance(value, list) and not _inline(value):
        for item in value:
            lines = list(_block(item, indent + 2))
            if _inline(item):
                yield from _with_head(pad + "- ", item)
            else:
                yield pad + "- " + lines[0][indent + 2 :]
                yield from lines[1:]
    else:
        yield from _with_head(pad, value)


def _inline(value: Any) -> bool:
    if isinstance(value, dict):
        return not value
    if isinstance(value, list):
        return all(_inline(v) and not isinstance(v, dict) for v in value)
    return True


def _with_head(head: str, value: Any) -> Iterator[str]:
    """`head` followed by the flow form of `value`; a matrix (a list of lists) has a row a line, aligned."""
    if isinstance(value, list) and value and all(isinstance(v, list) and v for v in value):
        rows = [_flow(v) for v in value]
        column = " " * (len(head) + 1)
        for i, row in enumerate(rows):
            first = head + "[" if i == 0 else column
            yield first + row + ("," if i < len(rows) - 1 else "]")
    else:
        yield head + _flow(value)


def _flow(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_scalar(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    return _scalar(value)


_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


def _scalar(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _format_float(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED:
        return text
    return '"' + "".join(_escape(c) for c in text) + '"'


def _escape(c: str) -> str:
    if c in '"\\':
        return "\\" + c
    if c in "\n\t":
        return "\\n" if c == "\n" else "\\t"
    if c.isprintable() and c not in "\x85\u2028\u2029\ufeff":
        return c
    code = ord(c)
    return f"\\x{code:02x}" if code < 0x100 else (f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")


def _comment(text: str) -> str:
    """One line of a YAML comment: a name in it cannot end the comment or the line."""
    return "".join(c if c.isprintable() and c not in "\x85\u2028\u2029\ufeff" else f"\\u{ord(c):04x}" for c in text)
