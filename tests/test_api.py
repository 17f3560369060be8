"""The Python API for notebooks: bpexplain.train(...) returns a Trace that shows itself as rich output in a
terminal, as Markdown in Jupyter, and as JSON through to_dict()."""

from __future__ import annotations

import io
import json

import pytest
from click.testing import CliRunner
from rich.console import Console

import bpexplain
from bpexplain.cli import cli
from bpexplain.trace import Trace


def test_train_returns_a_trace() -> None:
    t = bpexplain.train("lecture", steps=2)
    assert isinstance(t, Trace)
    assert len(t.steps) == 2 and len(t.losses) == 2
    assert repr(t).startswith("<Trace train lecture: 2 step(s)")
    assert t.losses[1] < t.losses[0]


def test_the_trace_renders_in_a_rich_console() -> None:
    buffer = io.StringIO()
    Console(file=buffer, width=120, force_terminal=False).print(bpexplain.train("lecture", steps=2))
    out = buffer.getvalue()
    assert "Step 2" in out and "σ(0.37)" in out and "0.5915" in out
    assert "Summary: 2 step(s)" in out


def test_repr_markdown_is_the_markdown_format() -> None:
    t = bpexplain.train("lecture", steps=1)
    md = t._repr_markdown_()
    assert md.startswith("# bpexplain train: lecture")
    assert md == t.render("markdown")
    assert "$e_1 = w_{(x_1)1} \\cdot x_1 + w_{(x_2)1} \\cdot x_2 = 0.1 \\cdot 0.5 + 0.4 \\cdot 0.8 = 0.37$" in md


def test_to_dict_is_the_cli_json() -> None:
    d = bpexplain.train("xor", steps=2).to_dict()
    result = CliRunner().invoke(cli, ["train", "xor", "--steps", "2", "--format", "json"])
    assert result.exit_code == 0
    assert d == json.loads(result.stdout)
    assert d["steps"][0]["gradients"]["hidden.weight"]


def test_api_options_round_and_render_formats() -> None:
    t = bpexplain.train("lecture", steps=1, round=2)
    assert t.to_dict()["drift"][0]["value"] == "E (step 1)"
    for fmt in ("text", "markdown", "latex", "json", "html", "svg"):
        assert t.render(fmt)
    assert "\\documentclass" not in t.render("latex", body_only=True)


def test_forward_api() -> None:
    t = bpexplain.forward("xor", sample=3)
    assert t.header.settings.command == "forward"
    assert t._repr_markdown_().startswith("# bpexplain forward: xor")


def test_api_options_are_typed_keywords_checked_as_the_cli_checks_them() -> None:
    import inspect

    params = inspect.signature(bpexplain.train).parameters
    assert "command" not in params and params["notation"].default == "lecture"
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for name, p in params.items() if name != "network")
    with pytest.raises(TypeError):
        bpexplain.forward("lecture", steps=2)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="notation='Textbook'"):
        bpexplain.train("lecture", notation="Textbook")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="steps=0"):
        bpexplain.train("lecture", steps=0)
    with pytest.raises(ValueError, match="not both"):
        bpexplain.train("lecture", steps=1, epochs=1)


def test_api_equations_carry_their_step_and_print_as_the_text_trace() -> None:
    t = bpexplain.train("lecture", steps=2)
    first, last = t.equations[0], t.equations[-1]
    assert (first.step, first.phase, first.layer, str(first.symbol)) == (1, "forward", "layer1", "e_1")
    assert str(first) == "e_1 = w_(x1)1·x_1 + w_(x2)1·x_2 = 0.1·0.5 + 0.4·0.8 = 0.37"
    assert last.step == 2 and str(last.symbol) == "w'_56" and last.kind == "update"
    assert str(last) in t.render("text")
    batch = bpexplain.train("classifier", batch="full")
    assert {e.sample for e in batch.equations if e.phase == "forward"} == {1, 2, 3}


def test_detail_layer_json_and_api_carry_the_vectors_the_text_shows() -> None:
    t = bpexplain.train("lecture", detail="layer")
    values = t.to_dict()["steps"][0]["layer_values"]
    delta = next(v for v in values if v["layer"] == "layer2" and v["label"] == "δ = ∂E/∂y")
    # δ_4 = w_46·dh_6(e)/de·δ_6 = 0.6·0.2492·(-0.4719), worked in tests/test_lecture.py by hand
    assert delta["value"][0] == pytest.approx(0.6 * 0.24922 * -0.47188, abs=2e-4)
    assert "[-0.07056, 0.04704]" in t.render("text")
    assert "layer_values" not in bpexplain.train("lecture").to_dict()["steps"][0]


def test_the_api_is_listed_for_tab_completion_without_being_imported() -> None:
    import subprocess
    import sys

    code = (
        "import sys, bpexplain\nnames = dir(bpexplain)\n"
        "print(sorted(set(bpexplain.__all__) - set(names)), 'bpexplain.api' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["[]", "False"], out.stderr


def test_the_package_says_it_is_typed() -> None:
    from importlib.resources import files

    assert files("bpexplain").joinpath("py.typed").is_file()  # PEP 561; pyproject.toml ships it in the wheel
