"""YAML -> a validated, frozen network description. The only module that reads YAML.

The document is composed into YAML nodes first, so that every value keeps the line and column it
came from; every validation error names that position, the key path (`layers[1].weight`), what
was found and what was expected. Layer-specific keys are validated by the layer's own module
(`bpexplain.layers`), so a new layer type brings its own rules.
"""

from __future__ import annotations

import datetime
import math
import os
import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, NoReturn

import numpy as np
import yaml

from .errors import BpexplainError, Location
from .functions import LOSSES
from .limits import (
    MAX_CONNECTIONS,
    MAX_DATA_VALUES,
    MAX_DECIMALS,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_INPUTS,
    MAX_NODES,
    MAX_PARAMETERS,
    MAX_SAMPLES,
    MAX_SEED,
    MAX_SIZE,
    MAX_UNITS,
)
from .record import Record


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
    )

    def __init__(
        self,
        name: str,
        type: str,
        index: int,  # 0-based position in the network
        in_shape: tuple[int, ...],
        out_shape: tuple[int, ...],
        params: Mapping[str, Param],  # "weight", "bias", in a fixed order
        activation: str = "identity",
        slope: float = 0.01,  # leaky_relu only
        options: Mapping[str, Any] | None = None,  # layer-type-specific settings
        where: Location | None = None,
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

    @property
    def units(self) -> int:
        return int(np.prod(self.out_shape))


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
# Reading YAML with positions


class Document:
    """The parsed document plus the position of every node, addressed by key path."""

    def __init__(
        self, source: str, data: Any, marks: dict[tuple, tuple[int, int]], key_marks: dict[tuple, tuple[int, int]]
    ) -> None:
        self.source = source
        self.data = data
        self._marks = marks
        self._key_marks = key_marks

    def where(self, path: tuple, key: bool = False) -> Location:
        marks = self._key_marks if key else self._marks
        probe = path
        while probe not in marks and probe:
            probe = probe[:-1]
        line, col = marks.get(probe, (0, 0))
        return Location(self.source, line + 1, col + 1)

    def fail(self, path: tuple, message: str, expected: str | None = None, key: bool = False) -> NoReturn:
        raise BpexplainError(message, where=self.where(path, key), path=format_path(path), expected=expected)


def format_path(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _walk(node: yaml.Node, path: tuple, marks: dict, key_marks: dict, budget: list[int], depth: int) -> None:
    budget[0] -= 1
    if budget[0] < 0:
        raise BpexplainError(
            f"the document has more than {MAX_NODES} values (or aliases that expand to that many)",
            expected="a network description of a reasonable size",
        )
    if depth > MAX_DEPTH:
        raise BpexplainError(
            f"the document is nested more than {MAX_DEPTH} levels deep",
            where=Location("", node.start_mark.line + 1, node.start_mark.column + 1),
        )
    marks[path] = (node.start_mark.line, node.start_mark.column)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.start_mark)
            key_marks[path + (key,)] = (key_node.start_mark.line, key_node.start_mark.column)
            _walk(value_node, path + (key,), marks, key_marks, budget, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), marks, key_marks, budget, depth + 1)


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader (libyaml's when present), refusing a key that appears twice in one mapping.

    A merge key (`<<: *defaults`) is YAML's way to share keys between mappings: its keys come first
    and the mapping's own keys override them. Keys are checked as written, before the merge, which
    rewrites the mapping in place (hence the set of mappings already checked)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._checked: set[int] = set()

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        self._check_keys(node)
        super().flatten_mapping(node)  # type: ignore[no-untyped-call]

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:  # type: ignore[override]
        self._check_keys(node)
        return super().construct_mapping(node, deep=deep)

    def _check_keys(self, node: yaml.MappingNode) -> None:
        if id(node) in self._checked:
            return
        self._checked.add(id(node))
        seen: set = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                key: Any = "<<"
            else:
                key = self.construct_object(key_node)  # type: ignore[no-untyped-call]
            if isinstance(key, (list, dict)):
                raise yaml.constructor.ConstructorError(
                    None, None, f"a key that is a {'list' if isinstance(key, list) else 'mapping'}", key_node.start_mark
                )
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)


_SCALAR_KINDS = {
    "tag:yaml.org,2002:null": "null",
    "tag:yaml.org,2002:bool": "true or false",
    "tag:yaml.org,2002:int": "a whole number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:binary": "base64 data",
    "tag:yaml.org,2002:timestamp": "a date",
    "tag:yaml.org,2002:str": "text",
}


def _checked_scalar(construct: Any, kind: str) -> Any:
    """A scalar constructor whose bad value (`!!int abc`, `!!timestamp 2001-13-99`, `!!binary %%%`, an
    integer of more digits than Python converts) is a YAML error at the node, not a Python exception."""

    def checked(loader: Any, node: yaml.Node) -> Any:
        try:
            return construct(loader, node)
        except (ValueError, TypeError, OverflowError):  # binascii.Error is a ValueError
            value = str(node.value)
            shown = repr(value if len(value) <= 40 else value[:37] + "...")
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"{shown} cannot be read as {kind} ({node.tag.replace('tag:yaml.org,2002:', '!!')})",
                node.start_mark,
            ) from None

    return checked


for _tag, _kind in _SCALAR_KINDS.items():
    _UniqueKeyLoader.add_constructor(_tag, _checked_scalar(_UniqueKeyLoader.yaml_constructors[_tag], _kind))

# YAML 1.1 reads 1e-3 (no dot) as text; students write it as a number, so read it as one.
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789")
)


def parse_document(text: str, source: str) -> Document:
    try:
        loader = _UniqueKeyLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                raise BpexplainError(
                    "the file is empty",
                    where=Location(source, 1, 1),
                    expected="a YAML mapping with name, inputs, layers, ...",
                )
            marks: dict = {}
            key_marks: dict = {}
            try:
                _walk(node, (), marks, key_marks, [MAX_NODES], 0)
            except BpexplainError as exc:
                raise BpexplainError(
                    exc.message,
                    where=Location(
                        source, exc.where.line if exc.where else None, exc.where.column if exc.where else None
                    ),
                    expected=exc.expected,
                ) from None
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.constructor.ConstructorError as exc:  # well-formed YAML that is not plain data
        mark = exc.problem_mark or exc.context_mark
        where = Location(source, mark.line + 1, mark.column + 1) if mark else Location(source)
        raise BpexplainError(
            f"YAML error: {exc.problem}",
            where=where,
            expected="plain YAML: mappings, lists, numbers and text, each key once",
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(source, mark.line + 1, mark.column + 1) if mark else Location(source)
        problem = exc.problem or exc.context or "invalid YAML"
        cm = exc.context_mark
        if exc.context and cm is not None and mark is not None and (cm.line, cm.column) != (mark.line, mark.column):
            problem += f" ({exc.context} at line {cm.line + 1}, column {cm.column + 1})"
        raise BpexplainError(f"YAML syntax error: {problem}", where=where) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, such as a control character
        pos = exc.position
        where = Location(source, text.count("\n", 0, pos) + 1, pos - text.rfind("\n", 0, pos))
        char = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        raise BpexplainError(
            f"YAML error: the character {char} is not allowed ({exc.reason})", where=where, expected="printable text"
        ) from None
    except yaml.YAMLError as exc:
        raise BpexplainError(f"YAML error: {' '.join(str(exc).split())}", where=Location(source)) from None
    except RecursionError:
        raise BpexplainError("the document is nested too deeply", where=Location(source)) from None
    return Document(source, data, marks, key_marks)


# --------------------------------------------------------------------------------------------
# Text from the file is data: shown as written, never able to act on a terminal or a document

# C0 and C1 controls (ESC, BEL, CR, NUL, ...), DEL, the bidirectional overrides, embeddings, isolates
# and marks (which reorder what a reader sees), and the Unicode line and paragraph separators
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_CONTROL_NAMES = {0x00: "NUL", 0x07: "BEL", 0x08: "BACKSPACE", 0x09: "TAB", 0x0A: "LINE FEED", 0x0D: "CARRIAGE RETURN"}
_CONTROL_NAMES |= {0x1B: "ESCAPE", 0x7F: "DELETE", 0x9B: "CSI"}
FREE_TEXT = ("title", "description")  # where a line break or tab is folded into a space
_FOLD = re.compile("[ ]*[\t\n][ \t\n]*")
_FREE = tuple((key,) for key in FREE_TEXT)


def check_text(doc: Document) -> None:
    """Refuse a control character in any string of the document, key or value, naming where it is.

    Tabs and line breaks of a free-text `title` or `description` (a `>` or `|` block) are left for
    `fold_text`; everywhere else they are refused too."""

    def walk(value: Any, path: tuple) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str):
                    _refuse_control(doc, path + (key,), key, "a key", key=True)
                walk(item, path + (key,))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, path + (i,))
        elif isinstance(value, str):
            _refuse_control(doc, path, value, "the text", allowed="\t\n" if path in _FREE else "")

    walk(doc.data, ())


def _refuse_control(doc: Document, path: tuple, text: str, what: str, key: bool = False, allowed: str = "") -> None:
    m = next((m for m in _CONTROL.finditer(text) if m.group() not in allowed), None)
    if m is None:
        return
    import unicodedata

    code = ord(m.group())
    name = _CONTROL_NAMES.get(code) or unicodedata.name(m.group(), "a control character")
    raise BpexplainError(
        f"found the control character U+{code:04X} ({name}) at character {m.start() + 1} of {what}",
        where=doc.where(path, key=key),
        path=format_path(path[:-1] if key else path),  # a key is never repeated raw
        expected="printable text: names and titles are shown as written, without control characters",
    )


def fold_text(text: str) -> str:
    """A free-text title or description on one line: each run of tabs and line breaks is one space."""
    return _FOLD.sub(" ", text.strip("\t\n"))


# --------------------------------------------------------------------------------------------
# Finding a network by short name or path


_NETWORKS = Path(__file__).with_name("networks")  # shipped as package data beside this module


def _close_matches(word: str, options: Sequence[str], n: int = 1) -> list[str]:
    import difflib  # only when there is a mistake to explain: it is slow to import

    return difflib.get_close_matches(word, options, n=n)


def bundled_names() -> list[str]:
    folder = _NETWORKS
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def read_network_text(name_or_path: str) -> tuple[str, str]:
    """The YAML text and the name to show in messages, for a bundled short name or a file path."""
    if not name_or_path.strip():
        raise BpexplainError(
            "NET is empty", expected=f"a bundled network's name ({', '.join(bundled_names())}) or a YAML file's path"
        )
    path = Path(name_or_path)
    looks_like_path = path.suffix in (".yaml", ".yml") or "/" in name_or_path or path.exists()
    if not looks_like_path:
        if name_or_path in bundled_names():
            text = (_NETWORKS / f"{name_or_path}.yaml").read_text("utf-8")
            return text, f"{name_or_path}.yaml"
        close = _close_matches(name_or_path, bundled_names(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise BpexplainError(
            f"no bundled network or file named {name_or_path!r}{hint}",
            where=Location(name_or_path),
            expected="a path to a .yaml file or one of: " + ", ".join(bundled_names()),
        )
    try:
        info = path.stat()  # a FIFO, a device or a socket would block or never end when opened: refused first
        kind = _special_kind(info.st_mode)
        if kind == "a directory":
            raise BpexplainError("is a directory", where=Location(name_or_path), expected="a YAML network file")
        if kind:
            raise BpexplainError(
                f"is {kind}, not a regular file", where=Location(name_or_path), expected="a YAML network file"
            )
        size = info.st_size
        if size > MAX_FILE_BYTES:
            raise BpexplainError(
                f"the file is {size} bytes",
                where=Location(name_or_path),
                expected=f"at most {MAX_FILE_BYTES} bytes for a network description",
            )
        with path.open("rb") as f:  # one byte past the limit at most, should the file grow meanwhile
            kind = _special_kind(os.fstat(f.fileno()).st_mode)
            if kind:  # replaced since it was looked at
                raise BpexplainError(f"is {kind}, not a regular file", where=Location(name_or_path))
            data = f.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise BpexplainError(
                f"the file is larger than {MAX_FILE_BYTES} bytes",
                where=Location(name_or_path),
                expected=f"at most {MAX_FILE_BYTES} bytes for a network description",
            )
        return data.decode("utf-8"), name_or_path
    except FileNotFoundError:
        raise BpexplainError(
            "no such file", where=Location(name_or_path), expected="a path to a YAML network file or a bundled name"
        ) from None
    except PermissionError:
        raise BpexplainError("the file cannot be read (permission denied)", where=Location(name_or_path)) from None
    except UnicodeDecodeError as exc:
        raise BpexplainError(f"the file is not UTF-8 text ({exc.reason})", where=Location(name_or_path)) from None
    except OSError as exc:
        raise BpexplainError(f"the file cannot be read ({exc.strerror})", where=Location(name_or_path)) from None


def _special_kind(mode: int) -> str:
    """What a file that is not a regular file is ("a FIFO (named pipe)", ...); "" for a regular file."""
    for test, kind in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "" if stat.S_ISREG(mode) else "an unknown kind of file"


def load_network(name_or_path: str, overrides: Sequence[str] = ()) -> NetworkSpec:
    """A bundled network or a file; `overrides` are `--set KEY=VALUE` texts (see `bpexplain.overrides`)."""
    text, source = read_network_text(name_or_path)
    return parse_network(text, source, overrides)


# --------------------------------------------------------------------------------------------
# Validation helpers shared with the layer modules


TOP_KEYS = ("name", "title", "description", "inputs", "layers", "loss", "learning_rate", "data", "seed", "init")


class Reader:
    """Typed access to the document with errors that point at the node."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc

    def fail(self, path: tuple, message: str, expected: str | None = None, key: bool = False) -> NoReturn:
        self.doc.fail(path, message, expected, key)

    def mapping(self, value: Any, path: tuple, allowed: Sequence[str], required: Sequence[str] = ()) -> dict:
        if not isinstance(value, dict):
            self.fail(path, f"found {describe(value)}", expected="a mapping of keys")
        for key in value:
            if key not in allowed:
                close = _close_matches(str(key), allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                self.fail(
                    path + (key,), f"unknown key {key!r}{hint}", key=True, expected="one of " + ", ".join(allowed)
                )
        for key in required:
            if key not in value:
                self.fail(path, f"missing key {key!r}", expected=f"{key!r} in this mapping")
        return value

    def number(self, value: Any, path: tuple, positive: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(path, f"found {describe(value)}", expected="a number")
        if not _finite(value):
            self.fail(path, f"found {_show(value)}", expected="a finite number (within ±1.8e308)")
        x = float(value)
        if positive and x <= 0:
            self.fail(path, f"found {value!r}", expected="a number greater than 0")
        return x

    def integer(self, value: Any, path: tuple, minimum: int = 0, maximum: int | None = None) -> int:
        """A whole number from `minimum` to `maximum` (a limit of `limits.py`, checked before it is used)."""
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, f"found {describe(value)}", expected=f"a whole number ≥ {minimum}")
        if value < minimum:
            self.fail(path, f"found {_show(value)}", expected=f"a whole number ≥ {minimum}")
        if maximum is not None and value > maximum:
            self.fail(path, f"found {_show(value)}", expected=f"a whole number ≤ {maximum:,}, the limit here")
        return int(value)

    def string(self, value: Any, path: tuple, choices: Sequence[str] | None = None) -> str:
        if not isinstance(value, str):
            self.fail(path, f"found {describe(value)}", expected="a string")
        if choices is not None and value not in choices:
            close = _close_matches(value, choices, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            self.fail(path, f"unknown value {value!r}{hint}", expected="one of " + ", ".join(choices))
        return value

    def boolean(self, value: Any, path: tuple) -> bool:
        if not isinstance(value, bool):
            self.fail(path, f"found {describe(value)}", expected="true or false")
        return value

    def array(self, value: Any, path: tuple, shape: tuple[int, ...], what: str = "") -> np.ndarray:
        """A nested list of numbers of exactly `shape`; `what` describes the shape in words."""
        found = _shape_of(value)
        expected = f"{what} of shape {format_shape(shape)}" if what else f"shape {format_shape(shape)}"
        if found is None:
            self._fail_elements(value, path, expected)
        if found != shape:
            self.fail(path, f"found shape {format_shape(found)}", expected=expected)
        arr = np.array(value, dtype=np.float64)
        if not np.all(np.isfinite(arr)):
            self._fail_elements(value, path, "finite numbers")
        arr.setflags(write=False)
        return arr

    def _fail_elements(self, value: Any, path: tuple, expected: str) -> NoReturn:
        for sub, leaf in _leaves(value, path):
            if isinstance(leaf, bool) or not isinstance(leaf, (int, float, list)):
                self.fail(sub, f"found {describe(leaf)}", expected="a number")
            if isinstance(leaf, (int, float)) and not isinstance(leaf, bool) and not _finite(leaf):
                self.fail(sub, f"found {_show(leaf)}", expected="a finite number (within ±1.8e308)")
        self.fail(path, "the rows are of different lengths (a ragged matrix)", expected=expected)


def _finite(value: int | float) -> bool:
    """Whether a number read from YAML is a finite float64 (a whole number of 400 digits is not)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _show(value: Any) -> str:
    """A number for a message; a whole number of many digits by its length (and never converted whole)."""
    if isinstance(value, int) and not isinstance(value, bool) and not -(10**21) < value < 10**21:
        return f"a whole number of {len(str(abs(value)))} digits"
    return repr(value)


def _leaves(value: Any, path: tuple) -> Iterable[tuple[tuple, Any]]:
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(item, path + (i,))
    else:
        yield path, value


def _shape_of(value: Any) -> tuple[int, ...] | None:
    """The shape of a regular nested list of numbers, or None when it is ragged or not numeric."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return () if _finite(value) else None
    if not isinstance(value, list) or not value:
        return (0,) if value == [] else None
    shapes = {_shape_of(v) for v in value}
    if len(shapes) != 1 or None in shapes:
        return None
    inner = shapes.pop()
    assert inner is not None
    return (len(value),) + inner


def format_shape(shape: tuple[int, ...]) -> str:
    return "×".join(str(s) for s in shape) if shape else "scalar"


def describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, (int, float)):
        shown = _show(value)
        return shown if shown.startswith("a whole") else f"the number {shown}"
    if isinstance(value, bytes):
        return "binary data (!!binary)"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return f"the date {value.isoformat()}"
    if isinstance(value, set):
        return f"a set of {len(value)}"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


class ParamInit:
    """Seeded random initialisation (Algorithm 2, line 1): uniform in ±1/√fan_in, rounded for hand work."""

    def __init__(self, seed: int, decimals: int) -> None:
        self.seed = seed
        self._rng: np.random.Generator | None = None  # made on first draw: numpy.random is slow to import
        self.decimals = decimals
        self.total = 0  # parameters of the network so far
        self.connections = 0  # products and window terms of one forward pass so far

    def count(self, reader: Reader, path: tuple, shape: tuple[int, ...]) -> None:
        """Refuse, before allocating it, a parameter that takes the network past MAX_PARAMETERS."""
        size = math.prod(shape)
        self.total += size
        if self.total > MAX_PARAMETERS:
            reader.fail(
                path,
                f"{format_shape(shape)} = {size:,} parameters bring the network to {self.total:,}",
                expected=f"at most {MAX_PARAMETERS:,} parameters in all: a network small enough to explain",
            )

    def connect(self, reader: Reader, path: tuple, units: int, terms: int) -> None:
        """Refuse, before the engine loops over them, a layer whose units × terms each (the products of a
        weighted sum, the elements of a window) take one forward pass past MAX_CONNECTIONS."""
        size = units * terms
        self.connections += size
        if self.connections > MAX_CONNECTIONS:
            reader.fail(
                path,
                f"{units:,} outputs of {terms:,} terms each bring one forward pass to {self.connections:,} terms",
                expected=f"at most {MAX_CONNECTIONS:,} in all: a network small enough to explain",
            )

    @property
    def rng(self) -> np.random.Generator:
        if self._rng is None:
            self._rng = np.random.default_rng(self.seed)
        return self._rng

    def draw(self, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
        bound = 1.0 / math.sqrt(max(fan_in, 1))
        arr = np.round(self.rng.uniform(-bound, bound, size=shape), self.decimals)
        arr = arr + 0.0  # turn -0.0 into 0.0 so that it prints as 0
        arr.setflags(write=False)
        return arr


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


def parse_network(text: str, source: str, overrides: Sequence[str] = ()) -> NetworkSpec:
    from .layers import LAYER_TYPES, layer_class  # the layer modules validate their own keys

    doc = parse_document(text, source)
    if overrides:  # --set KEY=VALUE: applied to the document, then validated as if written in the file
        from .overrides import apply_overrides

        doc = apply_overrides(doc, overrides)
    check_text(doc)
    r = Reader(doc)
    top = r.mapping(doc.data, (), TOP_KEYS, required=("inputs", "layers"))

    name = r.string(top.get("name", _CONTROL.sub("?", Path(source).stem)), ("name",))
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
    shape = input_shape
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
        names_seen[layer_name] = i
        spec = layer_class(type_name).read_spec(
            r, raw, path, i, layer_name, shape, init, is_last=(i == len(layers_raw) - 1)
        )
        units_total = sum(math.prod(ls.out_shape) for ls in layers) + math.prod(spec.out_shape)
        if units_total > MAX_UNITS:
            r.fail(
                path,
                f"the output of shape {format_shape(spec.out_shape)} brings the values of one forward pass "
                f"to {units_total:,}",
                expected=f"at most {MAX_UNITS:,}: a network small enough to explain",
            )
        layers.append(spec)
        shape = spec.out_shape

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


IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
MAX_NAME = 32  # characters of an input, unit or weight name: it becomes a symbol's index


def check_identifier(r: Reader, value: Any, path: tuple, what: str) -> str:
    """A name that becomes a symbol (an input, a unit, a weight's label): a letter, then letters, digits or _."""
    if not isinstance(value, str) or not IDENTIFIER.fullmatch(value) or len(value) > MAX_NAME:
        found = describe(value) if not isinstance(value, str) else f"the name {value!r}"
        r.fail(
            path,
            f"found {found} as {what}",
            expected=f"a name of a letter, then letters, digits or _ (at most {MAX_NAME} characters): "
            "it becomes a symbol",
        )
    return value


def names_are_symbols(names: Sequence[str]) -> bool:
    """Whether a network's input names become its symbols (i1 -> i_1): when every one is an identifier.
    Other text (`age (years)`) is kept as a label, and the inputs are written x_1, x_2, ... as by default."""
    return all(IDENTIFIER.fullmatch(n) and len(n) <= MAX_NAME for n in names)


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
