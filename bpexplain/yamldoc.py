"""YAML text -> a `Document` whose every value keeps the line and column it came from. The only module that reads YAML.

The document is composed into YAML nodes first, so that every value keeps its position; the loader refuses
a key written twice, a value that is not plain data, a document larger or deeper than limits.py allows, and
a control character in any text. The network file itself is found here too: a bundled short name or a
path, refused before it is read when it is not a regular file or is too large.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import yaml

from .errors import BpexplainError, Location
from .limits import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES

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


class _PatternOnFirstUse:
    """A pattern compiled when it is first matched: the resolver asks it only of a plain scalar that YAML's own
    int and float patterns do not read, which most files have none of (compiling it took 0.2 ms of each start-up)."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def match(self, text: str) -> re.Match[str] | None:
        return re.match(self.pattern, text)  # compiled once, then found in re's cache


# YAML 1.1 reads 1e-3 (no dot) as text; students write it as a number, so read it as one.
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    _PatternOnFirstUse(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
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
# and marks (which reorder what a reader sees), and the Unicode line and paragraph separators. Every one
# of them is a character str.isprintable refuses, so a printable text is passed without the pattern,
# which is compiled (half a millisecond) only when a text is not printable.
_CONTROL = "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]"
_CONTROL_NAMES = {0x00: "NUL", 0x07: "BEL", 0x08: "BACKSPACE", 0x09: "TAB", 0x0A: "LINE FEED", 0x0D: "CARRIAGE RETURN"}
_CONTROL_NAMES |= {0x1B: "ESCAPE", 0x7F: "DELETE", 0x9B: "CSI"}
FREE_TEXT = ("title", "description")  # where a line break or tab is folded into a space
_FOLD = "[ ]*[\t\n][ \t\n]*"  # compiled when a text has a tab or a line break to fold
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
    probe = text
    for char in allowed:
        probe = probe.replace(char, " ")
    if probe.isprintable():
        return
    m = next((m for m in re.finditer(_CONTROL, text) if m.group() not in allowed), None)
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
    text = text.strip("\t\n")
    return re.sub(_FOLD, " ", text) if "\t" in text or "\n" in text else text


def without_controls(text: str) -> str:
    """`text` with each control character (as `check_text` finds them) replaced by `?`."""
    return text if text.isprintable() else re.sub(_CONTROL, "?", text)


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
