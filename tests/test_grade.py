"""`bpexplain grade`: a class of sheets (a folder or a CSV) marked at once; unreadable sheets are rows, not crashes,
and nothing is written outside the output folder whatever the students' names."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner
from student import scaled, sheet_text, work

from bpexplain.cli import cli
from bpexplain.grading import safe_name

ENV = {"NO_COLOR": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "COLUMNS": "100"}


def run_cli(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner(env=ENV).invoke(cli, list(args))


def write_class(folder: Path) -> None:
    folder.mkdir()
    good, items = work("lecture", {}, carry_rounded=False)
    (folder / "ann.yaml").write_text(sheet_text("lecture", {}, good, items).replace('student: ""', 'student: "Ann"'))
    slip, items = work("lecture", {}, {(1, "δ_6"): scaled(-1)})
    (folder / "bob.yaml").write_text(
        sheet_text("lecture", {}, slip, items).replace('student: ""', 'student: "../../Bob"')
    )
    (folder / "carl.yaml").write_text("format: bpexplain-answers/1\nnetwork: lecture\nsteps:\n  1:\n    e_1: [\n")
    (folder / "dora.yaml").write_text("format: bpexplain-answers/1\nnetwork: /etc/hostname\nsteps: {}\n")
    # a variant network beside the sheets, named by a relative path
    (folder / "variant-7.yaml").write_text(
        (Path(__file__).parents[1] / "bpexplain" / "networks" / "lecture.yaml")
        .read_text()
        .replace("learning_rate: 0.5", "learning_rate: 0.25")
    )
    (folder / "eve.yaml").write_text(
        'format: bpexplain-answers/1\nnetwork: variant-7.yaml\nvariant: "7"\nstudent: "Eve"\n'
        "steps:\n  1:\n    w'_46: 0.6162\n"
    )


def test_a_class_folder_is_marked_into_scores_feedback_and_gradescope(tmp_path) -> None:  # type: ignore[no-untyped-def]
    write_class(tmp_path / "sheets")
    out = tmp_path / "marks"
    result = run_cli("grade", "--answers", str(tmp_path / "sheets"), "-o", str(out), "--points", "error=2")
    assert result.exit_code == 0, result.output
    with (out / "scores.csv").open(encoding="utf-8") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"Ann", "../../Bob", "carl", "dora", "Eve", "variant-7"}
    assert rows["Ann"]["score"] == rows["Ann"]["max"] and rows["Ann"]["first_error"] == ""
    assert rows["../../Bob"]["first_error"] == "step 1: δ_6"
    assert float(rows["../../Bob"]["score"]) == float(rows["../../Bob"]["max"]) - 2  # one error value, 2 points
    assert rows["carl"]["score"] == "" and "carl.yaml:6:1: YAML syntax error" in rows["carl"]["first_error"]
    assert "outside the folder" in rows["dora"]["first_error"]
    assert rows["Eve"]["variant"] == "7" and rows["Eve"]["score"] == "1"  # η = 0.25 in the variant
    # the variant file itself is not a sheet: a row with its error, not a crash
    assert rows["variant-7"]["score"] == "" and "format" in rows["variant-7"]["first_error"]
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert "feedback/Bob.txt" in files and "gradescope/Bob/results.json" in files
    assert all(not part.startswith(".") for f in files for part in f.split("/"))
    assert not (tmp_path / "Bob.txt").exists() and not (tmp_path.parent / "Bob.txt").exists()
    feedback = (out / "feedback" / "Bob.txt").read_text("utf-8")
    assert "first error: δ_6 (step 1)" in feedback and "likely slip: the sign flipped" in feedback
    gs = json.loads((out / "gradescope" / "Bob" / "results.json").read_text("utf-8"))
    assert gs["score"] == sum(t["score"] for t in gs["tests"])
    assert {"name", "score", "max_score", "output"} <= set(gs["tests"][0])
    assert "could not be marked" in (out / "feedback" / "carl.txt").read_text("utf-8")


def test_a_csv_class(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "answers.csv"
    path.write_text(
        "student,network,options,1:e_1,1:y_1,1:delta_6,1:dE/dw_46\n"
        "Ann,lecture,,0.37,0.5915,-0.4719,-0.06493\n"
        "Bob,lecture,{steps: 1},0.37,0.6,0.4719,\n"
        "Cy,lecture,,abc,,,\n"
        '=HYPERLINK("x"),lecture,,0.37,,,\n',
        "utf-8",
    )
    out = tmp_path / "marks"
    result = run_cli("grade", "--answers", str(path), "-o", str(out))
    assert result.exit_code == 0, result.output
    with (out / "scores.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    by = {r["student"]: r for r in rows}
    assert by["Ann"]["score"] == "4" and by["Ann"]["max"] == "53"
    assert by["Bob"]["first_error"] == "step 1: δ_6"
    assert "answers.csv:4:4" in by["Cy"]["first_error"]
    assert '\'=HYPERLINK("x")' in by  # a formula is never written as one
    assert (out / "feedback" / "HYPERLINK_x.txt").exists()


def test_safe_names() -> None:
    taken: set[str] = set()
    assert safe_name("../../etc/passwd", taken) == "etc_passwd"
    assert safe_name("José Núñez", taken) == "Jose_Nunez"
    assert safe_name("", taken) == "student"
    assert safe_name("...", taken) == "student-2"
    assert safe_name("ETC_passwd", taken) == "ETC_passwd-2"  # case-insensitive file systems
    assert safe_name("a" * 500, taken) == "a" * 60
    assert safe_name("CON\x00\n", taken) == "CON"


def test_grade_needs_an_existing_source(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("grade", "--answers", str(tmp_path / "nope"), "-o", str(tmp_path / "o"))
    assert result.exit_code == 2


def test_a_hand_in_is_read_only_as_a_regular_file_inside_the_folder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    write_class(tmp_path / "sheets")
    folder = tmp_path / "sheets"
    secret = tmp_path / "secret.txt"
    secret.write_text("format: the teacher's secret line\n")
    (folder / "mallory.yaml").symlink_to(secret)  # an unzipped hand-in keeps its links
    (folder / "ann-again.yml").symlink_to("ann.yaml")  # a link inside the folder is a sheet like any other
    (folder / "gone.yaml").symlink_to(folder / "nowhere.yaml")
    os.mkfifo(folder / "pipe.yaml")  # read, it would wait for a writer for ever
    (folder / "dir.yaml").mkdir()
    out = tmp_path / "marks"
    result = run_cli("grade", "--answers", str(folder), "-o", str(out))
    assert result.exit_code == 0, result.output
    with (out / "scores.csv").open(encoding="utf-8") as f:
        listed = list(csv.DictReader(f))
    rows = {r["student"]: r for r in listed}
    assert "a link to a file outside the folder" in rows["mallory"]["first_error"]
    anns = [r for r in listed if r["student"] == "Ann"]  # ann.yaml, and ann-again.yml linked to it
    assert len(anns) == 2 and anns[0]["score"] == anns[1]["score"] != ""
    assert "a link to no readable file" in rows["gone"]["first_error"]
    assert "not a regular file" in rows["pipe"]["first_error"] and "not a regular file" in rows["dir"]["first_error"]
    everything = "".join(p.read_text("utf-8") for p in out.rglob("*") if p.is_file())
    assert "secret" not in everything
