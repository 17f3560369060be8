"""Convolutional networks: gradients against finite differences, convolution against independent
computations, the homework network's maps worked out separately, and bad input reported with its place."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import assert_gradients_match, evaluate, spec_from

from bpexplain.api import train
from bpexplain.cli import cli
from bpexplain.errors import BpexplainError
from bpexplain.spec import load_network
from bpexplain.trace import Block

IMAGE = [
    [0.5, -1.0, 2.0, 0.0, 1.5],
    [1.0, 0.3, -0.7, 2.2, 0.1],
    [-0.4, 1.1, 0.9, -1.3, 0.6],
    [0.8, -0.2, 1.4, 0.5, -0.9],
    [0.2, 0.7, -0.6, 1.2, 0.4],
]


def conv_net(conv: str, pool: str = "", act: str = "tanh", target: str = "[0.3, -0.2]") -> str:
    pool_layer = f"\n  - {{name: pool, type: {pool}, size: 2}}" if pool else ""
    return f"""
inputs: {{shape: [5, 5]}}
layers:
  - {{name: conv, type: conv2d, activation: {act}, {conv}}}{pool_layer}
  - {{name: flat, type: flatten}}
  - {{name: out, type: dense, units: 2, activation: identity, weight: random, bias: [0.1, -0.1]}}
init: {{seed: 3, decimals: 3}}
loss: mse
learning_rate: 0.1
data:
  - {{input: {IMAGE}, target: {target}}}
"""


K3 = "kernel: [[0.2, -0.5, 0.1], [0.4, 0.3, -0.2], [-0.1, 0.6, 0.25]]"
CONFIGS = {
    "flip": f"{K3}, flip: true",
    "no-flip": f"{K3}, flip: false",
    "stride-2": f"{K3}, stride: 2",
    "padding-1": f"{K3}, padding: 1",
    "dilation-2": f"{K3}, dilation: 2",
    "all-at-once": f"{K3}, stride: 2, padding: 1, dilation: 2, flip: false",
    "bias": f"{K3}, bias: [0.15]",
    "channels-out-3": "kernel_size: 2, channels: 3, kernel: random, bias: random",
    "rectangular": "kernel: [[0.3, -0.2, 0.5]], stride: [1, 2], padding: [0, 1]",
}


@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize("notation", ["lecture", "textbook"])
def test_conv_gradients_equal_finite_differences(name: str, notation: str) -> None:
    assert_gradients_match(spec_from(conv_net(CONFIGS[name])), notation=notation)


@pytest.mark.parametrize("pool", ["maxpool", "avgpool"])
@pytest.mark.parametrize("act", ["relu", "sigmoid", "identity"])
def test_conv_pool_dense_chains(pool: str, act: str) -> None:
    assert_gradients_match(spec_from(conv_net("kernel: [[0.5, -0.3], [0.2, 0.8]], bias: [0.05]", pool, act)))


def test_several_input_and_output_channels_with_a_separate_activation_layer() -> None:
    rng = np.random.default_rng(1)
    image = np.round(rng.uniform(-1, 1, (2, 5, 5)), 2).tolist()
    spec = spec_from(f"""
inputs: {{shape: [2, 5, 5]}}
layers:
  - {{name: c1, type: conv2d, kernel_size: 2, channels: 3, kernel: random, bias: random, padding: 1, stride: 2}}
  - {{name: a1, type: activation, activation: {{name: leaky_relu, slope: 0.1}}}}
  - {{name: c2, type: conv2d, kernel_size: [2, 1], channels: 2, kernel: random, flip: false}}
  - {{name: p, type: avgpool, size: [1, 2], stride: 1}}
  - {{name: f, type: flatten}}
  - {{name: out, type: dense, units: 2, weight: random, activation: softmax}}
init: {{seed: 7, decimals: 3}}
loss: cross_entropy
data: [{{input: {image}, target: [0, 1]}}]
""")
    assert spec.layers[0].out_shape == (3, 3, 3)
    assert spec.layers[2].params["weight"].value.shape == (2, 3, 2, 1)
    assert_gradients_match(spec)
    assert_gradients_match(spec, notation="textbook")


def test_max_pool_tie_goes_to_the_first_in_reading_order() -> None:
    # columns 1 and 2 of the input are equal, so O(1,1) = O(1,2) whatever the kernel: a lasting tie.
    spec = spec_from("""
inputs: {shape: [3, 4]}
layers:
  - {name: c, type: conv2d, kernel: [[0.5, -0.25], [0.75, 1.0]], bias: [0.1]}
  - {name: p, type: maxpool, size: [1, 2], stride: 1}
  - {name: f, type: flatten}
  - {name: out, type: dense, weight: [[0.3, -0.6, 0.2, 0.4]]}
loss: mse
data: [{input: [[1, 1, 1, 0], [2, 2, 2, -1], [0, 0, 3, 1]], target: [1]}]
""")
    assert_gradients_match(spec)
    t = train(spec, steps=1)
    forward = [b for b in t.events if isinstance(b, Block) and b.phase == "forward" and b.layer == "p"][0]
    assert "a tie of 2: the first in reading order wins" in forward.equations[0].note
    arrays = {a.label.split(" ")[0]: a.value for b in t.events if isinstance(b, Block) for a in b.arrays}
    o1, d_o1, d_p1 = arrays["O1"][0], arrays["δO1"][0], arrays["δP1"][0]
    assert o1[0, 0] == o1[0, 1]  # the tie
    assert d_o1[0, 0] == d_p1[0, 0] != 0  # the first of the tied pair takes the whole error
    # the second of the pair gets only what it wins in the next window (O1(1,2) against O1(1,3))
    assert d_o1[0, 1] == (d_p1[0, 1] if o1[0, 1] >= o1[0, 2] else 0.0)


def _flip_conv(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """A true 2-D convolution ("valid" part) from 1-D numpy.convolve along rows, summed over kernel rows."""
    kh, kw = kernel.shape
    h, w = image.shape
    out = np.zeros((h - kh + 1, w - kw + 1))
    for i in range(h - kh + 1):
        for m in range(kh):
            # row i + kh - 1 - m of the image meets kernel row m, each reversed by np.convolve
            out[i] += np.convolve(image[i + kh - 1 - m], kernel[m], mode="valid")
    return out


def _cross_correlate(image: np.ndarray, kernel: np.ndarray, stride: int = 1, pad: int = 0) -> np.ndarray:
    """A plain loop, written apart from the engine: O(i,j) = Σ_m Σ_n I(i·s+m, j·s+n)·K(m,n)."""
    image = np.pad(image, pad)
    kh, kw = kernel.shape
    rows = (image.shape[0] - kh) // stride + 1
    cols = (image.shape[1] - kw) // stride + 1
    out = np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            total = 0.0
            for m in range(kh):
                for n in range(kw):
                    total += image[i * stride + m, j * stride + n] * kernel[m, n]
            out[i, j] = total
    return out


def _forward_maps(text: str) -> list[np.ndarray]:
    t = train(spec_from(text), steps=1)
    return [b.arrays for b in t.events if isinstance(b, Block) and b.phase == "forward"]  # type: ignore[misc]


@pytest.mark.parametrize("flip", [True, False])
def test_convolution_matches_an_independent_computation(flip: bool) -> None:
    kernel = np.array([[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0]])
    image = np.array(IMAGE)
    spec = spec_from(f"""
inputs: {{shape: [5, 5]}}
layers: [{{name: c, type: conv2d, kernel: {kernel.tolist()}, flip: {str(flip).lower()}}}]
data: [{{input: {IMAGE}}}]
""")
    from bpexplain.engine import build_layers

    layer = build_layers(spec)[0]
    got = layer.pre_activation({"weight": kernel}, image[None])[0]
    want = _flip_conv(image, kernel) if flip else _cross_correlate(image, kernel)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    if flip:  # and the flip is exactly cross-correlation with the rotated kernel
        np.testing.assert_allclose(got, _cross_correlate(image, kernel[::-1, ::-1]), rtol=1e-12)


def test_stride_and_padding_match_the_plain_loop() -> None:
    kernel = np.array([[0.5, -1.0], [2.0, 0.25]])
    spec = spec_from(f"""
inputs: {{shape: [5, 5]}}
layers: [{{name: c, type: conv2d, kernel: {kernel.tolist()}, flip: false, stride: 2, padding: 1}}]
data: [{{input: {IMAGE}}}]
""")
    from bpexplain.engine import build_layers

    got = build_layers(spec)[0].pre_activation({"weight": kernel}, np.array(IMAGE)[None])[0]
    np.testing.assert_allclose(got, _cross_correlate(np.array(IMAGE), kernel, stride=2, pad=1), rtol=1e-12)
    assert spec.layers[0].out_shape == (1, 3, 3)  # ⌊(5 + 2 − 1 − 1)/2⌋ + 1


# ---- the homework network, worked out by hand -------------------------------------------------------

HW_INPUT = np.array(
    [
        [1, 0, 2, 1, 0, 1],
        [0, 1, 1, 0, 2, 0],
        [2, 1, 0, 1, 1, 1],
        [1, 0, 1, 2, 0, 1],
        [0, 2, 1, 0, 1, 0],
        [1, 1, 0, 1, 0, 2],
    ],
    dtype=float,
)
# Conv1 with K1 = [[1, 0], [-1, 2]] flipped slides [[2, -1], [0, 1]]: O1(1,1) = 1·2 + 0·(−1) + 0·0 + 1·1 = 3
HW_O1 = np.array([[3, -1, 3, 4, -1], [0, 1, 3, -1, 5], [3, 3, 1, 1, 2], [4, 0, 0, 5, -1], [-1, 3, 3, -1, 4]])
# Conv2 with K2 = [[-1, 0], [1, 1]] flipped slides [[1, 1], [0, -1]]: O2(1,1) = 3 + (−1) + 0 − 1 = 1
HW_O2 = np.array([[1, -1, 8, -2], [-2, 3, 1, 2], [6, 4, -3, 4], [1, -3, 6, 0]])
HW_P = np.array([[3, 8], [6, 6]])


def test_homework_network_maps_and_output() -> None:
    assert np.array_equal(_cross_correlate(HW_INPUT, np.array([[2, -1], [0, 1]])), HW_O1)
    assert np.array_equal(_cross_correlate(HW_O1.astype(float), np.array([[1, 1], [0, -1]])), HW_O2)
    t = train("homework-cnn", steps=1)
    maps = {a.label: a.value for b in t.events if isinstance(b, Block) and b.phase == "forward" for a in b.arrays}
    np.testing.assert_array_equal(maps["O1"][0], HW_O1)
    np.testing.assert_array_equal(maps["O2"][0], HW_O2)
    np.testing.assert_array_equal(maps["P1"][0], HW_P)
    np.testing.assert_array_equal(maps["K1 rotated 180°"], [[2, -1], [0, 1]])
    # fc: 0.1·3 − 0.1·8 + 0.2·6 + 0.1·6 = 1.3; E = ½(1.3 − 1)² = 0.045
    step = t.steps[0]
    assert step.outputs["fc"] == pytest.approx([1.3])
    assert step.loss == pytest.approx(0.045)
    # back: δ = 0.3; δP1 = 0.3·w = [[0.03, −0.03], [0.06, 0.03]] routed to the winners of O2
    grads = step.gradients
    assert grads is not None
    np.testing.assert_allclose(grads["fc.weight"], [[0.9, 2.4, 1.8, 1.8]])
    d_o2 = np.zeros((4, 4))
    d_o2[1, 1], d_o2[0, 2], d_o2[2, 0], d_o2[3, 2] = 0.03, -0.03, 0.06, 0.03
    # the kernel's gradient, by hand: ∂E/∂K2(m,n) = Σ δO2(i,j)·O1 at the element K2(m,n) met
    want_k2 = _cross_correlate(HW_O1.astype(float), d_o2)[::-1, ::-1]
    np.testing.assert_allclose(grads["conv2.weight"], want_k2, atol=1e-12)
    assert_gradients_match(load_network("homework-cnn"))


def test_homework_equations_evaluate_to_their_values() -> None:
    t = train("homework-cnn", steps=1)
    for eq in t.equations:
        assert evaluate(eq.substituted) == pytest.approx(eq.value, abs=1e-9), eq


def test_conv_text_shows_the_convention_the_flipped_kernel_and_the_size_formula() -> None:
    out = CliRunner().invoke(cli, ["train", "homework-cnn", "--format", "text"]).output
    assert "convolution: flipped (true convolution" in out
    assert (
        "O1(1,1) = I(1,1)·K1(2,2) + I(1,2)·K1(2,1) + I(2,1)·K1(1,2) + I(2,2)·K1(1,1) = 1·2 + 0·(-1) + 0·0 + "
        "1·1 = 3" in out
    )
    assert "rows: ⌊(6 + 2·0 − 1·(2−1) − 1)/1⌋ + 1 = 5" in out
    assert "K1 rotated 180° =" in out
    assert "P1(1,2) = max(O2(1,3), O2(1,4), O2(2,3), O2(2,4)) = max(8, -2, 1, 2)  = 8" in out


def test_long_sums_are_shortened_in_text_and_json_and_kept_whole_when_asked() -> None:
    runner = CliRunner()
    text = runner.invoke(cli, ["train", "homework-cnn", "--format", "text", "--max-terms", "4"]).output
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("∂E/∂K1(1,1)"))
    assert line.count(" + ") == 2 * 4 and "…" in line  # 25 terms shown as 2 + … + 2, twice
    shortened = json.loads(runner.invoke(cli, ["train", "homework-cnn", "--format", "json"]).output)
    eq = next(e for e in shortened["steps"][0]["equations"] if e["symbol"] == "∂E/∂K1(1,1)")
    assert eq["terms"] == 25 and eq["expression"].count(" + ") == 8 and "…" in eq["expression"]
    args = ["train", "homework-cnn", "--format", "json", "--max-terms", "25"]
    doc = json.loads(runner.invoke(cli, args).output)
    eq = next(e for e in doc["steps"][0]["equations"] if e["symbol"] == "∂E/∂K1(1,1)")
    assert eq["expression"].count(" + ") == 24 and "…" not in eq["expression"] and "terms" not in eq
    layers = {layer["name"]: layer for layer in doc["network"]["layers"]}
    assert layers["conv1"]["flip"] is True and layers["conv1"]["stride"] == 1 and layers["pool"]["size"] == 2
    assert np.array(doc["steps"][0]["outputs"]["conv2"]).shape == (1, 4, 4)
    assert np.array(doc["steps"][0]["gradients"]["conv1.weight"]).shape == (2, 2)


# ---- bad input ---------------------------------------------------------------------------------------

BAD = {
    "kernel larger than the padded input": (
        "  - {name: big, type: conv2d, kernel_size: 7, kernel: random, padding: 1}",
        ["layer 'big'", "kernel 7×7", "padded input 6×6", "1×4×4"],
    ),
    "stride 0": ("  - {name: c, type: conv2d, kernel: [[1]], stride: 0}", ["stride", "found 0"]),
    "channels do not match": (
        "  - {name: c, type: conv2d, kernel: [[[[1, 2], [3, 4]]], [[[1, 2], [3, 4]]]], channels: 3}",
        ["layer 'c'", "channels is 3", "2 output channel(s)"],
    ),
}


@pytest.mark.parametrize("case", ["kernel larger than the padded input", "stride 0", "channels do not match"])
def test_bad_conv_layers_name_the_layer_shapes_and_position(case: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    layer, words = BAD[case]
    path = tmp_path / "bad.yaml"
    path.write_text(f"inputs: {{shape: [4, 4]}}\nlayers:\n{layer}\n")
    result = CliRunner().invoke(cli, ["show", str(path)])
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert line.count("\n") == 0 and f"{path}:3:" in line
    for w in words:
        assert w in line, line


def test_dense_weight_that_does_not_match_the_flattened_size(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.yaml"
    path.write_text(
        "inputs: {shape: [4, 4]}\nlayers:\n  - {name: p, type: maxpool, size: 2}\n"
        "  - {name: f, type: flatten}\n  - {name: fc, type: dense, weight: [[1, 2, 3]]}\n"
    )
    result = CliRunner().invoke(cli, ["show", str(path)])
    assert result.exit_code == 2
    assert f"{path}:5:" in result.stderr and "layers[2].weight" in result.stderr and "1×4" in result.stderr


def test_dense_right_after_a_map_asks_for_a_flatten_layer() -> None:
    with pytest.raises(BpexplainError) as err:
        spec_from("inputs: {shape: [4, 4]}\nlayers:\n  - {type: maxpool, size: 2}\n  - {type: dense, units: 2}\n")
    assert "1×2×2" in str(err.value) and "flatten" in str(err.value)


def test_a_plain_kernel_for_several_input_channels_is_refused() -> None:
    with pytest.raises(BpexplainError) as err:
        spec_from("inputs: {shape: [2, 4, 4]}\nlayers:\n  - {name: c, type: conv2d, kernel: [[1, 2], [3, 4]]}\n")
    assert "test.yaml:3:" in str(err.value) and "2×4×4 has 2" in str(err.value)


def test_every_layer_kind_is_registered_under_its_own_type_name() -> None:
    from bpexplain.layers import LAYER_TYPES, layer_class

    assert {name: layer_class(name).type_name for name in LAYER_TYPES} == {name: name for name in LAYER_TYPES}


def _homework_loss(k1: np.ndarray, k2: np.ndarray, w: np.ndarray) -> float:
    """The homework network's loss written apart from the engine: flipped convolutions, 2×2 max-pool, dense."""
    o2 = _cross_correlate(_cross_correlate(HW_INPUT, k1[::-1, ::-1]), k2[::-1, ::-1])
    pooled = o2.reshape(2, 2, 2, 2).max(axis=(1, 3))
    return 0.5 * (float(w @ pooled.ravel()) - 1.0) ** 2


def test_the_homework_network_learns_step_after_step() -> None:
    losses = [e.loss for e in train("homework-cnn", steps=12, detail="summary").steps]
    assert losses[:3] == pytest.approx([0.045, 0.0101, 0.0021], abs=5e-5)
    assert all(b < a for a, b in zip(losses, losses[1:])) and losses[-1] < 1e-8
    # plain gradient descent on _homework_loss, gradients by central differences, η = 0.01
    params = [np.array([[1.0, 0], [-1, 2]]), np.array([[-1.0, 0], [1, 1]]), np.array([0.1, -0.1, 0.2, 0.1])]
    by_hand = []
    for _ in range(3):
        by_hand.append(_homework_loss(*params))
        grads = []
        for k, p in enumerate(params):
            g = np.zeros_like(p)
            for idx in np.ndindex(p.shape):
                up, down = [q.copy() for q in params], [q.copy() for q in params]
                up[k][idx] += 1e-6
                down[k][idx] -= 1e-6
                g[idx] = (_homework_loss(*up) - _homework_loss(*down)) / 2e-6
            grads.append(g)
        params = [p - 0.01 * g for p, g in zip(params, grads, strict=True)]
    assert losses[:3] == pytest.approx(by_hand, rel=1e-6)
