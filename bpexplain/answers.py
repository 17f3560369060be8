"""Answer sheets (format `bpexplain-answers/1`): a blank sheet written from a run, and a filled one read back.

A sheet names the network and the run options, then lists every quantity of the run by step (and, with
`--batch full`, by sample) under the symbol the JSON trace writes for it:

    steps:
      1:
        e_1: null          # weighted sum of neuron 1 (layer1)
        sample 1: {...}    # with --batch full: that sample's quantities; the mean and updates follow

The sheet is a file a student wrote, so it is never trusted: its size is bounded, it is only *composed*
by PyYAML (no object is ever constructed from it), aliases are counted as they expand, and every
value is kept as the text it was written as (`-0.01000` keeps its four significant digits). Every
problem is a `BpexplainError` with the line and column of the offending node.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any, Final

import yaml

from .errors import BpexplainError, Location
from .record import Record

FORMAT = "bpexplain-answers/1"
MAX_SHEET_BYTES = 2_000_000
MAX_SHEET_NODES = 200_000
MAX_SHEET_DEPTH = 16
MAX_SHEET_EQUATIONS = 100_000  # a sheet's run is held in memory to be marked: a hand computation is far smaller
SAMPLE_KEY = re.compile(r"^sample\s*(\d+)$", re.IGNORECASE)
NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
BLANKS = ("", "~", "null", "Null", "NULL")

# run options a sheet may carry, with their types; every other option of a run does not change the key
OPTION_TYPES: dict[str, Any] = {
    "steps": int,
    "epochs": int,
    "notation": ("lecture", "textbook"),
    "rule": ("exact", "slide"),
    "update_order": ("simultaneous", "sequential"),
    "batch": ("single", "full"),
    "shuffle": bool,
    "seed": int,
    "round": int,
    "step": str,
    "layer": str,
    "only": str,
}
TOP_KEYS = ("format", "network", "options", "student", "variant", "steps")


class Item(Record):
    """One quantity of a run, as a sheet lists it."""

    __slots__ = __match_args__ = ("step", "sample", "symbol", "kind", "comment")

    def __init__(self, step: int, sample: int | None, symbol: str, kind: str, comment: str) -> None:
        self.step: Final = step
        self.sample: Final = sample
        self.symbol: Final = symbol  # as the JSON trace writes it
        self.kind: Final = kind  # forward, loss, error, gradient, update
        self.comment: Final = comment


class Answer(Record):
    """One value a student wrote (or left blank), with where it is in their file."""

    __slots__ = __match_args__ = ("step", "sample", "key", "text", "where")

    def __init__(self, step: int, sample: int | None, key: str, text: str | None, where: Location) -> None:
        self.step: Final = step
        self.sample: Final = sample
        self.key: Final = key  # the key as written
        self.text: Final = text  # the value as written; None when blank
        self.where: Final = where


class Sheet(Record):
    """A student's answer sheet as read: the run it answers, who wrote it, and every value written."""

    __slots__ = __match_args__ = ("network", "options", "student", "variant", "answers", "source", "where")

    def __init__(
        self,
        network: str,
        options: dict[str, Any],
        student: str = "",
        variant: str = "",
        answers: tuple[Answer, ...] = (),
        source: str = "<sheet>",
        where: dict[str, Location] | None = None,
    ) -> None:
        self.network: Final = network
        self.options: Final = options
        self.student: Final = student
        self.variant: Final = variant
        self.answers: Final = answers
        self.source: Final = source
        self.where: Final = {} if where is None else where  # the position of each top-level key


# ------------------------------------------------------------------------------------------------
# Spellings


def loose(symbol: str) -> str:
    """The spelling a key is matched by: ASCII names for ∂, δ, η, ŷ; the prime after the base; case and
    spaces ignored; `dh_6/de` for `dh_6(e)/de`."""
    s = "".join(symbol.split()).lower()
    for uni, ascii_ in (
        ("∂", "d"),
        ("δ", "delta"),
        ("η", "eta"),
        ("ŷ", "yhat"),
        ("σ", "sigma"),
        ("−", "-"),
        ("’", "'"),
    ):
        s = s.replace(uni, ascii_)
    s = s.replace("(e)/de", "/de")
    if s.endswith("'") and s.count("'") == 1:  # w_14' -> w'_14, K1(1,1)' -> K1'(1,1)
        s = s[:-1]
        cut = min((i for i in (s.find("_"), s.find("(")) if i > 0), default=len(s))
        s = s[:cut] + "'" + s[cut:]
    return s


class KeyIndex:
    """Resolves a key as written to the symbol the trace writes, exactly or by its loose spelling."""

    def __init__(self, symbols: Iterable[str]) -> None:
        self.exact = set(symbols)
        by_loose: dict[str, list[str]] = {}
        for s in self.exact:
            by_loose.setdefault(loose(s), []).append(s)
        self.loose = {k: v[0] for k, v in by_loose.items() if len(v) == 1}

    def resolve(self, key: str) -> str | None:
        if key in self.exact:
            return key
        return self.loose.get(loose(key))


# ------------------------------------------------------------------------------------------------
# Writing a blank sheet


def _key(text: str) -> str:
    """A mapping key that YAML reads back as exactly this text."""
    try:
        if yaml.safe_load(f"{text}: null") == {text: None} and not NUMBER.match(text):
            return text
    except yaml.YAMLError:
        pass
    return json.dumps(text, ensure_ascii=False)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    plain = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", text) and text.lower() not in (
        "true",
        "false",
        "null",
        "yes",
        "no",
    )
    return text if plain else json.dumps(text, ensure_ascii=False)


def write_sheet(network: str, options: dict[str, Any], items: Iterable[Item], student: str = "") -> Iterator[str]:
    """The lines of a blank sheet for these quantities (in trace order)."""
    yield f"format: {FORMAT}\n"
    yield f"network: {_scalar(network)}\n"
    opts = ", ".join(f"{k}: {_scalar(v)}" for k, v in options.items())
    yield f"options: {{{opts}}}\n"
    yield f"student: {json.dumps(student, ensure_ascii=False)}\n"
    yield "steps:\n"
    step = sample = None
    for it in items:
        if it.step != step:
            step, sample = it.step, None
            yield f"  {it.step}:\n"
        indent = "    "
        if it.sample is not None:
            if it.sample != sample:
                sample = it.sample
                yield f"    sample {it.sample}:\n"
            indent = "      "
        elif sample is not None:
            sample = None
        yield f"{indent}{_key(it.symbol)}: null  # {it.comment}\n"


# ------------------------------------------------------------------------------------------------
# Reading a filled sheet


def read_sheet_file(path: str) -> Sheet:
    """Read and check a sheet file; every problem is a `BpexplainError` naming the file and position."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_SHEET_BYTES + 1)
    except FileNotFoundError:
        raise BpexplainError("no such file", where=Location(path), expected="an answer sheet") from None
    except IsADirectoryError:
        raise BpexplainError("is a directory", where=Location(path), expected="an answer sheet file") from None
    except OSError as exc:
        raise BpexplainError(f"the file cannot be read ({exc.strerror})", where=Location(path)) from None
    if len(data) > MAX_SHEET_BYTES:
        raise BpexplainError(
            f"the file is larger than {MAX_SHEET_BYTES} bytes",
            where=Location(path),
            expected="an answer sheet of a reasonable size",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BpexplainError(f"the file is not UTF-8 text ({exc.reason})", where=Location(path)) from None
    return parse_sheet(text, path)


def _compose(text: str, source: str) -> yaml.Node:
    try:
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(source, mark.line + 1, mark.column + 1) if mark else Location(source)
        raise BpexplainError(
            f"YAML syntax error: {exc.problem or exc.context or 'invalid YAML'}", where=where
        ) from None
    except yaml.reader.ReaderError as exc:
        pos = exc.position
        where = Location(source, text.count("\n", 0, pos) + 1, pos - text.rfind("\n", 0, pos))
        raise BpexplainError(f"YAML error: {exc.reason}", where=where, expected="printable text") from None
    except yaml.YAMLError as exc:
        raise BpexplainError(f"YAML error: {' '.join(str(exc).split())}", where=Location(source)) from None
    except RecursionError:
        raise BpexplainError("the document is nested too deeply", where=Location(source)) from None
    if node is None:
        raise BpexplainError("the file is empty", where=Location(source, 1, 1), expected=f"a sheet ({FORMAT})")
    return node


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.budget = MAX_SHEET_NODES

    def where(self, node: yaml.Node) -> Location:
        return Location(self.source, node.start_mark.line + 1, node.start_mark.column + 1)

    def fail(self, node: yaml.Node, path: str, message: str, expected: str | None = None) -> BpexplainError:
        return BpexplainError(message, where=self.where(node), path=path, expected=expected)

    def count(self, node: yaml.Node, depth: int) -> None:
        self.budget -= 1
        if self.budget < 0:
            raise self.fail(node, "", f"the sheet has more than {MAX_SHEET_NODES} values", "a sheet of one run")
        if depth > MAX_SHEET_DEPTH:
            raise self.fail(node, "", f"the sheet is nested more than {MAX_SHEET_DEPTH} levels deep")

    def mapping(self, node: yaml.Node, path: str, depth: int) -> list[tuple[str, yaml.Node, yaml.Node]]:
        self.count(node, depth)
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, path, f"found {_what(node)}", "a mapping of keys to values")
        out: list[tuple[str, yaml.Node, yaml.Node]] = []
        seen: set[str] = set()
        for k, v in node.value:
            self.count(k, depth + 1)
            if not isinstance(k, yaml.ScalarNode):
                raise self.fail(k, path, f"a key that is {_what(k)}", "plain keys")
            if k.value in seen:
                raise self.fail(k, _join(path, k.value), f"the key {k.value!r} appears twice", "each key once")
            seen.add(k.value)
            out.append((k.value, k, v))
        return out

    def scalar(self, node: yaml.Node, path: str, depth: int) -> str | None:
        """The text of a scalar as written; None for a blank (null, ~, nothing)."""
        self.count(node, depth)
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, path, f"found {_what(node)}", "a number or null")
        if not node.style and node.value in BLANKS:
            return None
        return node.value


def _what(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"{node.value[:40]!r}"


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def parse_sheet(text: str, source: str) -> Sheet:
    """A sheet from its text; the values stay as written."""
    root = _compose(text, source)
    r = _Reader(source)
    top = {k: (kn, vn) for k, kn, vn in r.mapping(root, "", 0)}
    for key, (kn, _) in top.items():
        if key not in TOP_KEYS:
            raise r.fail(kn, key, f"unknown key {key!r}", "one of " + ", ".join(TOP_KEYS))
    for key in ("format", "network", "steps"):
        if key not in top:
            raise BpexplainError(f"the sheet has no {key!r}", where=r.where(root), expected=f"a sheet ({FORMAT})")
    fmt = r.scalar(top["format"][1], "format", 1)
    if fmt != FORMAT:
        raise r.fail(top["format"][1], "format", f"found {fmt!r}", repr(FORMAT))
    network = r.scalar(top["network"][1], "network", 1)
    if not network:
        raise r.fail(top["network"][1], "network", "found nothing", "a bundled network's name or a file path")
    who = {key: r.scalar(top[key][1], key, 1) or "" if key in top else "" for key in ("student", "variant")}
    options: dict[str, Any] = {}
    if "options" in top and not (isinstance(top["options"][1], yaml.ScalarNode) and top["options"][1].value in BLANKS):
        for key, kn, vn in r.mapping(top["options"][1], "options", 1):
            options[key] = _option(r, key, kn, vn)
    answers: list[Answer] = []
    for step_text, kn, vn in r.mapping(top["steps"][1], "steps", 1):
        if not re.fullmatch(r"\d{1,6}", step_text) or int(step_text) < 1:
            raise r.fail(kn, f"steps.{step_text}", f"found {step_text!r}", "a step number (1, 2, ...)")
        step = int(step_text)
        if isinstance(vn, yaml.ScalarNode) and vn.value in BLANKS:
            continue
        for key, k2, v2 in r.mapping(vn, f"steps.{step}", 2):
            m = SAMPLE_KEY.match(key)
            if m and isinstance(v2, yaml.MappingNode):
                for key3, k3, v3 in r.mapping(v2, f"steps.{step}.{key}", 3):
                    path = f"steps.{step}.{key}.{key3}"
                    answers.append(Answer(step, int(m.group(1)), key3, _value(r, v3, path, 4), r.where(k3)))
            else:
                answers.append(Answer(step, None, key, _value(r, v2, f"steps.{step}.{key}", 3), r.where(k2)))
    where = {key: r.where(kn) for key, (kn, _) in top.items()}
    return Sheet(network, options, who["student"], who["variant"], tuple(answers), source, where)


def _value(r: _Reader, node: yaml.Node, path: str, depth: int) -> str | None:
    text = r.scalar(node, path, depth)
    if text is None:
        return None
    text = text.strip()
    if not NUMBER.match(text):
        raise r.fail(
            node, path, f"found {text[:40]!r}", "a number written in digits, such as -0.0706 or 1.5e-3, or null"
        )
    return text


def _option(r: _Reader, key: str, kn: yaml.Node, vn: yaml.Node) -> Any:
    path = f"options.{key}"
    if key not in OPTION_TYPES:
        raise r.fail(kn, path, f"unknown option {key!r}", "one of " + ", ".join(OPTION_TYPES))
    kind = OPTION_TYPES[key]
    text = r.scalar(vn, path, 2)
    if text is None:
        raise r.fail(vn, path, "found nothing", "a value")
    if kind is int:
        if not re.fullmatch(r"\d{1,7}", text):
            raise r.fail(vn, path, f"found {text[:40]!r}", "a whole number")
        return int(text)
    if kind is bool:
        if text.lower() not in ("true", "false"):
            raise r.fail(vn, path, f"found {text[:40]!r}", "true or false")
        return text.lower() == "true"
    if isinstance(kind, tuple):
        if text not in kind:
            raise r.fail(vn, path, f"found {text[:40]!r}", "one of " + ", ".join(kind))
        return text
    return text


# ------------------------------------------------------------------------------------------------
# The run a sheet is for


def run_options(options: dict[str, Any]) -> tuple[Any, Any]:
    """(RunOptions, EventFilter or None) for a sheet's options: always a full trace of a training run."""
    from .filters import EventFilter, parse_layers, parse_phases, parse_steps
    from .options import RunOptions

    run = {k: v for k, v in options.items() if k not in ("step", "layer", "only")}
    try:
        steps = parse_steps(str(options["step"])) if options.get("step") else None
        phases = parse_phases(options["only"]) if options.get("only") else None
    except ValueError as exc:
        raise BpexplainError(str(exc), path="options") from None
    layers = parse_layers([options["layer"]]) if options.get("layer") else None
    if steps and run.get("steps") is None and run.get("epochs") is None:
        run["steps"] = max(steps)
    if run.get("steps") is None and run.get("epochs") is None:
        run["steps"] = 1
    if run.get("steps") is not None and run.get("epochs") is not None:
        raise BpexplainError("give steps or epochs, not both", path="options")
    if steps and run.get("steps") is not None and max(steps) > run["steps"]:
        raise BpexplainError(f"step {max(steps)} is beyond steps {run['steps']}", path="options")
    event_filter = EventFilter(steps, layers, phases)
    return RunOptions(command="train", detail="full", **run), (event_filter if event_filter.active else None)


def run_for(network: str, options: dict[str, Any]) -> tuple[list[Any], list[Item]]:
    """Every event of the run a sheet names (unfiltered, for marking) and the quantities the sheet asks for."""
    from .engine import run
    from .limits import estimated_equations
    from .options import trace_equations
    from .spec import load_network

    opts, event_filter = run_options(options)
    spec = load_network(network)
    total, _ = estimated_equations(spec, opts, trace_equations(spec))
    if total > MAX_SHEET_EQUATIONS:
        raise BpexplainError(
            f"an answer sheet of this run would have about {total:,} values",
            path="options",
            expected=f"at most {MAX_SHEET_EQUATIONS:,}: fewer steps, or a smaller network",
        )
    events = list(run(spec, opts))
    shown = list(event_filter.apply(events)) if event_filter is not None else events
    return events, items_of(shown)


def run_for_sheet(network: str, sheet: Sheet) -> tuple[list[Any], list[Item]]:
    """`run_for` the sheet's options; an error in them is placed at the sheet's `options`."""
    try:
        return run_for(network, sheet.options)
    except BpexplainError as exc:
        if exc.where is not None:
            raise
        where = sheet.where.get("options", Location(sheet.source))
        raise BpexplainError(exc.message, where=where, path="options", expected=exc.expected) from None


def items_of(events: Iterable[Any]) -> list[Item]:
    """The quantities of a (filtered) run, in trace order, each with a comment saying what it is."""
    from .render.printer import TextPrinter
    from .trace import Block, StepStart, TraceHeader

    printer = TextPrinter(4, None)
    out: list[Item] = []
    step = 0
    notation = "lecture"
    for ev in events:
        if isinstance(ev, TraceHeader):
            notation = ev.settings.notation
        elif isinstance(ev, StepStart):
            step = ev.index
        elif isinstance(ev, Block):
            for eq in ev.equations:
                symbol = printer.doprint(eq.symbol)
                out.append(Item(step, ev.sample, symbol, eq.kind, describe(eq.symbol, symbol, ev.layer, notation)))
    return out


def describe(sym: Any, text: str, layer: str | None, notation: str) -> str:
    """A few words saying what a quantity is: 'weighted sum of neuron 1 (layer1)'."""
    from .expr import Derivative, Elem, Partial, Sym

    where = f" ({layer})" if layer else ""
    if isinstance(sym, Derivative):
        n = "".join(str(i) for i in getattr(sym.func, "indices", ()))
        return f"derivative of the activation of neuron {n} at e_{n}{where}"
    if isinstance(sym, Partial):
        wrt = text.split("/∂", 1)[-1]
        return f"gradient of the loss with respect to {wrt}{where}"
    if isinstance(sym, Sym):
        if sym.prime:
            return f"{text.replace(chr(39), '', 1)} after the update{where}"
        if isinstance(sym, Elem):
            return f"element {text} of the layer's map{where}"
        n = ",".join(str(i) for i in sym.indices)
        if sym.base == "e":
            return f"weighted sum of neuron {n}{where}"
        if sym.base == "y":
            return f"output of neuron {n}{where}"
        if sym.base == "δ":
            at = "output" if notation == "lecture" else "input"
            return f"error at the {at} of neuron {n}{where}"
        if sym.base == "E":
            return "loss" + (f" of sample {sym.superscript.strip('()')}" if sym.superscript else "")
    return f"{text}{where}"
