"""`train --plot`: the loss curve holds the trace's own losses, each epoch's mean, and opens as a picture."""

from __future__ import annotations

import importlib.util
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import bpexplain
from bpexplain.cli import cli
from bpexplain.engine import RunOptions, run
from bpexplain.spec import load_network

ENV = {"NO_COLOR": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "COLUMNS": "100"}
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None,
    reason="drawing needs matplotlib (pip install 'bpexplain[plot]'; the test extra installs it)",
)


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner(env=ENV).invoke(cli, list(args))


def recorded(net: str, **options: object):  # type: ignore[no-untyped-def]
    from bpexplain.plot import LossRecorder

    rec = LossRecorder(by_epoch=options.get("epochs") is not None)
    for _ in rec.watch(run(load_network(net), RunOptions(command="train", detail="summary", **options))):  # type: ignore[arg-type]
        pass
    return rec


def test_the_recorder_keeps_every_step_loss_and_each_epoch_mean() -> None:
    rec = recorded("xor", epochs=5)
    losses = bpexplain.train("xor", epochs=5, detail="summary").losses
    assert rec.losses == losses and rec.steps == list(range(1, 21))
    assert rec.epochs == [e for e in range(1, 6) for _ in range(4)]
    numbers, means, ends = rec.epoch_means()
    assert numbers == [1, 2, 3, 4, 5] and ends == [4, 8, 12, 16, 20]
    np.testing.assert_allclose(means, np.asarray(losses).reshape(5, 4).mean(axis=1), rtol=1e-14)


def test_the_figure_draws_those_numbers() -> None:
    from bpexplain.pictures import style
    from bpexplain.plot import loss_figure

    rec = recorded("xor", epochs=3)
    with style():
        fig = loss_figure(rec)
    step_line, epoch_line = fig.axes[0].lines[:2]
    assert list(step_line.get_ydata()) == rec.losses
    assert list(epoch_line.get_xdata()) == [4, 8, 12]


def test_train_plot_writes_an_svg_with_the_legend_and_the_same_bytes_twice(tmp_path: Path) -> None:
    a, b = tmp_path / "a.svg", tmp_path / "b.svg"
    first = invoke("train", "xor", "--epochs", "20", "--detail", "summary", "--plot", str(a))
    assert first.exit_code == 0, first.output
    assert "step" in first.output  # the trace is still printed
    assert invoke("train", "xor", "--epochs", "20", "--detail", "summary", "--plot", str(b)).exit_code == 0
    assert a.read_bytes() == b.read_bytes()
    texts = ["".join(el.itertext()) for el in ET.parse(a).getroot().iter() if el.tag.endswith("text")]
    assert "mean loss of the epoch" in texts and "loss of the step" in texts


def test_train_plot_png_opens(tmp_path: Path) -> None:
    from matplotlib.image import imread

    out = tmp_path / "loss.png"
    assert invoke("train", "lecture", "--steps", "5", "--detail", "summary", "--plot", str(out)).exit_code == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width, _ = imread(out).shape
    assert (width, height) == (1050, 600)  # 7 × 4 inches at 150 dpi


def test_a_bad_plot_name_is_refused_before_the_run(tmp_path: Path) -> None:
    result = invoke("train", "lecture", "--plot", str(tmp_path / "loss.pdf"))
    assert result.exit_code == 2
    assert result.stdout == ""  # nothing was run or printed
    assert "expected a name ending in .svg or .png" in result.stderr
