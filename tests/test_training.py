"""Algorithm 2 as the engine runs it: the order of samples, epochs, early stopping, random initialisation."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import spec_from

import bpexplain


def samples_used(t) -> list[int]:  # type: ignore[no-untyped-def]
    from bpexplain.trace import StepStart

    return [e.samples[0] for e in t.events if isinstance(e, StepStart)]


def test_steps_cycle_through_the_data_in_file_order() -> None:
    t = bpexplain.train("xor", steps=6, detail="summary")
    assert samples_used(t) == [1, 2, 3, 4, 1, 2]


def test_shuffle_reorders_every_epoch_and_is_reproducible() -> None:
    a = samples_used(bpexplain.train("xor", epochs=3, shuffle=True, seed=1, detail="summary"))
    b = samples_used(bpexplain.train("xor", epochs=3, shuffle=True, seed=1, detail="summary"))
    assert a == b and len(a) == 12
    epochs = [a[0:4], a[4:8], a[8:12]]
    assert all(sorted(e) == [1, 2, 3, 4] for e in epochs)
    assert len({tuple(e) for e in epochs}) > 1 or epochs[0] != [1, 2, 3, 4]
    c = samples_used(bpexplain.train("xor", epochs=3, shuffle=True, seed=2, detail="summary"))
    assert a != c


def test_xor_is_learned_with_epochs() -> None:
    t = bpexplain.train("xor", epochs=2000, detail="summary")
    params = t.steps[-1].parameters
    assert params is not None

    def predict(x: list[float]) -> float:
        h = 1 / (1 + np.exp(-(params["hidden.weight"] @ np.array(x) + params["hidden.bias"])))
        return float(1 / (1 + np.exp(-(params["output.weight"] @ h + params["output.bias"])))[0])

    assert [round(predict(x)) for x in ([0, 0], [0, 1], [1, 0], [1, 1])] == [0, 1, 1, 0]


def test_until_loss_stops_at_the_end_of_the_first_epoch_below_it() -> None:
    t = bpexplain.train("xor", epochs=5000, until_loss=0.05, detail="summary")
    losses = [s.loss for s in t.steps]
    assert len(losses) % 4 == 0 and len(losses) < 20000
    assert np.mean(losses[-4:]) <= 0.05 < np.mean(losses[-8:-4])
    assert "until-loss" in t.events[-1].stopped


def test_batch_full_is_one_step_per_epoch_with_the_mean_loss() -> None:
    from bpexplain.trace import Block

    t = bpexplain.train("classifier", epochs=2, batch="full")
    assert len(t.steps) == 2
    losses = [eq.value for eq in t.equations if eq.kind == "loss"]
    assert len(losses) == 6
    assert t.steps[0].loss == pytest.approx(np.mean(losses[:3]), rel=1e-12)
    averaged = [b for b in t.events if isinstance(b, Block) and "averaged" in b.title]
    assert len(averaged) == 4


def test_omitted_weights_are_drawn_from_the_seed_and_printed() -> None:
    text = """
name: rnd
inputs: 3
seed: 7
layers:
  - {name: a, units: 4, activation: tanh, bias: random}
  - {name: b, units: 1, activation: sigmoid}
data: [{input: [1, 2, 3], target: [1]}]
"""
    first, second = spec_from(text), spec_from(text)
    w = first.layers[0].params["weight"].value
    assert w.shape == (4, 3) and np.array_equal(w, second.layers[0].params["weight"].value)
    assert np.all(np.abs(w) <= 1 / np.sqrt(3) + 0.005)
    assert np.array_equal(np.round(w, 2), w)  # two decimals, to be reproduced by hand
    assert first.layers[0].params["bias"].origin == "random"
    other = spec_from(text.replace("seed: 7", "seed: 8"))
    assert not np.array_equal(w, other.layers[0].params["weight"].value)
    out = bpexplain.forward(first).render("text")
    assert "a.weight (4×3, random)" in out and "drawn uniformly from ±1/√(fan-in) with seed 7" in out
