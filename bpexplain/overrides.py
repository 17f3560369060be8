"""`--set KEY=VALUE`: change one value of a network file for one run, without editing the file.

An override is applied to the parsed YAML document before it is validated, so the value is checked
exactly as if it had been written in the file; an error in it names the `--set` it came from instead
of a line of the file (`error: --set learning_rate=0: learning_rate: found 0 (expected ...)`).

KEY is a path into the document: mapping keys joined by dots, list items as `[i]` (0-based, as the
paths in error messages are), and a layer by its name: `learning_rate`, `layers.hidden.weight`,
`layers[0].bias`, `data[0].input`, `init.seed`. VALUE is YAML: `0.1`, `[0.5, 0.8]`, `[[1, 0], [0, 1]]`,
`sigmoid`, `{value: [0.1], trainable: false}`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NoReturn

from .errors import BpexplainError, Location, OptionLocation
from .spec import Document, describe, format_path, parse_document

_TOKEN = re.compile(r"\[(\d+)\]|\.?([^.\[\]]+)")


class Override:
    """One --set: the text as given, its key path (names still unresolved), and the YAML value."""

    def __init__(self, text: str, key: str, steps: tuple[str | int, ...], value: Any) -> None:
        self.text = text
        self.key = key
        self.steps = steps
        self.value = value

    @property
    def label(self) -> str:
        return f"--set {self.text}"


def parse_override(text: str) -> Override:
    """`KEY=VALUE` -> an Override; a malformed one is a BpexplainError naming it."""
    where = OptionLocation(f"--set {text}")
    key, sep, value_text = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise BpexplainError("no KEY=VALUE", where=where, expected="KEY=VALUE, such as learning_rate=0.1")
    steps: list[str | int] = []
    pos = 0
    while pos < len(key):
        m = _TOKEN.match(key, pos)
        if m is None or (m.group(2) is not None and m.group(0).startswith(".") and pos == 0):
            raise BpexplainError(
                f"cannot read the key {key!r} at {key[pos:]!r}",
                where=where,
                expected="names joined by dots and [i] for a list item, such as layers.hidden.weight or data[0].input",
            )
        if m.group(1) is not None:
            steps.append(int(m.group(1)))
        else:
            name = m.group(2).strip()
            steps.append(int(name) if name.isdigit() else name)
        pos = m.end()
    if not value_text.strip():
        raise BpexplainError(f"no value after '{key}='", where=where, expected="a YAML value, such as 0.1 or [1, 2]")
    try:
        value = parse_document(value_text, "--set").data
    except BpexplainError as exc:  # the value is one line: its YAML error needs no line and column
        raise BpexplainError(exc.message, where=where, path=key, expected=exc.expected) from None
    return Override(text, key, tuple(steps), value)


class OverriddenDocument(Document):
    """A document with some values replaced: errors at or below them name the --set, not the file."""

    def __init__(self, doc: Document, replaced: list[tuple[tuple, str]]) -> None:
        super().__init__(doc.source, doc.data, doc._marks, doc._key_marks)
        self.replaced = replaced  # (resolved path, "--set KEY=VALUE"), the later ones win

    def where(self, path: tuple, key: bool = False) -> Location:
        for target, label in reversed(self.replaced):
            if path[: len(target)] == target:
                return OptionLocation(label)
        return super().where(path, key)


def apply_overrides(doc: Document, texts: Sequence[str]) -> Document:
    """The document with every `KEY=VALUE` of `texts` applied, in order."""
    replaced: list[tuple[tuple, str]] = []
    data = doc.data
    for text in texts:
        ov = parse_override(text)
        path = _resolve(data, ov)
        data = _assign(data, path, ov.value)
        replaced.append((path, ov.label))
    doc.data = data
    return OverriddenDocument(doc, replaced)


def _resolve(data: Any, ov: Override) -> tuple:
    """The key path of an override with layer names turned into indices: ('layers', 1, 'weight')."""
    path: list[str | int] = []
    node = data
    for i, step in enumerate(ov.steps):
        last = i == len(ov.steps) - 1
        here = format_path(path) or "the document"
        if isinstance(node, list):
            if isinstance(step, str):
                index = _layer_index(node, step) if path == ["layers"] else None
                if index is None:
                    if path == ["layers"]:
                        names = ", ".join(_layer_name(item, k) for k, item in enumerate(node))
                        _fail(ov, f"no layer named {step!r}", f"a layer name ({names}) or an index such as layers[0]")
                    _fail(ov, f"{here} is a list, and {step!r} is not an index", "[i], such as data[0]")
                step = index
            if not 0 <= step < len(node):
                _fail(ov, f"{here} has {len(node)} item(s), so there is no [{step}]", f"[0] to [{len(node) - 1}]")
            path.append(step)
            node = node[step]
        elif isinstance(node, dict) or node is None:
            if isinstance(step, int):
                _fail(ov, f"{here} is {describe(node)}, not a list", "a key name here")
            path.append(step)
            node = (node or {}).get(step) if not last else None
        else:
            _fail(ov, f"{here} is {describe(node)}, which has no {step!r}", "a key path into the network file")
    return tuple(path)


def _layer_name(item: Any, index: int) -> str:
    name = item.get("name") if isinstance(item, dict) else None
    return name if isinstance(name, str) else f"layer{index + 1}"  # the name spec.py gives an unnamed layer


def _layer_index(layers: list, name: str) -> int | None:
    for k, item in enumerate(layers):
        if _layer_name(item, k) == name:
            return k
    return None


def _assign(node: Any, path: tuple, value: Any) -> Any:
    """`node` with the value at `path` replaced (mappings made on the way where none were)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(node, list):
        node[head] = _assign(node[head], rest, value)
        return node
    node = node if isinstance(node, dict) else {}
    node[head] = _assign(node.get(head), rest, value)
    return node


def _fail(ov: Override, message: str, expected: str) -> NoReturn:
    raise BpexplainError(message, where=OptionLocation(ov.label), path=ov.key, expected=expected)
