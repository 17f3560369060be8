"""An independent numpy reference for networks as graphs: forward, loss, hand-written backward and gradient descent.

Written from the definitions (docs/network-format.md, docs/cnn.md, docs/trace-format.md and issue 12), never
from bpexplain's code: it imports nothing of bpexplain. It reads a network file with plain `yaml.safe_load` and
takes every value from it; random initial values are not its business (the test networks give every
parameter, and the defaults of `gamma`, `beta`, `eps`, `p`, `flip`, `scale` it fills in by the definitions).

The idea: every value carries a leading batch axis, so one code path serves a single sample (`--batch single`,
a batch of one) and a whole batch (`--batch full`, where batchnorm's statistics couple the samples). A layer
kind is a pair of functions, forward (its output and what backward keeps) and backward (one gradient per input
and its parameter gradients), as in a textbook. The network's forward walks the file's order; backward walks it
in reverse and adds the gradients where a value feeds several layers. E is the mean over the batch of each
sample's loss, so ∂E/∂y is each sample's derivative divided by the batch size.

Internal shapes: a vector is (F,), a map (C, H, W); a 2-D input shape [T, D] is 1×T×D (a leading 1, as the
loader reads it), and self_attention drops that 1 to work on T×D and gives back 1×T×d_out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

Array = np.ndarray

# ---- reading the file ------------------------------------------------------------------------------------------


@dataclass
class Layer:
    """One layer as the file writes it, with its inputs resolved and its parameters named `<layer>.<key>`."""

    name: str
    kind: str
    index: int
    inputs: list[str]
    raw: dict
    in_shapes: list[tuple[int, ...]] = field(default_factory=list)
    out_shape: tuple[int, ...] = ()
    params: dict[str, str] = field(default_factory=dict)  # key (weight, gamma, ...) -> full name
    internal: dict[str, tuple[int, ...]] = field(default_factory=dict)  # key -> the shape the maths uses
    activation: str = "identity"
    slope: float = 0.01


@dataclass
class Network:
    input_shape: tuple[int, ...]
    layers: list[Layer]
    loss: str
    learning_rate: float
    seed: int
    values: dict[str, Array]  # parameter values, in the shapes the JSON trace writes (see _shape_and_params)
    trainable: dict[str, bool]
    data: list[tuple[Array, Array | None]]  # inputs in input_shape, targets flat

    @property
    def output(self) -> Layer:
        return self.layers[-1]

    def copy_values(self) -> dict[str, Array]:
        return {k: v.copy() for k, v in self.values.items()}


def _pair(value: Any, default: int) -> tuple[int, int]:
    if value is None:
        return (default, default)
    if isinstance(value, list):
        return (int(value[0]), int(value[1]))
    return (int(value), int(value))


def _param_value(raw: Any) -> tuple[Any, bool]:
    """A parameter as written: a plain array, or {value: ..., trainable: ...}."""
    if isinstance(raw, dict):
        return raw.get("value"), bool(raw.get("trainable", True))
    return raw, True


def _input_shape(inputs: Any) -> tuple[int, ...]:
    if isinstance(inputs, int):
        return (inputs,)
    if isinstance(inputs, list):
        return (len(inputs),)
    shape = tuple(int(n) for n in inputs["shape"])
    return (1, *shape) if len(shape) == 2 else shape


def _activation(raw: Any) -> tuple[str, float]:
    if isinstance(raw, dict):
        return str(raw["name"]), float(raw.get("slope", 0.01))
    return str(raw), 0.01


def _conv_out(n: int, k: int, stride: int, padding: int, dilation: int) -> int:
    return (n + 2 * padding - dilation * (k - 1) - 1) // stride + 1


def load(path: str | Path) -> Network:
    """The network of a YAML file (every parameter given in it; defaults filled in by their definitions)."""
    return from_doc(yaml.safe_load(Path(path).read_text(encoding="utf-8")))


def from_doc(doc: dict) -> Network:
    input_shape = _input_shape(doc["inputs"])
    shapes: dict[str, tuple[int, ...]] = {"input": input_shape}
    values: dict[str, Array] = {}
    trainable: dict[str, bool] = {}
    layers: list[Layer] = []
    previous = "input"
    for index, raw in enumerate(doc["layers"]):
        name = str(raw.get("name", f"layer{index + 1}"))
        kind = str(raw.get("type", "dense"))
        inputs = [str(n) for n in raw.get("inputs", [previous])]
        layer = Layer(name, kind, index, inputs, raw, in_shapes=[shapes[n] for n in inputs])
        if "activation" in raw:
            layer.activation, layer.slope = _activation(raw["activation"])
        _shape_and_params(layer, values, trainable)
        shapes[name] = layer.out_shape
        layers.append(layer)
        previous = name
    data = []
    for d in doc.get("data", []):
        x = np.asarray(d["input"], dtype=float).reshape(input_shape)
        t = None if d.get("target") is None else np.asarray(d["target"], dtype=float).reshape(-1)
        data.append((x, t))
    return Network(
        input_shape,
        layers,
        str(doc.get("loss", "mse")),
        float(doc.get("learning_rate", 0.5)),
        int(doc.get("seed", 0)),
        values,
        trainable,
        data,
    )


def _shape_and_params(layer: Layer, values: dict[str, Array], trainable: dict[str, bool]) -> None:
    """The layer's output shape, and its parameters read from the file (or their defaults), in the shapes the
    JSON trace writes: as in the file, except a dense weight, which is one row per unit whatever its layout."""
    raw, kind, shapes = layer.raw, layer.kind, layer.in_shapes
    s = shapes[0]

    def param(key: str, yaml_key: str, internal: tuple[int, ...], default: float | None = None) -> None:
        if yaml_key in raw:
            value, train = _param_value(raw[yaml_key])
            array = np.asarray(value, dtype=float)
            if kind == "dense" and key == "weight" and raw.get("layout") == "from_to":
                array = array.T
        elif default is not None:
            array, train = np.full(internal, default, dtype=float), True
        else:
            return
        assert array.size == math.prod(internal), f"{layer.name}.{key}: {array.shape} for {internal}"
        full = f"{layer.name}.{key}"
        values[full], trainable[full] = array, train
        layer.params[key], layer.internal[key] = full, internal

    if kind == "dense":
        w = np.asarray(_param_value(raw["weight"])[0], dtype=float)
        units = w.shape[1] if raw.get("layout") == "from_to" else w.shape[0]
        assert len(s) == 1, f"{layer.name}: dense needs a vector"
        param("weight", "weight", (units, s[0]))
        param("bias", "bias", (units,))
        layer.out_shape = (units,)
    elif kind == "conv2d":
        k = np.asarray(_param_value(raw["kernel"])[0], dtype=float)
        kshape = (1, 1, *k.shape) if k.ndim == 2 else tuple(k.shape)
        stride, pad, dil = _pair(raw.get("stride"), 1), _pair(raw.get("padding"), 0), _pair(raw.get("dilation"), 1)
        param("weight", "kernel", kshape)
        param("bias", "bias", (kshape[0],))
        layer.out_shape = (
            kshape[0],
            _conv_out(s[1], kshape[2], stride[0], pad[0], dil[0]),
            _conv_out(s[2], kshape[3], stride[1], pad[1], dil[1]),
        )
    elif kind in ("maxpool", "avgpool"):
        size = _pair(raw["size"], 1)
        stride = _pair(raw.get("stride"), 0) if "stride" in raw else size
        layer.out_shape = (s[0], (s[1] - size[0]) // stride[0] + 1, (s[2] - size[1]) // stride[1] + 1)
    elif kind == "flatten":
        layer.out_shape = (math.prod(s),)
    elif kind in ("activation", "dropout", "spatial_attention", "add"):
        layer.out_shape = s
        if kind == "spatial_attention":
            k = np.asarray(_param_value(raw["kernel"])[0], dtype=float)
            param("weight", "kernel", (1, *k.shape))
    elif kind == "multiply":
        layer.out_shape = max(shapes, key=math.prod)
    elif kind == "concat":
        layer.out_shape = (sum(sh[0] for sh in shapes), *s[1:])
    elif kind in ("global_avgpool", "global_maxpool"):
        layer.out_shape = (s[0],)
    elif kind == "batchnorm":
        param("gamma", "gamma", (s[0],), 1.0)
        param("beta", "beta", (s[0],), 0.0)
        layer.out_shape = s
    elif kind == "layernorm":
        param("gamma", "gamma", s, 1.0)
        param("beta", "beta", s, 0.0)
        layer.out_shape = s
    elif kind == "self_attention":
        t, d = _tokens(s)
        wq = np.asarray(_param_value(raw["wq"])[0], dtype=float)
        wv = np.asarray(_param_value(raw["wv"])[0], dtype=float)
        param("wq", "wq", (d, wq.shape[1]))
        param("wk", "wk", (d, wq.shape[1]))
        param("wv", "wv", (d, wv.shape[1]))
        out = wv.shape[1]
        if "wo" in raw:
            wo = np.asarray(_param_value(raw["wo"])[0], dtype=float)
            param("wo", "wo", (out, wo.shape[1]))
            out = wo.shape[1]
        layer.out_shape = (1, t, out)
    else:
        raise ValueError(f"the reference does not know the layer kind {kind!r}")


def _tokens(shape: tuple[int, ...]) -> tuple[int, int]:
    """T and D of a token input: [T, D], or 1×T×D as the loader reads a 2-D shape."""
    if len(shape) == 3:
        assert shape[0] == 1, f"self_attention needs T×D, got {shape}"
        return shape[1], shape[2]
    return shape[0], shape[1]


# ---- activations and losses --------------------------------------------------------------------------------------

_erf = np.vectorize(math.erf, otypes=[float])


def activate(name: str, e: Array, slope: float = 0.01) -> Array:
    """h(e) elementwise; softmax over each sample's values (all but the batch axis)."""
    if name == "identity":
        return e.copy()
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-e))
    if name == "tanh":
        return np.tanh(e)
    if name == "relu":
        return np.where(e > 0, e, 0.0)
    if name == "leaky_relu":
        return np.where(e > 0, e, slope * e)
    if name == "gelu":
        return 0.5 * e * (1.0 + _erf(e / math.sqrt(2.0)))
    if name == "softmax":
        flat = e.reshape(e.shape[0], -1)
        z = np.exp(flat - flat.max(axis=1, keepdims=True))
        return (z / z.sum(axis=1, keepdims=True)).reshape(e.shape)
    raise ValueError(f"the reference does not know the activation {name!r}")


def activate_backward(name: str, e: Array, y: Array, dy: Array, slope: float = 0.01) -> Array:
    """∂E/∂e from ∂E/∂y."""
    if name == "identity":
        return dy.copy()
    if name == "sigmoid":
        return dy * y * (1.0 - y)
    if name == "tanh":
        return dy * (1.0 - y * y)
    if name == "relu":
        return dy * (e > 0)
    if name == "leaky_relu":
        return dy * np.where(e > 0, 1.0, slope)
    if name == "gelu":
        cdf = 0.5 * (1.0 + _erf(e / math.sqrt(2.0)))
        pdf = np.exp(-0.5 * e * e) / math.sqrt(2.0 * math.pi)
        return dy * (cdf + e * pdf)
    if name == "softmax":
        b = e.shape[0]
        yf, gf = y.reshape(b, -1), dy.reshape(b, -1)
        return (yf * (gf - (gf * yf).sum(axis=1, keepdims=True))).reshape(e.shape)
    raise ValueError(name)


def sample_losses(kind: str, y: Array, t: Array) -> Array:
    """Each sample's loss: mse ½Σ(y − ŷ)², cross_entropy −Σ ŷ·ln y, binary_cross_entropy −Σ[ŷ ln y + (1−ŷ) ln(1−y)]."""
    if kind == "mse":
        return 0.5 * ((y - t) ** 2).sum(axis=1)
    if kind == "cross_entropy":
        return -(t * np.log(y)).sum(axis=1)
    if kind == "binary_cross_entropy":
        return -(t * np.log(y) + (1.0 - t) * np.log(1.0 - y)).sum(axis=1)
    raise ValueError(kind)


def loss_derivative(kind: str, y: Array, t: Array) -> Array:
    """∂(one sample's loss)/∂y."""
    if kind == "mse":
        return y - t
    if kind == "cross_entropy":
        return -t / y
    if kind == "binary_cross_entropy":
        return (y - t) / (y * (1.0 - y))
    raise ValueError(kind)


def combined(loss: str, activation: str) -> bool:
    """Softmax with cross-entropy and sigmoid with binary cross-entropy: ∂E/∂e = y − ŷ directly."""
    return (loss, activation) in (("cross_entropy", "softmax"), ("binary_cross_entropy", "sigmoid"))


# ---- layer kinds: forward and backward ------------------------------------------------------------------------------


@dataclass
class Context:
    """What a forward pass needs beyond the values: training or not, and the dropout keys."""

    training: bool
    seed: int = 0
    step: int = 1
    samples: tuple[int, ...] = (1,)  # 1-based sample numbers, one per batch row
    masks: dict[str, list[Array]] = field(default_factory=dict)


def _windows(h: int, k: int, stride: int, dilation: int, n_out: int, offset: int) -> slice:
    start = offset * dilation
    return slice(start, start + stride * (n_out - 1) + 1, stride)


def conv_forward(x: Array, k: Array, stride: tuple, pad: tuple, dil: tuple, flip: bool) -> Array:
    """O(b,o,i,j) = Σ_c,m,n Xpad(b,c, i·s + m·d, j·s + n·d)·K'(o,c,m,n), K' = K rotated 180° when flip."""
    keff = k[:, :, ::-1, ::-1] if flip else k
    b, c, h, w = x.shape
    o, _, kh, kw = k.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    ho, wo = _conv_out(h, kh, stride[0], pad[0], dil[0]), _conv_out(w, kw, stride[1], pad[1], dil[1])
    out = np.zeros((b, o, ho, wo))
    for m in range(kh):
        for n in range(kw):
            patch = xp[:, :, _windows(h, kh, stride[0], dil[0], ho, m), _windows(w, kw, stride[1], dil[1], wo, n)]
            out += np.einsum("bchw,oc->bohw", patch, keff[:, :, m, n])
    return out


def conv_backward(x: Array, k: Array, dout: Array, stride: tuple, pad: tuple, dil: tuple, flip: bool) -> tuple:
    keff = k[:, :, ::-1, ::-1] if flip else k
    b, c, h, w = x.shape
    _, _, kh, kw = k.shape
    ho, wo = dout.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    dxp = np.zeros_like(xp)
    dkeff = np.zeros_like(k)
    for m in range(kh):
        for n in range(kw):
            rows, cols = _windows(h, kh, stride[0], dil[0], ho, m), _windows(w, kw, stride[1], dil[1], wo, n)
            dkeff[:, :, m, n] = np.einsum("bohw,bchw->oc", dout, xp[:, :, rows, cols])
            dxp[:, :, rows, cols] += np.einsum("bohw,oc->bchw", dout, keff[:, :, m, n])
    dx = dxp[:, :, pad[0] : pad[0] + h, pad[1] : pad[1] + w]
    dk = dkeff[:, :, ::-1, ::-1] if flip else dkeff
    return dx, dk


def _pool_windows(shape: tuple, size: tuple, stride: tuple):
    _, _, h, w = shape
    for i in range((h - size[0]) // stride[0] + 1):
        for j in range((w - size[1]) // stride[1] + 1):
            yield i, j, slice(i * stride[0], i * stride[0] + size[0]), slice(j * stride[1], j * stride[1] + size[1])


def _norm_forward(x: Array, axes: tuple, eps: float) -> tuple[Array, Array]:
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)  # biased
    inv = 1.0 / np.sqrt(var + eps)
    return (x - mu) * inv, inv


def _norm_backward(dxhat: Array, xhat: Array, inv: Array, axes: tuple) -> Array:
    m = math.prod(dxhat.shape[a] for a in axes)
    s1 = dxhat.sum(axis=axes, keepdims=True)
    s2 = (dxhat * xhat).sum(axis=axes, keepdims=True)
    return inv / m * (m * dxhat - s1 - xhat * s2)


def _broadcast_shape(small: tuple, big: tuple) -> tuple:
    """How the smaller multiply input lines up with the larger (per sample): (C,) against C×H×W is C×1×1."""
    if small == big:
        return small
    if len(small) == 1 and len(big) == 3 and small[0] == big[0]:
        return (small[0], 1, 1)
    if len(small) == 3 and small[0] == 1 and small[1:] == big[1:]:
        return small
    raise ValueError(f"multiply cannot combine {small} and {big}")


def layer_forward(layer: Layer, xs: list[Array], p: dict[str, Array], ctx: Context) -> tuple[Array, dict]:
    """The layer's output (before its activation, when it has one) and what its backward needs."""
    raw, kind, x = layer.raw, layer.kind, xs[0]
    b = x.shape[0]
    cache: dict[str, Any] = {}
    if kind == "dense":
        y = x @ p["weight"].T + (p["bias"] if "bias" in p else 0.0)
    elif kind == "conv2d":
        geo = (_pair(raw.get("stride"), 1), _pair(raw.get("padding"), 0), _pair(raw.get("dilation"), 1))
        flip = bool(raw.get("flip", True))
        y = conv_forward(x, p["weight"], *geo, flip)
        if "bias" in p:
            y = y + p["bias"][None, :, None, None]
        cache.update(geo=geo, flip=flip)
    elif kind in ("maxpool", "avgpool"):
        size = _pair(raw["size"], 1)
        stride = _pair(raw.get("stride"), 0) if "stride" in raw else size
        y = np.zeros((b, *layer.out_shape))
        wins = list(_pool_windows(x.shape, size, stride))
        arg = {}
        for i, j, rs, cs in wins:
            win = x[:, :, rs, cs].reshape(b, x.shape[1], -1)
            if kind == "maxpool":
                a = win.argmax(axis=2)  # the first in reading order on a tie
                arg[i, j] = a
                y[:, :, i, j] = np.take_along_axis(win, a[..., None], axis=2)[..., 0]
            else:
                y[:, :, i, j] = win.mean(axis=2)
        cache.update(wins=wins, arg=arg, size=size)
    elif kind == "flatten":
        y = x.reshape(b, -1)
    elif kind == "activation":
        y = x.copy()
    elif kind == "add":
        y = sum(xs[1:], xs[0].copy())
    elif kind == "multiply":
        big_i = 0 if math.prod(xs[0].shape) >= math.prod(xs[1].shape) else 1
        big, small = xs[big_i], xs[1 - big_i]
        view = (b, *_broadcast_shape(small.shape[1:], big.shape[1:]))
        y = big * small.reshape(view)
        cache.update(big_i=big_i, view=view)
    elif kind == "concat":
        y = np.concatenate(xs, axis=1)
    elif kind == "global_avgpool":
        y = x.mean(axis=(2, 3))
    elif kind == "global_maxpool":
        flat = x.reshape(b, x.shape[1], -1)
        a = flat.argmax(axis=2)
        y = np.take_along_axis(flat, a[..., None], axis=2)[..., 0]
        cache["arg"] = a
    elif kind in ("batchnorm", "layernorm"):
        if kind == "batchnorm":
            axes = (0,) if x.ndim == 2 else (0, 2, 3)
            gshape = (1, x.shape[1]) if x.ndim == 2 else (1, x.shape[1], 1, 1)
        else:
            axes = tuple(range(1, x.ndim))
            gshape = (1, *x.shape[1:])
        xhat, inv = _norm_forward(x, axes, float(raw.get("eps", 1e-5)))
        g, beta = p["gamma"].reshape(gshape), p["beta"].reshape(gshape)
        y = g * xhat + beta
        cache.update(axes=axes, gshape=gshape, xhat=xhat, inv=inv)
    elif kind == "dropout":
        prob = float(raw.get("p", 0.5))
        if ctx.training:
            keep = np.stack(
                [
                    np.random.default_rng([ctx.seed, ctx.step, n, layer.index]).random(x.shape[1:]) >= prob
                    for n in ctx.samples
                ]
            )
            ctx.masks[layer.name] = [k.astype(int) for k in keep]
            y = x * keep / (1.0 - prob)
        else:
            keep, prob = np.ones_like(x), 0.0
            y = x.copy()
        cache.update(keep=keep, prob=prob)
    elif kind == "self_attention":
        t, d = _tokens(x.shape[1:])
        xt = x.reshape(b, t, d)
        dk = p["wq"].shape[1]
        c = 1.0 / math.sqrt(dk) if raw.get("scale", True) else 1.0
        q, k, v = xt @ p["wq"], xt @ p["wk"], xt @ p["wv"]
        s = (q @ k.transpose(0, 2, 1)) * c
        z = np.exp(s - s.max(axis=2, keepdims=True))
        a = z / z.sum(axis=2, keepdims=True)
        o = a @ v
        y = o @ p["wo"] if "wo" in p else o
        y = y.reshape(b, 1, t, -1)
        cache.update(xt=xt, q=q, k=k, v=v, a=a, o=o, c=c)
    elif kind == "spatial_attention":
        mean, arg = x.mean(axis=1), x.argmax(axis=1)  # the first channel on a tie
        mx = np.take_along_axis(x, arg[:, None], axis=1)[:, 0]
        stack = np.stack([mean, mx], axis=1)
        kk = p["weight"].shape[2]
        geo = ((1, 1), (kk // 2, kk // 2), (1, 1))
        flip = bool(raw.get("flip", True))
        m = 1.0 / (1.0 + np.exp(-conv_forward(stack, p["weight"], *geo, flip)))
        y = x * m
        cache.update(arg=arg, stack=stack, m=m, geo=geo, flip=flip)
    else:
        raise ValueError(kind)
    return y, cache


def layer_backward(
    layer: Layer, xs: list[Array], p: dict[str, Array], cache: dict, dy: Array
) -> tuple[list[Array], dict[str, Array]]:
    """One gradient per input, and the parameter gradients (summed over the batch), from ∂E/∂(output)."""
    kind, x = layer.kind, xs[0]
    b = x.shape[0]
    grads: dict[str, Array] = {}
    if kind == "dense":
        grads["weight"] = dy.T @ x
        if "bias" in p:
            grads["bias"] = dy.sum(axis=0)
        return [dy @ p["weight"]], grads
    if kind == "conv2d":
        dx, grads["weight"] = conv_backward(x, p["weight"], dy, *cache["geo"], cache["flip"])
        if "bias" in p:
            grads["bias"] = dy.sum(axis=(0, 2, 3))
        return [dx], grads
    if kind in ("maxpool", "avgpool"):
        dx = np.zeros_like(x)
        for i, j, rs, cs in cache["wins"]:
            if kind == "maxpool":
                part = np.zeros((b, x.shape[1], cache["size"][0] * cache["size"][1]))
                np.put_along_axis(part, cache["arg"][i, j][..., None], dy[:, :, i, j][..., None], axis=2)
                dx[:, :, rs, cs] += part.reshape(b, x.shape[1], *cache["size"])
            else:
                dx[:, :, rs, cs] += dy[:, :, i, j][..., None, None] / (cache["size"][0] * cache["size"][1])
        return [dx], grads
    if kind == "flatten":
        return [dy.reshape(x.shape)], grads
    if kind == "activation":
        return [dy], grads
    if kind == "add":
        return [dy.copy() for _ in xs], grads
    if kind == "multiply":
        big_i, view = cache["big_i"], cache["view"]
        big, small = xs[big_i], xs[1 - big_i]
        d_big = dy * small.reshape(view)
        prod = dy * big
        axes = tuple(a for a in range(1, prod.ndim) if view[a] == 1 and prod.shape[a] != 1)
        d_small = prod.sum(axis=axes, keepdims=True).reshape(small.shape)
        return ([d_big, d_small] if big_i == 0 else [d_small, d_big]), grads
    if kind == "concat":
        cuts = np.cumsum([xi.shape[1] for xi in xs])[:-1]
        return list(np.split(dy, cuts, axis=1)), grads
    if kind == "global_avgpool":
        h, w = x.shape[2:]
        return [np.broadcast_to(dy[:, :, None, None] / (h * w), x.shape).copy()], grads
    if kind == "global_maxpool":
        dx = np.zeros((b, x.shape[1], x.shape[2] * x.shape[3]))
        np.put_along_axis(dx, cache["arg"][..., None], dy[..., None], axis=2)
        return [dx.reshape(x.shape)], grads
    if kind in ("batchnorm", "layernorm"):
        axes, gshape, xhat = cache["axes"], cache["gshape"], cache["xhat"]
        param_axes = tuple(a for a in range(dy.ndim) if gshape[a] == 1)
        grads["gamma"] = (dy * xhat).sum(axis=param_axes).reshape(p["gamma"].shape)
        grads["beta"] = dy.sum(axis=param_axes).reshape(p["beta"].shape)
        dxhat = dy * p["gamma"].reshape(gshape)
        return [_norm_backward(dxhat, xhat, cache["inv"], axes)], grads
    if kind == "dropout":
        return [dy * cache["keep"] / (1.0 - cache["prob"])], grads
    if kind == "self_attention":
        xt, q, k, v, a, o, c = (cache[n] for n in ("xt", "q", "k", "v", "a", "o", "c"))
        t = xt.shape[1]
        dyt = dy.reshape(b, t, -1)
        if "wo" in p:
            grads["wo"] = np.einsum("btv,bto->vo", o, dyt)
            do = dyt @ p["wo"].T
        else:
            do = dyt
        da = do @ v.transpose(0, 2, 1)
        dv = a.transpose(0, 2, 1) @ do
        ds = a * (da - (da * a).sum(axis=2, keepdims=True))
        dq = c * ds @ k
        dkk = c * ds.transpose(0, 2, 1) @ q
        grads["wq"] = np.einsum("btd,btk->dk", xt, dq)
        grads["wk"] = np.einsum("btd,btk->dk", xt, dkk)
        grads["wv"] = np.einsum("btd,btk->dk", xt, dv)
        dx = dq @ p["wq"].T + dkk @ p["wk"].T + dv @ p["wv"].T
        return [dx.reshape(x.shape)], grads
    if kind == "spatial_attention":
        m = cache["m"]
        dx = dy * m
        dm = (dy * x).sum(axis=1, keepdims=True)
        dz = dm * m * (1.0 - m)
        dstack, grads["weight"] = conv_backward(cache["stack"], p["weight"], dz, *cache["geo"], cache["flip"])
        dx += dstack[:, 0:1] / x.shape[1]
        dmax = np.zeros_like(x)
        np.put_along_axis(dmax, cache["arg"][:, None], dstack[:, 1:2], axis=1)
        return [dx + dmax], grads
    raise ValueError(kind)


# ---- the network: forward, loss, backward -------------------------------------------------------------------------


@dataclass
class Pass:
    """One forward and backward pass over a batch."""

    loss: float
    losses: Array
    outputs: dict[str, Array]
    gradients: dict[str, Array]  # by full parameter name, in the file's shapes
    input_gradient: Array
    masks: dict[str, list[Array]]


def internal_params(net: Network, layer: Layer, values: dict[str, Array]) -> dict[str, Array]:
    """The layer's parameters in the shapes its maths uses (a plain k×k kernel as 1×1×k×k)."""
    return {key: values[full].reshape(layer.internal[key]) for key, full in layer.params.items()}


def _file_shape(net: Network, layer: Layer, key: str, grad: Array, values: dict[str, Array]) -> Array:
    return grad.reshape(values[layer.params[key]].shape)


def forward(net: Network, values: dict[str, Array], x: Array, ctx: Context) -> tuple[dict[str, Array], dict]:
    """Every layer's output (after its activation) for a batch x, and what backward needs."""
    outs: dict[str, Array] = {"input": x}
    caches = {}
    for layer in net.layers:
        xs = [outs[n] for n in layer.inputs]
        p = internal_params(net, layer, values)
        e, cache = layer_forward(layer, xs, p, ctx)
        y = activate(layer.activation, e, layer.slope)
        cache.update(e=e, y=y, xs=xs, p=p)
        caches[layer.name] = cache
        outs[layer.name] = y
    return outs, caches


def run_pass(net: Network, values: dict[str, Array], samples: list[int], step: int, training: bool = True) -> Pass:
    """Forward, E = the mean of the samples' losses, and back-propagation by hand. `samples` are 0-based."""
    x = np.stack([net.data[i][0] for i in samples])
    t = np.stack([net.data[i][1] for i in samples])  # type: ignore[arg-type]
    ctx = Context(training, net.seed, step, tuple(i + 1 for i in samples))
    outs, caches = forward(net, values, x, ctx)
    out_layer = net.output
    b = x.shape[0]
    y = outs[out_layer.name].reshape(b, -1)
    losses = sample_losses(net.loss, y, t)
    d: dict[str, Array] = {}
    grads: dict[str, Array] = {}
    for layer in reversed(net.layers):
        cache = caches[layer.name]
        if layer is out_layer:
            if combined(net.loss, layer.activation):
                de = ((y - t) / b).reshape(cache["e"].shape)
            else:
                dy = (loss_derivative(net.loss, y, t) / b).reshape(cache["y"].shape)
                de = activate_backward(layer.activation, cache["e"], cache["y"], dy, layer.slope)
        elif layer.name in d:
            de = activate_backward(layer.activation, cache["e"], cache["y"], d.pop(layer.name), layer.slope)
        else:  # its output reaches no loss
            de = np.zeros_like(cache["e"])
        dxs, pg = layer_backward(layer, cache["xs"], cache["p"], cache, de)
        for key, full in layer.params.items():
            grads[full] = _file_shape(net, layer, key, pg[key], values)
        for src, dx in zip(layer.inputs, dxs):
            d[src] = d[src] + dx if src in d else dx
    return Pass(float(losses.mean()), losses, outs, grads, d.get("input", np.zeros_like(x)), ctx.masks)


def batch_loss(net: Network, values: dict[str, Array], samples: list[int], step: int) -> float:
    """E alone (for central differences): the same masks, as they depend on the step and samples only."""
    x = np.stack([net.data[i][0] for i in samples])
    t = np.stack([net.data[i][1] for i in samples])  # type: ignore[arg-type]
    outs, _ = forward(net, values, x, Context(True, net.seed, step, tuple(i + 1 for i in samples)))
    return float(sample_losses(net.loss, outs[net.output.name].reshape(len(samples), -1), t).mean())


def loss_of_input(net: Network, values: dict[str, Array], x: Array, t: Array, step: int, sample: int) -> float:
    outs, _ = forward(net, values, x[None], Context(True, net.seed, step, (sample,)))
    return float(sample_losses(net.loss, outs[net.output.name].reshape(1, -1), t[None]).mean())


@dataclass
class Step:
    index: int
    samples: list[int]  # 1-based
    loss: float
    gradients: dict[str, Array]
    parameters: dict[str, Array]
    masks: dict[str, list[Array]]


def train(net: Network, steps: int, batch: str = "single") -> list[Step]:
    """Gradient descent as `bpexplain train --steps N [--batch full]`: sample order 1, 2, ..., simultaneous
    updates w' = w − η·∂E/∂w of every trainable parameter; each step's loss is E before its update."""
    values = net.copy_values()
    out = []
    n = len(net.data)
    for s in range(1, steps + 1):
        samples = list(range(n)) if batch == "full" else [(s - 1) % n]
        res = run_pass(net, values, samples, s)
        for name, g in res.gradients.items():
            if net.trainable[name]:
                values[name] = values[name] - net.learning_rate * g
        out.append(
            Step(
                s,
                [i + 1 for i in samples],
                res.loss,
                res.gradients,
                {k: v.copy() for k, v in values.items()},
                res.masks,
            )
        )
    return out


def dropout_mask(seed: int, step: int, sample: int, index: int, shape: tuple[int, ...], p: float) -> Array:
    """The mask of the rule: keep = default_rng([seed, step, sample, layer index]).random(shape) >= p, as 0/1."""
    return (np.random.default_rng([seed, step, sample, index]).random(shape) >= p).astype(int)


# ---- central differences -------------------------------------------------------------------------------------------


def central_differences(net: Network, samples: list[int], step: int = 1, h: float = 1e-6) -> dict[str, Array]:
    """∂E/∂p for every entry of every parameter by (E(p + h) − E(p − h))/2h."""
    values = net.copy_values()
    out = {}
    for name, v in values.items():
        g = np.zeros_like(v)
        for idx in np.ndindex(v.shape):
            old = v[idx]
            v[idx] = old + h
            plus = batch_loss(net, values, samples, step)
            v[idx] = old - h
            minus = batch_loss(net, values, samples, step)
            v[idx] = old
            g[idx] = (plus - minus) / (2 * h)
        out[name] = g
    return out


# ---- random test networks (small, seeded, every parameter given) ---------------------------------------------------

Builder = Callable[[np.random.Generator, int], dict]  # (rng, variant): the variant picks the shape of the case
LOSSES = ("mse", "cross_entropy", "binary_cross_entropy")


def _r(rng: np.random.Generator, *shape: int, scale: float = 0.5) -> list:
    return (rng.normal(0.0, scale, shape)).round(6).tolist() if shape else float(round(rng.normal(0, scale), 6))


def _dense(rng: np.random.Generator, name: str, n_in: int, units: int, act: str = "identity", **kw: Any) -> dict:
    layer = {"name": name, "type": "dense", "activation": act, "weight": _r(rng, units, n_in), "bias": _r(rng, units)}
    layer.update(kw)
    return layer


def _conv(rng: np.random.Generator, name: str, c_in: int, c_out: int, k: int, **kw: Any) -> dict:
    layer = {"name": name, "type": "conv2d", "kernel": _r(rng, c_out, c_in, k, k), "bias": _r(rng, c_out)}
    layer.update(kw)
    return layer


def _samples(rng: np.random.Generator, shape: tuple, out: int, n: int, loss: str = "mse") -> list[dict]:
    data = []
    for _ in range(n):
        if loss == "cross_entropy":
            t = np.zeros(out)
            t[rng.integers(out)] = 1.0
            target = t.tolist()
        else:
            target = _r(rng, out, scale=1.0)
        data.append({"input": _r(rng, *shape, scale=1.0), "target": target})
    return data


def _network(inputs: Any, layers: list[dict], data: list[dict], rng: np.random.Generator, **kw: Any) -> dict:
    doc = {
        "name": "random",
        "inputs": inputs,
        "layers": layers,
        "loss": "mse",
        "learning_rate": float(rng.choice([0.1, 0.3, 0.5])),
        "seed": int(rng.integers(0, 1000)),
        "data": data,
    }
    doc.update(kw)
    return doc


def random_add(rng: np.random.Generator, v: int) -> dict:
    """Two or three branches of a vector input, summed (even v); or a residual conv block (odd v)."""
    if v % 2:
        return random_residual(rng, v)
    n, u = int(rng.integers(2, 4)), int(rng.integers(2, 4))
    branches = [_dense(rng, f"b{i}", n, u, str(rng.choice(["tanh", "sigmoid", "identity"]))) for i in range(3)]
    for br in branches:
        br["inputs"] = ["input"]
    k = 2 + (v // 2) % 2
    layers = [
        *branches[:k],
        {"name": "sum", "type": "add", "inputs": [f"b{i}" for i in range(k)]},
        _dense(rng, "out", u, 2),
    ]
    return _network(n, layers, _samples(rng, (n,), 2, 2), rng)


def random_residual(rng: np.random.Generator, v: int = 0) -> dict:
    """A residual conv block: conv 3×3 (padding 1) + ReLU, conv 3×3 (padding 1), add the input, an activation."""
    c = int(rng.integers(1, 3))
    h = 3 if c == 2 else int(rng.integers(3, 5))
    layers = [
        _conv(rng, "c1", c, c, 3, padding=1, activation="relu"),
        _conv(rng, "c2", c, c, 3, padding=1),
        {"name": "res", "type": "add", "inputs": ["c2", "input"]},
        {"name": "r", "type": "activation", "activation": "tanh"},
        {"name": "flat", "type": "flatten"},
        _dense(rng, "out", c * h * h, 1),
    ]
    return _network({"shape": [c, h, h]}, layers, _samples(rng, (c, h, h), 1, 2), rng)


def random_multiply(rng: np.random.Generator, v: int) -> dict:
    # v = 0..3: map × channel vector, vector × map, a 1×H×W map × the map, two vectors (the second first)
    mode, swap = ((1, False), (1, True), (2, True), (0, True))[v % 4]
    c, h = int(rng.integers(1, 4)), int(rng.integers(2, 4))
    if mode == 0:  # same shape, vectors
        n, u = int(rng.integers(2, 4)), int(rng.integers(2, 4))
        a, b = _dense(rng, "a", n, u, "tanh", inputs=["input"]), _dense(rng, "b", n, u, "sigmoid", inputs=["input"])
        ins = ["b", "a"] if swap else ["a", "b"]
        layers = [a, b, {"name": "m", "type": "multiply", "inputs": ins}, _dense(rng, "out", u, 2)]
        return _network(n, layers, _samples(rng, (n,), 2, 2), rng)
    conv = _conv(rng, "feat", 1, c, 2, padding=1, activation="tanh")
    side = h + 1
    if mode == 1:  # a map scaled per channel by a vector of C
        gate = [{"name": "f", "type": "flatten", "inputs": ["input"]}, _dense(rng, "gate", h * h, c, "sigmoid")]
    else:  # a map scaled per position by a 1×H×W map
        gate = [_conv(rng, "gate", 1, 1, 2, padding=1, activation="sigmoid", inputs=["input"])]
    ins = ["gate", "feat"] if swap else ["feat", "gate"]
    layers = [
        conv,
        *gate,
        {"name": "m", "type": "multiply", "inputs": ins},
        {"name": "flat", "type": "flatten"},
        _dense(rng, "out", c * side * side, 1),
    ]
    return _network({"shape": [1, h, h]}, layers, _samples(rng, (1, h, h), 1, 2), rng)


def random_concat(rng: np.random.Generator, v: int) -> dict:
    k = 2 + (v // 2) % 2
    if v % 2 == 0:
        n = int(rng.integers(2, 4))
        units = [int(rng.integers(1, 4)) for _ in range(k)]
        branches = [_dense(rng, f"b{i}", n, u, "tanh", inputs=["input"]) for i, u in enumerate(units)]
        layers = [
            *branches,
            {"name": "cat", "type": "concat", "inputs": [f"b{i}" for i in range(k)]},
            _dense(rng, "out", sum(units), 2),
        ]
        return _network(n, layers, _samples(rng, (n,), 2, 2), rng)
    h = int(rng.integers(2, 4))
    chans = [int(rng.integers(1, 3)) for _ in range(k)]
    branches = [
        _conv(rng, f"b{i}", 1, ch, 2, padding=1, activation="tanh", inputs=["input"]) for i, ch in enumerate(chans)
    ]
    layers = [
        *branches,
        {"name": "cat", "type": "concat", "inputs": [f"b{i}" for i in range(k)]},
        _conv(rng, "mix", sum(chans), 1, 2),
        {"name": "flat", "type": "flatten"},
        _dense(rng, "out", h * h, 1),
    ]
    return _network({"shape": [1, h, h]}, layers, _samples(rng, (1, h, h), 1, 2), rng)


def _random_global(kind: str) -> Builder:
    def build(rng: np.random.Generator, v: int) -> dict:
        c, h = int(rng.integers(1, 4)), int(rng.integers(2, 4))
        c2 = int(rng.integers(1, 4))
        layers = [
            _conv(rng, "conv", c, c2, 2, padding=v % 2, activation="tanh"),
            {"name": "pool", "type": kind},
            _dense(rng, "out", c2, 2, "sigmoid"),
        ]
        return _network({"shape": [c, h, h]}, layers, _samples(rng, (c, h, h), 2, 2), rng)

    return build


def random_batchnorm(rng: np.random.Generator, v: int) -> dict:
    """A vector (even v) or a map (odd v); gamma and beta given for v = 0, 1, defaults after; eps given for v = 1."""
    eps = {"eps": 0.1} if v % 3 == 1 else {}
    n_samples = int(rng.integers(2, 5))
    given = (v // 2) % 2 == 0
    if v % 2 == 0:
        n, u = int(rng.integers(2, 4)), int(rng.integers(2, 4))
        bn = {"name": "bn", "type": "batchnorm", **eps}
        if given:
            bn.update(gamma=_r(rng, u, scale=1.0), beta=_r(rng, u))
        layers = [
            _dense(rng, "hidden", n, u),
            bn,
            {"name": "act", "type": "activation", "activation": "tanh"},
            _dense(rng, "out", u, 1),
        ]
        return _network(n, layers, _samples(rng, (n,), 1, n_samples), rng)
    c, h = int(rng.integers(1, 3)), int(rng.integers(2, 4))
    bn = {"name": "bn", "type": "batchnorm", **eps}
    if given:
        bn.update(gamma=_r(rng, c, scale=1.0), beta=_r(rng, c))
    layers = [
        _conv(rng, "conv", 1, c, 2, padding=1),
        bn,
        {"name": "act", "type": "activation", "activation": "relu"},
        {"name": "flat", "type": "flatten"},
        _dense(rng, "out", c * (h + 1) ** 2, 1),
    ]
    return _network({"shape": [1, h, h]}, layers, _samples(rng, (1, h, h), 1, n_samples), rng)


def random_layernorm(rng: np.random.Generator, v: int) -> dict:
    """As random_batchnorm's variants, per sample."""
    eps = {"eps": 0.1} if v % 3 == 1 else {}
    given = (v // 2) % 2 == 0
    if v % 2 == 0:
        n, u = int(rng.integers(2, 4)), int(rng.integers(2, 5))
        ln = {"name": "ln", "type": "layernorm", **eps}
        if given:
            ln.update(gamma=_r(rng, u, scale=1.0), beta=_r(rng, u))
        layers = [_dense(rng, "hidden", n, u), ln, _dense(rng, "out", u, 2, "sigmoid")]
        return _network(n, layers, _samples(rng, (n,), 2, 2), rng)
    c, h = int(rng.integers(1, 3)), int(rng.integers(2, 4))
    ln = {"name": "ln", "type": "layernorm", **eps}
    if given:
        ln.update(gamma=_r(rng, c, h, h, scale=1.0), beta=_r(rng, c, h, h))
    layers = [_conv(rng, "conv", 1, c, 1), ln, {"name": "flat", "type": "flatten"}, _dense(rng, "out", c * h * h, 1)]
    return _network({"shape": [1, h, h]}, layers, _samples(rng, (1, h, h), 1, 2), rng)


def random_dropout(rng: np.random.Generator, v: int) -> dict:
    """A vector (even v) or a map (odd v); p given for v = 0, 1, its default 0.5 after."""
    p = {"p": [0.2, 0.6][v % 2]} if (v // 2) % 2 == 0 else {}
    if v % 2 == 0:
        n, u = int(rng.integers(2, 4)), int(rng.integers(3, 6))
        layers = [
            _dense(rng, "hidden", n, u, "tanh"),
            {"name": "drop", "type": "dropout", **p},
            _dense(rng, "out", u, 2),
        ]
        return _network(n, layers, _samples(rng, (n,), 2, 3), rng)
    c, h = int(rng.integers(1, 3)), int(rng.integers(2, 4))
    layers = [
        _conv(rng, "conv", 1, c, 2, padding=1, activation="tanh"),
        {"name": "drop", "type": "dropout", **p},
        {"name": "flat", "type": "flatten"},
        _dense(rng, "out", c * (h + 1) ** 2, 1),
    ]
    return _network({"shape": [1, h, h]}, layers, _samples(rng, (1, h, h), 1, 3), rng)


def random_self_attention(rng: np.random.Generator, v: int) -> dict:
    """W_O for odd v; `scale` absent, true, false, false for v = 0..3."""
    t, d = int(rng.integers(2, 4)), int(rng.integers(2, 4))
    dk, dv = int(rng.integers(1, 3)), int(rng.integers(1, 3))
    layer: dict[str, Any] = {
        "name": "attn",
        "type": "self_attention",
        "wq": _r(rng, d, dk),
        "wk": _r(rng, d, dk),
        "wv": _r(rng, d, dv),
    }
    out = dv
    if v % 2:
        out = int(rng.integers(1, 4))
        layer["wo"] = _r(rng, dv, out)
    if v % 4:
        layer["scale"] = v % 4 == 1
    data = [{"input": _r(rng, t, d, scale=1.0), "target": _r(rng, t, out, scale=1.0)} for _ in range(2)]
    return _network({"shape": [t, d]}, [layer], data, rng)


def random_spatial_attention(rng: np.random.Generator, v: int) -> dict:
    """A 3×3 kernel (flip absent, false, -, true for v = 0..3) or a 1×1 one (v = 2)."""
    c, h = int(rng.integers(1, 4)), int(rng.integers(2, 4))
    k = 1 if v % 4 == 2 else 3
    sa: dict[str, Any] = {"name": "sa", "type": "spatial_attention", "kernel": _r(rng, 2, k, k, scale=1.0)}
    if v % 4 in (1, 3):
        sa["flip"] = v % 4 == 3
    layers = [
        _conv(rng, "conv", 1, c, 2, padding=1, activation="tanh"),
        sa,
        {"name": "flat", "type": "flatten"},
        _dense(rng, "out", c * (h + 1) ** 2, 1),
    ]
    return _network({"shape": [1, h, h]}, layers, _samples(rng, (1, h, h), 1, 2), rng)


def random_gelu(rng: np.random.Generator, v: int) -> dict:
    if v % 2 == 0:
        n, u = int(rng.integers(2, 4)), int(rng.integers(2, 4))
        layers = [_dense(rng, "hidden", n, u, "gelu"), _dense(rng, "out", u, 3, "softmax")]
        return _network(n, layers, _samples(rng, (n,), 3, 2, "cross_entropy"), rng, loss="cross_entropy")
    h = int(rng.integers(2, 4))
    layers = [
        _conv(rng, "conv", 1, 2, 2, padding=1),
        {"name": "g", "type": "activation", "activation": "gelu"},
        {"name": "flat", "type": "flatten"},
        _dense(rng, "out", 2 * (h + 1) ** 2, 1, "gelu"),
    ]
    return _network({"shape": [1, h, h]}, layers, _samples(rng, (1, h, h), 1, 2), rng)


def random_today(rng: np.random.Generator, v: int) -> dict:
    """Today's kinds in a graph: one dense layer feeds two later ones, joined by add; every activation, every loss."""
    n, u = int(rng.integers(2, 4)), int(rng.integers(2, 4))
    acts = ["sigmoid", "tanh", "relu", "leaky_relu", "identity"]
    loss = LOSSES[v % 3]
    out_act = {"mse": str(rng.choice(acts)), "cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}[loss]
    leaky = {"name": "leaky_relu", "slope": 0.1}
    layers = [
        _dense(rng, "h1", n, u, str(rng.choice(acts))),
        _dense(rng, "h2", u, u, leaky if rng.random() < 0.5 else "tanh"),
        _dense(rng, "h3", u, u, str(rng.choice(acts)), inputs=["h1"]),
        {"name": "join", "type": "add", "inputs": ["h2", "h3"]},
        _dense(rng, "out", u, 2, out_act),
    ]
    data = _samples(rng, (n,), 2, 3, loss)
    if loss == "binary_cross_entropy":
        for d in data:
            d["target"] = rng.uniform(0, 1, 2).round(3).tolist()
    return _network(n, layers, data, rng, loss=loss)


def random_chain(rng: np.random.Generator, v: int) -> dict:
    """Today's kinds in a chain: conv2d (stride, padding, dilation, flip, channels), a pooling, an activation
    layer, flatten, dense (a frozen bias, the from_to layout) and an output for one of the three losses."""
    c, h = int(rng.integers(1, 3)), int(rng.integers(4, 6))
    loss = LOSSES[v % 3]
    out_act = {
        "mse": str(rng.choice(["identity", "tanh", "relu"])),
        "cross_entropy": "softmax",
        "binary_cross_entropy": "sigmoid",
    }[loss]
    c2 = int(rng.integers(1, 3))
    conv = _conv(
        rng,
        "conv",
        c,
        c2,
        2,
        stride=int(rng.integers(1, 3)),
        padding=int(rng.integers(0, 2)),
        dilation=1 + (v // 2) % 2,
        flip=v % 2 == 0,
        activation="tanh",
    )
    side = _conv_out(h, 2, conv["stride"], conv["padding"], conv["dilation"])
    pool = {"name": "pool", "type": ["maxpool", "avgpool"][(v + v // 2) % 2], "size": 2, "stride": 1}
    side -= 1
    act = str(rng.choice(["sigmoid", "leaky_relu", "relu", "identity"]))
    units = int(rng.integers(2, 4))
    hidden = _dense(rng, "hidden", c2 * side * side, units, "tanh")
    hidden["bias"] = {"value": hidden["bias"], "trainable": False}
    out = _dense(rng, "out", units, 3, out_act)
    out["layout"] = "from_to"
    out["weight"] = np.asarray(out["weight"]).T.tolist()
    layers = [
        conv,
        pool,
        {"name": "act", "type": "activation", "activation": act},
        {"name": "flat", "type": "flatten"},
        hidden,
        out,
    ]
    data = _samples(rng, (c, h, h), 3, 2, "cross_entropy" if loss == "cross_entropy" else "mse")
    if loss == "binary_cross_entropy":
        for d in data:
            d["target"] = rng.uniform(0, 1, 3).round(3).tolist()
    return _network({"shape": [c, h, h]}, layers, data, rng, loss=loss)


BUILDERS: dict[str, Builder] = {
    "add": random_add,
    "multiply": random_multiply,
    "concat": random_concat,
    "global_avgpool": _random_global("global_avgpool"),
    "global_maxpool": _random_global("global_maxpool"),
    "batchnorm": random_batchnorm,
    "layernorm": random_layernorm,
    "dropout": random_dropout,
    "self_attention": random_self_attention,
    "spatial_attention": random_spatial_attention,
    "gelu": random_gelu,
}


def kinds_of(doc: dict) -> set[str]:
    """The layer kinds and activations a network uses (to skip what the build lacks)."""
    kinds = set()
    for raw in doc["layers"]:
        kinds.add(raw.get("type", "dense"))
        act = raw.get("activation", "identity")
        kinds.add(act["name"] if isinstance(act, dict) else act)
    return kinds
