"""Marking a whole class: every sheet in a folder (or every row of a CSV), against the network it names.

For each student the `compare` report is written as a feedback file, plus Gradescope's autograder
`results.json`; `scores.csv` has one row per sheet. A sheet that cannot be read, or names a network
that cannot be run, is a row with its error: one student's file never stops the class. Student names
are data: every file name is sanitised and checked to stay inside the output folder, and a network
named by a sheet must be bundled or lie inside the folder the sheets are in.
"""

from __future__ import annotations

import csv
import io
import json
import re
import stat
import unicodedata
from pathlib import Path
from typing import Any, Final

from .answers import NUMBER, Answer, Sheet, parse_sheet, read_sheet_file, run_for_sheet
from .errors import BpexplainError, Location
from .marking import Report, mark
from .record import Record, replace
from .scoring import Scoring, Tolerance

MAX_CSV_BYTES = 20_000_000
MAX_NAME = 60


class Row(Record):
    """One sheet of the class: whose, which variant, from where, and its report or why it has none."""

    __slots__ = __match_args__ = ("student", "variant", "source", "report", "error")

    def __init__(
        self, student: str, variant: str, source: str, report: Report | None = None, error: str | None = None
    ) -> None:
        self.student: Final = student
        self.variant: Final = variant
        self.source: Final = source
        self.report: Final = report
        self.error: Final = error


def safe_name(name: str, taken: set[str]) -> str:
    """A file name made from a student's name: ASCII letters, digits, '.', '-', '_'; never hidden or a path."""
    ascii_ = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_).strip("._-")[:MAX_NAME] or "student"
    candidate, n = stem, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{stem}-{n}"
    taken.add(candidate.lower())
    return candidate


def _inside(base: Path, name: str) -> Path:
    path = (base / name).resolve()
    if path.parent != base.resolve():
        raise BpexplainError(f"refusing to write outside {base}: {name!r}")
    return path


def sheets_in(source: str) -> list[tuple[str, Sheet | BpexplainError, Path]]:
    """(what to call it, the sheet or why it cannot be read, the folder its network paths are relative to)."""
    path = Path(source)
    if path.is_dir():
        out: list[tuple[str, Sheet | BpexplainError, Path]] = []
        for f in sorted(p for p in path.iterdir() if p.suffix.lower() in (".yaml", ".yml")):
            try:
                _check_hand_in(f, path)
                out.append((f.stem, read_sheet_file(str(f)), path))
            except BpexplainError as exc:
                out.append((f.stem, exc, path))
        return out
    return _csv_sheets(path)


def _check_hand_in(f: Path, folder: Path) -> None:
    """A sheet in the folder is read only if it is a regular file there. A hand-in is never trusted: a link
    (unzipped archives keep them) could make the class's report show a line of any file of this machine, and
    a named pipe or a device would never end."""
    try:
        target = f.resolve(strict=True)
        mode = target.stat().st_mode
    except (OSError, RuntimeError):  # a dangling or looping link
        raise BpexplainError("a link to no readable file", where=Location(str(f)), expected=_A_SHEET) from None
    if not target.is_relative_to(folder.resolve()):
        raise BpexplainError(
            "a link to a file outside the folder of the sheets", where=Location(str(f)), expected=_A_SHEET
        )
    if not stat.S_ISREG(mode):
        raise BpexplainError("not a regular file", where=Location(str(f)), expected=_A_SHEET)


_A_SHEET = "an answer sheet: a regular file inside the folder"


def _csv_sheets(path: Path) -> list[tuple[str, Sheet | BpexplainError, Path]]:
    """A CSV with columns student, network, [variant], [options], and one column per quantity, named
    `STEP:SYMBOL` (or `STEP:sample N:SYMBOL`), such as `1:e_1` or `1:∂E/∂w_14`."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_CSV_BYTES + 1)
        if len(data) > MAX_CSV_BYTES:
            raise BpexplainError(f"the file is larger than {MAX_CSV_BYTES} bytes", where=Location(str(path)))
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BpexplainError(f"the file is not UTF-8 text ({exc.reason})", where=Location(str(path))) from None
    except OSError as exc:
        raise BpexplainError(f"the file cannot be read ({exc.strerror})", where=Location(str(path))) from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or "network" not in rows[0]:
        raise BpexplainError(
            "no header row with a 'network' column",
            where=Location(str(path), 1, 1),
            expected="columns student, network, [variant], [options], then 1:e_1, 1:y_1, ...",
        )
    header = [h.strip() for h in rows[0]]
    out: list[tuple[str, Sheet | BpexplainError, Path]] = []
    for line, cells in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        record = dict(zip(header, cells))
        name = record.get("student", "").strip() or f"row {line}"
        try:
            out.append((name, _csv_row(path, line, header, cells, record), path.parent))
        except BpexplainError as exc:
            out.append((name, exc, path.parent))
    return out


def _csv_row(path: Path, line: int, header: list[str], cells: list[str], record: dict[str, str]) -> Sheet:
    source = f"{path}:{line}"
    doc = (
        "format: bpexplain-answers/1\n"
        f"network: {json.dumps(record.get('network', '').strip(), ensure_ascii=False)}\n"
        f"options: {record.get('options', '').strip() or '{}'}\n"
        f"student: {json.dumps(record.get('student', '').strip(), ensure_ascii=False)}\n"
        f"variant: {json.dumps(record.get('variant', '').strip(), ensure_ascii=False)}\n"
        "steps: {}\n"
    )
    sheet = parse_sheet(doc, source)
    answers: list[Answer] = []
    for col, (key, cell) in enumerate(zip(header, cells), start=1):
        if key in ("student", "network", "variant", "options") or not key:
            continue
        where = Location(str(path), line, col)
        m = re.fullmatch(r"(\d{1,6}):(?:sample\s*(\d+):)?(.+)", key)
        if not m:
            raise BpexplainError(
                f"column {key!r}",
                where=Location(str(path), 1, col),
                expected="a column named STEP:SYMBOL, such as 1:e_1",
            )
        text = cell.strip()
        if text and not NUMBER.match(text):
            raise BpexplainError(f"found {text[:40]!r}", where=where, path=key, expected="a number or an empty cell")
        sample = int(m.group(2)) if m.group(2) else None
        answers.append(Answer(int(m.group(1)), sample, m.group(3).strip(), text or None, where))
    return replace(sheet, answers=tuple(answers))


def resolve_network(name: str, base: Path) -> str:
    """A bundled name, or a file inside the folder the sheets are in (a sheet is never trusted to point elsewhere)."""
    from .spec import bundled_names

    if name in bundled_names():
        return name
    path = (base / name).resolve()
    if not path.is_relative_to(base.resolve()):
        raise BpexplainError(
            f"the network {name!r} is outside the folder of the sheets",
            path="network",
            expected="a bundled network or a file beside the sheets (such as a variant file)",
        )
    return str(path)


def grade_class(source: str, outdir: str, tolerance: Tolerance, scoring: Scoring) -> list[Row]:
    from .render import compare as view

    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "feedback").mkdir(exist_ok=True)
    (out / "gradescope").mkdir(exist_ok=True)
    runs: dict[tuple[str, str], Any] = {}
    rows: list[Row] = []
    taken: set[str] = set()
    for name, sheet, base in sheets_in(source):
        if isinstance(sheet, BpexplainError):
            row = Row(name, "", name, error=sheet.line())
        else:
            row = Row(sheet.student or name, sheet.variant or Path(sheet.network).stem, sheet.source)
            try:
                network = resolve_network(sheet.network, base)
                key = (network, json.dumps(sheet.options, sort_keys=True))
                if key not in runs:
                    runs[key] = run_for_sheet(network, sheet)
                events, items = runs[key]
                marked = {(i.step, i.sample, i.symbol) for i in items}
                row = replace(row, report=mark(sheet, events, marked, tolerance, scoring))
            except BpexplainError as exc:
                row = replace(row, error=exc.line() if exc.where else f"{sheet.source}: {exc.line()}")
        rows.append(row)
        file = safe_name(row.student, taken)
        if row.report is not None:
            feedback = view.text(row.report)
        else:
            feedback = f"{row.student}: this sheet could not be marked.\nerror: {row.error}\n"
        _inside(out / "feedback", f"{file}.txt").write_text(feedback, "utf-8")
        folder = _inside(out / "gradescope", file)
        folder.mkdir(exist_ok=True)
        (folder / "results.json").write_text(json.dumps(gradescope(row), ensure_ascii=False, indent=1) + "\n", "utf-8")
    _write_scores(out / "scores.csv", rows)
    return rows


def gradescope(row: Row) -> dict[str, Any]:
    """Gradescope's autograder results: one test per quantity, the compare report as the output."""
    if row.report is None:
        return {"score": 0, "output": f"This sheet could not be marked: {row.error}", "tests": []}
    tests = []
    for a in row.report.answers:
        where = f"step {a.step}" + (f", sample {a.sample}" if a.sample is not None else "")
        output = a.verdict + (f": {a.diagnosis}" if a.diagnosis else "")
        if a.verdict in ("wrong", "follow-through") and a.substituted:
            output += f"\n{a.symbol} = {a.expression}\nwith your numbers: {a.substituted}"
        tests.append({"name": f"{where}: {a.symbol}", "score": a.points, "max_score": a.max_points, "output": output})
    first = row.report.first_error
    summary = "First error: " + (f"{first.symbol} (step {first.step})" if first else "none")
    return {"score": row.report.score, "output": summary, "tests": tests}


def _write_scores(path: Path, rows: list[Row]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "variant", "score", "max", "first_error"])
        for row in rows:
            if row.report is None:
                w.writerow([_cell(row.student), _cell(row.variant), "", "", _cell(f"not marked: {row.error}")])
                continue
            first = row.report.first_error
            where = "" if first is None else f"step {first.step}: {first.symbol}"
            w.writerow(
                [_cell(row.student), _cell(row.variant), f"{row.report.score:g}", f"{row.report.max:g}", _cell(where)]
            )


def _cell(text: str) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
