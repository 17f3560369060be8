"""The graph reference (tests/graph_reference.py) trusted on its own, before anything is compared with it.

Its hand-written backward passes agree with central differences for every parameter and the input, on several
random networks of every kind; its forward passes agree with the definitions written out element by element
(loops over indices, not the reference's vectorised code), and with a published worked example. Nothing here
imports bpexplain: these tests run whether or not the engine has the new kinds yet.
"""

from __future__ import annotations

import math
from pathlib import Path

import graph_reference as ref
import numpy as np
import pytest
import yaml

NETWORKS = Path(__file__).parent.parent / "bpexplain" / "networks"
SEEDS = range(5)
BUNDLED_BATCH = {
    "resnet-block": "single",
    "se-block": "single",
    "cbam": "single",
    "attention": "single",
    "batchnorm": "full",
}
BUNDLED = list(BUNDLED_BATCH)


def _check_against_differences(net: ref.Network, samples: list[int], step: int = 1) -> None:
    got = ref.run_pass(net, net.copy_values(), samples, step)
    want = ref.central_differences(net, samples, step)
    assert set(got.gradients) == set(want) == set(net.values)
    for name in want:
        np.testing.assert_allclose(got.gradients[name], want[name], rtol=1e-5, atol=1e-7, err_msg=name)
    if len(samples) == 1:  # ∂E/∂input too, which checks the first layer's input gradient
        (i,) = samples
        x, t = net.data[i]
        dx = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            plus, minus = x.copy(), x.copy()
            plus[idx] += 1e-6
            minus[idx] -= 1e-6
            dx[idx] = (
                ref.loss_of_input(net, net.values, plus, t, step, i + 1)  # type: ignore[arg-type]
                - ref.loss_of_input(net, net.values, minus, t, step, i + 1)  # type: ignore[arg-type]
            ) / 2e-6
        np.testing.assert_allclose(got.input_gradient[0], dx, rtol=1e-5, atol=1e-7, err_msg="input")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", [*ref.BUILDERS, "today", "chain", "residual"])
def test_backward_agrees_with_central_differences(kind: str, seed: int) -> None:
    others = {"today": ref.random_today, "chain": ref.random_chain, "residual": ref.random_residual}
    build = ref.BUILDERS.get(kind) or others[kind]
    net = ref.from_doc(build(np.random.default_rng([12, seed, len(kind)]), seed))
    everyone = list(range(len(net.data)))
    if kind != "batchnorm":  # one sample; batchnorm needs a batch
        _check_against_differences(net, [0])
        _check_against_differences(net, [1], step=2)  # another sample and step: other dropout masks
    _check_against_differences(net, everyone, step=3)


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_networks_backward_agrees_with_central_differences(name: str) -> None:
    net = ref.load(NETWORKS / f"{name}.yaml")
    _check_against_differences(net, list(range(len(net.data))))
    if name != "batchnorm":
        _check_against_differences(net, [0])


def test_random_networks_cover_their_variants() -> None:
    """The variants of each builder (seeds 0 to 3, as test_graph_layers uses them) reach every shape of the kind."""
    seen: dict[str, set] = {}
    for kind, build in ref.BUILDERS.items():
        for seed in range(4):
            net = ref.from_doc(build(np.random.default_rng([12, seed, len(kind)]), seed))
            layer = next(ly for ly in net.layers if ly.kind == kind or ly.activation == kind)
            shapes = tuple(len(sh) for sh in layer.in_shapes)
            seen.setdefault(kind, set()).add((shapes, tuple(sorted(layer.raw))))
    assert {sh for sh, _ in seen["add"]} == {(1, 1), (1, 1, 1), (3, 3)}
    assert {sh for sh, _ in seen["multiply"]} == {(1, 1), (3, 1), (1, 3), (3, 3)}  # either order
    assert {sh for sh, _ in seen["concat"]} == {(1, 1), (1, 1, 1), (3, 3), (3, 3, 3)}
    for kind in ("batchnorm", "layernorm"):
        assert {sh for sh, _ in seen[kind]} == {(1,), (3,)}
        assert {"gamma" in keys for _, keys in seen[kind]} == {True, False}
        assert {"eps" in keys for _, keys in seen[kind]} == {True, False}
    assert {"p" in keys for _, keys in seen["dropout"]} == {True, False}
    assert {"wo" in keys for _, keys in seen["self_attention"]} == {True, False}
    assert {"scale" in keys for _, keys in seen["self_attention"]} == {True, False}
    assert {"flip" in keys for _, keys in seen["spatial_attention"]} == {True, False}
    chains = [ref.random_chain(np.random.default_rng([12, seed, 97]), seed) for seed in range(4)]
    assert {c["loss"] for c in chains} == set(ref.LOSSES)
    assert {(c["layers"][0]["flip"], c["layers"][0]["dilation"], c["layers"][1]["type"]) for c in chains} == {
        (True, 1, "maxpool"),
        (False, 1, "avgpool"),
        (True, 2, "avgpool"),
        (False, 2, "maxpool"),
    }
    todays = [ref.random_today(np.random.default_rng([12, seed, 99]), seed) for seed in range(3)]
    assert {t["loss"] for t in todays} == set(ref.LOSSES)


# ---- forward passes against the definitions written out by index -----------------------------------------------------


def test_two_two_two_reproduces_the_published_worked_example() -> None:
    """The widely published 2-2-2 example: E = 0.298371109, w5' = 0.35891648, w1' = 0.149780716."""
    net = ref.load(NETWORKS / "two-two-two.yaml")
    (step,) = ref.train(net, 1)
    assert step.loss == pytest.approx(0.298371109, abs=1e-9)
    assert step.parameters["output.weight"][0, 0] == pytest.approx(0.35891648, abs=1e-8)
    assert step.parameters["hidden.weight"][0, 0] == pytest.approx(0.149780716, abs=1e-9)
    assert np.array_equal(step.parameters["hidden.bias"], [0.35, 0.35])  # frozen


def test_true_convolution_flips_the_kernel() -> None:
    """flip: O(i,j) = Σ_m Σ_n I(i−m, j−n)·K(m,n) over the valid range, written with loops (docs/cnn.md)."""
    rng = np.random.default_rng(1)
    x, k = rng.normal(size=(5, 6)), rng.normal(size=(2, 3))
    got = ref.conv_forward(x[None, None], k[None, None], (1, 1), (0, 0), (1, 1), True)[0, 0]
    kh, kw = k.shape
    want = np.zeros((5 - kh + 1, 6 - kw + 1))
    for i in range(want.shape[0]):
        for j in range(want.shape[1]):  # output (i, j) is the full convolution's (i + kh − 1, j + kw − 1)
            want[i, j] = sum(x[i + kh - 1 - m, j + kw - 1 - n] * k[m, n] for m in range(kh) for n in range(kw))
    np.testing.assert_allclose(got, want, rtol=1e-13)


def test_convolution_with_stride_padding_dilation_and_channels() -> None:
    rng = np.random.default_rng(2)
    x, k = rng.normal(size=(2, 5, 4)), rng.normal(size=(3, 2, 2, 3))
    s, p, d = (2, 1), (1, 2), (2, 1)
    got = ref.conv_forward(x[None], k, s, p, d, False)[0]
    xp = np.zeros((2, 5 + 2 * p[0], 4 + 2 * p[1]))
    xp[:, p[0] : p[0] + 5, p[1] : p[1] + 4] = x
    ho, wo = (5 + 2 - 2 * 1 - 1) // 2 + 1, (4 + 4 - 1 * 2 - 1) // 1 + 1
    assert got.shape == (3, ho, wo)
    for o in range(3):
        for i in range(ho):
            for j in range(wo):
                want = sum(
                    xp[c, i * s[0] + m * d[0], j * s[1] + n * d[1]] * k[o, c, m, n]
                    for c in range(2)
                    for m in range(2)
                    for n in range(3)
                )
                assert got[o, i, j] == pytest.approx(want, rel=1e-12, abs=1e-14)


def _doc(layers: list[dict], inputs: object, x: object, t: object, **kw: object) -> dict:
    return {"inputs": inputs, "layers": layers, "data": [{"input": x, "target": t}], **kw}


def test_pooling_ties_go_to_the_first_in_reading_order() -> None:
    doc = _doc(
        [{"name": "p", "type": "maxpool", "size": 2}, {"type": "flatten"}, {"name": "o", "weight": [[1, 1]]}],
        {"shape": [2, 4]},
        [[3, 3, 1, 2], [3, 0, 2, 2]],
        [0],
    )
    net = ref.from_doc(doc)
    res = ref.run_pass(net, net.values, [0], 1)
    assert res.outputs["p"].tolist() == [[[[3, 2]]]]
    # E = ½(5 − 0)²; ∂E/∂y = 5 reaches only the first 3 (row 1, col 1) and the first 2 (row 1, col 4)
    assert res.input_gradient[0, 0].tolist() == [[5, 0, 0, 5], [0, 0, 0, 0]]


def test_global_pools_and_their_ties() -> None:
    x = [[[1, 4], [4, 0]], [[2, 2], [-1, 3]]]
    for kind, want, grad in (
        ("global_avgpool", [2.25, 1.5], [[[0.25] * 2] * 2, [[0.25] * 2] * 2]),
        ("global_maxpool", [4, 3], [[[0, 1], [0, 0]], [[0, 0], [0, 1]]]),
    ):
        net = ref.from_doc(
            _doc(
                [{"name": "g", "type": kind}, {"name": "o", "weight": [[1, 1]]}],
                {"shape": [2, 2, 2]},
                x,
                [sum(want) - 1],
            )
        )
        res = ref.run_pass(net, net.values, [0], 1)
        assert res.outputs["g"][0].tolist() == want
        assert res.input_gradient[0].tolist() == grad  # ∂E/∂y = 1


def test_batchnorm_and_layernorm_by_their_formulas() -> None:
    xs = [[1.0, 2.0], [3.0, -1.0], [0.5, 0.0]]
    doc = {
        "inputs": 2,
        "layers": [{"name": "bn", "type": "batchnorm", "gamma": [2, 0.5], "beta": [0.1, -0.3]}],
        "data": [{"input": x, "target": [0, 0]} for x in xs],
    }
    net = ref.from_doc(doc)
    got = ref.run_pass(net, net.values, [0, 1, 2], 1).outputs["bn"]
    for f, (g, b) in enumerate(((2, 0.1), (0.5, -0.3))):
        col = [x[f] for x in xs]
        mu = sum(col) / 3
        var = sum((v - mu) ** 2 for v in col) / 3
        for n in range(3):
            assert got[n, f] == pytest.approx(g * (col[n] - mu) / math.sqrt(var + 1e-5) + b, rel=1e-13)
    # a map: statistics over the batch and the positions of each channel
    maps = np.arange(16, dtype=float).reshape(2, 2, 2, 2) ** 1.5
    doc = {
        "inputs": {"shape": [2, 2, 2]},
        "layers": [{"name": "bn", "type": "batchnorm", "eps": 0.1}],
        "data": [{"input": m.tolist(), "target": [0] * 8} for m in maps],
    }
    net = ref.from_doc(doc)
    got = ref.run_pass(net, net.values, [0, 1], 1).outputs["bn"]
    for c in range(2):
        vals = maps[:, c].ravel()
        want = (maps[:, c] - vals.mean()) / math.sqrt(vals.var() + 0.1)
        np.testing.assert_allclose(got[:, c], want, rtol=1e-13)
    # layernorm: per sample over all its values
    doc = {
        "inputs": 3,
        "layers": [{"name": "ln", "type": "layernorm", "beta": [1, 2, 3]}],
        "data": [{"input": [1, 2, 6], "target": [0, 0, 0]}],
    }
    net = ref.from_doc(doc)
    got = ref.run_pass(net, net.values, [0], 1).outputs["ln"][0]
    var = ((1 - 3) ** 2 + (2 - 3) ** 2 + (6 - 3) ** 2) / 3
    np.testing.assert_allclose(got, [(v - 3) / math.sqrt(var + 1e-5) + b for v, b in ((1, 1), (2, 2), (6, 3))])


def test_dropout_follows_the_rule() -> None:
    doc = {
        "inputs": 4,
        "seed": 7,
        "layers": [{"name": "h", "weight": np.eye(4).tolist()}, {"name": "d", "type": "dropout", "p": 0.25}],
        "data": [{"input": [1, 2, 3, 4], "target": [0] * 4}, {"input": [5, 6, 7, 8], "target": [0] * 4}],
    }
    net = ref.from_doc(doc)
    res = ref.run_pass(net, net.values, [0, 1], 3)
    for n, x in ((1, [1, 2, 3, 4]), (2, [5, 6, 7, 8])):
        keep = np.random.default_rng([7, 3, n, 1]).random((4,)) >= 0.25
        assert res.masks["d"][n - 1].tolist() == keep.astype(int).tolist()
        np.testing.assert_array_equal(res.outputs["d"][n - 1], np.array(x) * keep / 0.75)
    off, _ = ref.forward(net, net.values, np.array([[1.0, 2, 3, 4]]), ref.Context(training=False))
    assert off["d"].tolist() == [[1, 2, 3, 4]]


def test_self_attention_by_loops() -> None:
    rng = np.random.default_rng(3)
    x, wq, wk, wv, wo = (rng.normal(size=s) for s in ((3, 4), (4, 2), (4, 2), (4, 3), (3, 2)))
    for scale, with_wo in ((True, False), (False, True)):
        layer = {"type": "self_attention", "wq": wq.tolist(), "wk": wk.tolist(), "wv": wv.tolist(), "scale": scale}
        if with_wo:
            layer["wo"] = wo.tolist()
        net = ref.from_doc(_doc([layer], {"shape": [3, 4]}, x.tolist(), [0] * (2 if with_wo else 3) * 3))
        got = ref.run_pass(net, net.values, [0], 1).outputs["layer1"][0, 0]
        c = 1 / math.sqrt(2) if scale else 1.0
        q = [[sum(x[t, d] * wq[d, j] for d in range(4)) for j in range(2)] for t in range(3)]
        k = [[sum(x[t, d] * wk[d, j] for d in range(4)) for j in range(2)] for t in range(3)]
        v = [[sum(x[t, d] * wv[d, j] for d in range(4)) for j in range(3)] for t in range(3)]
        for t in range(3):
            s = [c * sum(q[t][j] * k[u][j] for j in range(2)) for u in range(3)]
            a = [math.exp(si) / sum(math.exp(sj) for sj in s) for si in s]
            o = [sum(a[u] * v[u][j] for u in range(3)) for j in range(3)]
            want = [sum(o[j] * wo[j, m] for j in range(3)) for m in range(2)] if with_wo else o
            np.testing.assert_allclose(got[t], want, rtol=1e-12)


def test_spatial_attention_by_loops() -> None:
    rng = np.random.default_rng(4)
    x, k = rng.normal(size=(3, 3, 4)), rng.normal(size=(2, 3, 3))
    for flip in (True, False):
        net = ref.from_doc(
            _doc(
                [{"name": "sa", "type": "spatial_attention", "kernel": k.tolist(), "flip": flip}],
                {"shape": [3, 3, 4]},
                x.tolist(),
                [0] * 36,
            )
        )
        got = ref.run_pass(net, net.values, [0], 1).outputs["sa"][0]
        stack = np.zeros((2, 5, 6))  # mean and max maps, zero-padded by k//2 = 1
        stack[0, 1:4, 1:5] = x.mean(axis=0)
        stack[1, 1:4, 1:5] = x.max(axis=0)
        kk = k[:, ::-1, ::-1] if flip else k
        for i in range(3):
            for j in range(4):
                z = sum(stack[c, i + m, j + n] * kk[c, m, n] for c in range(2) for m in range(3) for n in range(3))
                m_ij = 1 / (1 + math.exp(-z))
                np.testing.assert_allclose(got[:, i, j], x[:, i, j] * m_ij, rtol=1e-12)


def test_multiply_broadcasts_by_channel_and_by_position_in_either_order() -> None:
    x = np.arange(12, dtype=float).reshape(3, 2, 2)
    doc = {
        "inputs": {"shape": [3, 2, 2]},
        "layers": [
            {"name": "g", "type": "global_avgpool"},
            {"name": "m1", "type": "multiply", "inputs": ["g", "input"]},
            {"name": "pos", "type": "conv2d", "kernel": [[[[1.0]], [[0.0]], [[0.0]]]], "inputs": ["input"]},
            {"name": "m2", "type": "multiply", "inputs": ["m1", "pos"]},
        ],
        "data": [{"input": x.tolist(), "target": [0] * 12}],
    }
    net = ref.from_doc(doc)
    out = ref.run_pass(net, net.values, [0], 1).outputs
    means = x.mean(axis=(1, 2))
    np.testing.assert_allclose(out["m1"][0], x * means[:, None, None])
    np.testing.assert_allclose(out["m2"][0], x * means[:, None, None] * x[0][None])


def test_activations_and_losses_by_their_formulas() -> None:
    e = np.array([[-1.5, 0.0, 0.3, 2.0]])
    assert ref.activate("gelu", e)[0, 3] == pytest.approx(2.0 * 0.9772498680518208, rel=1e-13)  # 2·Φ(2)
    assert ref.activate("gelu", e)[0, 0] == pytest.approx(-1.5 * 0.06680720126885807, rel=1e-12)
    assert ref.activate("leaky_relu", e, 0.1)[0].tolist() == [-0.15000000000000002, 0.0, 0.3, 2.0]
    assert ref.activate("relu", e)[0].tolist() == [0, 0, 0.3, 2.0]
    sm = ref.activate("softmax", e)[0]
    assert sm == pytest.approx(np.exp(e[0]) / np.exp(e[0]).sum(), rel=1e-14)
    # derivatives against central differences, elementwise and softmax's Jacobian
    g = np.array([[0.3, -1.0, 2.0, 0.5]])
    for name in ("sigmoid", "tanh", "gelu", "softmax", "identity"):
        y = ref.activate(name, e)
        got = ref.activate_backward(name, e, y, g)
        want = np.zeros_like(e)
        for i in range(e.shape[1]):
            d = np.zeros_like(e)
            d[0, i] = 1e-6
            want[0, i] = ((ref.activate(name, e + d) - ref.activate(name, e - d)) * g).sum() / 2e-6
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9, err_msg=name)
    y, t = np.array([[0.2, 0.7, 0.1]]), np.array([[0.0, 1.0, 0.0]])
    assert ref.sample_losses("mse", y, t)[0] == pytest.approx(0.5 * (0.04 + 0.09 + 0.01))
    assert ref.sample_losses("cross_entropy", y, t)[0] == pytest.approx(-math.log(0.7))
    assert ref.sample_losses("binary_cross_entropy", y, t)[0] == pytest.approx(
        -(math.log(0.8) + math.log(0.7) + math.log(0.9))
    )


def test_combined_output_derivative_equals_the_chain_rule() -> None:
    """Softmax + cross-entropy and sigmoid + BCE: y − ŷ equals the chain through h'(e) (a target summing to 1)."""
    e = np.array([[0.4, -1.2, 0.9]])
    t = np.array([[0.2, 0.5, 0.3]])
    for loss, act in (("cross_entropy", "softmax"), ("binary_cross_entropy", "sigmoid")):
        y = ref.activate(act, e)
        chain = ref.activate_backward(act, e, y, ref.loss_derivative(loss, y, t))
        np.testing.assert_allclose(chain, y - t, rtol=1e-12, atol=1e-15)


PARAMETER_KEYS = {
    "dense": ("weight",),
    "conv2d": ("kernel",),
    "spatial_attention": ("kernel",),
    "self_attention": ("wq", "wk", "wv"),
    "batchnorm": ("gamma", "beta"),
    "layernorm": ("gamma", "beta"),
}


def _numbers(value: object) -> list[float]:
    return [float(v) for v in np.asarray(value, dtype=float).ravel()]


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_networks_are_hand_friendly(name: str) -> None:
    """A comment header and a title; every parameter written out; every number a small one-decimal value."""
    text = (NETWORKS / f"{name}.yaml").read_text(encoding="utf-8")
    assert text.startswith("# ") and text.count("\n# ") >= 3
    doc = yaml.safe_load(text)
    assert doc["name"] == name and doc["title"]
    numbers = []
    for layer in doc["layers"]:
        for key in PARAMETER_KEYS.get(layer.get("type", "dense"), ()):
            assert isinstance(layer.get(key), list), f"{layer['name']}.{key} is not written out"
            numbers += _numbers(layer[key])
        if "bias" in layer:
            numbers += _numbers(layer["bias"])
    assert doc["data"]
    for sample in doc["data"]:
        assert sample.get("target") is not None
        numbers += _numbers(sample["input"]) + _numbers(sample["target"])
    assert all(abs(v) <= 3 and abs(v * 10 - round(v * 10)) < 1e-9 for v in numbers), numbers


def test_the_bundled_networks_first_losses() -> None:
    """The first-step losses the report quotes, from the reference (so a change to a bundled file is seen)."""
    first = {
        name: ref.train(ref.load(NETWORKS / f"{name}.yaml"), 1, batch)[0].loss for name, batch in BUNDLED_BATCH.items()
    }
    assert first == pytest.approx(
        {
            "resnet-block": 0.4970045,
            "se-block": 0.16238400543124692,
            "cbam": 0.16107183905299752,
            "attention": 8.130316184917657,
            "batchnorm": 0.2759353138293104,
        },
        rel=1e-12,
    )
    assert math.isclose(first["resnet-block"], 0.5 * (2 - 1.003) ** 2, rel_tol=1e-12)  # y = 1.003 by hand
