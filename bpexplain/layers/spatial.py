"""Spatial attention (`type: spatial_attention`), CBAM's second half: one weight per position scales every channel.

For an input map X of C channels (Woo et al., 2018, "CBAM"; layer k of this kind is written with the tag k):

    Avgk(i,j) = (X(1,i,j) + … + X(C,i,j))/C          the channel mean at each position
    Maxk(i,j) = max(X(1,i,j), …, X(C,i,j))           the channel max (on a tie the first channel wins)
    Zsk(i,j)  = Σ_m Σ_n Ksk(1,m,n)·Avgk(…) + Ksk(2,m,n)·Maxk(…)   a k×k convolution of the two maps, padding k//2
    Msk(i,j)  = σ(Zsk(i,j))                          the attention map, between 0 and 1
    SAk(c,i,j) = X(c,i,j)·Msk(i,j)                   the output: the input scaled by it

The kernel Ks (YAML `kernel`, 2×k×k, k odd; in the JSON `<layer>.weight`, as for conv2d) is flipped as conv2d's
with `flip: true` (the default) or slides as written with `flip: false`; there is no bias. Going back:

    δMsk(i,j) = Σ_c δSAk(c,i,j)·X(c,i,j)
    δZsk(i,j) = δMsk(i,j)·Msk(i,j)·(1 − Msk(i,j))
    δAvgk, δMaxk: the full convolution of δZsk with the kernel, as conv2d's error goes back
    ∂E/∂X(c,i,j) = δSAk(c,i,j)·Msk(i,j) + δAvgk(i,j)/C (+ δMaxk(i,j) for the channel that won the max)
    ∂E/∂Ksk(1,m,n) = Σ_(i,j) δZsk(i,j)·Avgk(…), and Maxk(…) for Ksk(2,m,n)

The intermediate maps are kept by the forward (`state`) and the backward, so every equation shows numbers the
numerics computed. The equations are built from one table of which padded position meets which kernel entry.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import NumericalError
from ..expr import Call, Div, Elem, Expr, Mul, Name, Num, Sub, Sym, Var, add
from ..functions import make_activation
from ..limits import MAX_SIZE
from ..numerical import flag_non_finite
from ..spec import LayerSpec, Param, ParamInit, Reader, format_shape, read_param
from ..trace import Equation, NamedArray
from .base import EquationContext, LayerValues, StepKey, UnitNames
from .maps import MapLayer, MapNames, ordinal

KEYS = ("name", "type", "kernel", "kernel_size", "flip")
SIGMOID = Name("σ")

Tap = tuple[int, int, int]  # (kernel row, kernel column) as written, flat position in the H×W plane


def _dims(value: Any) -> tuple[int, ...]:
    dims = []
    while isinstance(value, list) and value:
        dims.append(len(value))
        value = value[0]
    return tuple(dims)


class SpatialAttention(MapLayer):
    type_name = "spatial_attention"
    yaml_keys = {"weight": "kernel"}
    has_activation = False
    keeps_state = True  # its forward keeps the channel mean and max, the sum Zs and the map Ms for the equations

    # ---- reading YAML ------------------------------------------------------------------------

    @classmethod
    def read_spec(
        cls,
        r: Reader,
        raw: dict,
        path: tuple,
        index: int,
        name: str,
        in_shape: tuple[int, ...],
        init: ParamInit,
        is_last: bool,
    ) -> LayerSpec:
        r.mapping(raw, path, KEYS)
        if len(in_shape) != 3:
            r.fail(
                path + ("type",),
                f"layer {name!r}: a spatial_attention layer needs a feature map (channels×rows×columns) "
                f"but gets shape {format_shape(in_shape)}",
                expected="inputs: {shape: [c, h, w]} or a map from a conv2d, pooling or other map layer",
            )
        c, h, w = in_shape
        flip = r.boolean(raw.get("flip", True), path + ("flip",))
        k = cls._kernel_size(r, raw, path, name)
        weight = read_param(
            r,
            raw.get("kernel"),
            path + ("kernel",),
            (2, k, k),
            f"a kernel [2][{k}][{k}] (the channel-mean map's {k}×{k}, then the channel-max map's)",
            init,
            2 * k * k,
            optional=False,
        )
        assert weight is not None
        params: dict[str, Param] = {"weight": weight}
        init.connect(r, path, h * w, 2 * k * k + c)
        options = {"kernel_size": k, "padding": k // 2, "flip": flip, "number": ordinal(r, index, cls.type_name)}
        return LayerSpec(
            name, cls.type_name, index, in_shape, in_shape, params, options=options, where=r.doc.where(path)
        )

    @staticmethod
    def _kernel_size(r: Reader, raw: dict, path: tuple, name: str) -> int:
        """k from the kernel given (2×k×k), or from kernel_size for a random or zeros kernel."""
        kernel = raw.get("kernel")
        value = kernel.get("value") if isinstance(kernel, dict) else kernel if isinstance(kernel, list) else None
        kpath = path + ("kernel",) + (("value",) if isinstance(kernel, dict) else ())
        size = r.integer(raw["kernel_size"], path + ("kernel_size",), 1, MAX_SIZE) if "kernel_size" in raw else None
        if value is None:
            if size is None:
                r.fail(
                    path,
                    f"layer {name!r}: the kernel's size is unknown",
                    expected="a 'kernel' [2][k][k], or 'kernel_size' (odd) for a random or zeros kernel",
                )
            k = size
        else:
            dims = _dims(value)
            if len(dims) != 3 or dims[0] != 2 or dims[1] != dims[2]:
                r.fail(
                    kpath,
                    f"layer {name!r}: found a kernel of shape {format_shape(dims)}",
                    expected="a kernel [2][k][k]: a k×k square for the channel-mean map, then one for the max map",
                )
            k = dims[1]
            if size is not None and size != k:
                r.fail(
                    path + ("kernel_size",),
                    f"layer {name!r}: kernel_size is {size} but the kernel is {k}×{k}",
                    expected="the kernel's rows and columns",
                )
        if k % 2 == 0:
            r.fail(
                kpath if value is not None else path + ("kernel_size",),
                f"layer {name!r}: the kernel is {k}×{k}, of even size",
                expected="an odd size (1, 3, 5, 7): padding k//2 keeps the map's size only then",
            )
        return k

    # ---- geometry and names --------------------------------------------------------------------

    def __init__(self, spec: LayerSpec, inputs: UnitNames, first_unit: int, is_output: bool, loss: Any) -> None:
        o = spec.options
        self.k = int(o["kernel_size"])
        self.pad = int(o["padding"])
        self.flip = bool(o["flip"])
        self.channels, self.h, self.w = spec.in_shape
        super().__init__(spec, inputs, first_unit, is_output, loss)
        plane = (1, self.h, self.w)
        t = self.tag
        self.avg_names = MapNames("Avg" + t, plane)
        self.max_names = MapNames("Max" + t, plane)
        self.z_names = MapNames("Zs" + t, plane)
        self.m_names = MapNames("Ms" + t, plane)
        self.sigmoid = make_activation("sigmoid").value
        self._taps: tuple[list[list[Tap]], list[list[Tap]], list[list[Tap]]] | None = None
        self._ksyms: dict[bool, list[Elem]] = {}

    def make_names(self) -> UnitNames:
        return MapNames("SA" + self.tag, self.spec.out_shape)

    def pre_symbol(self, i: int) -> Sym:
        return self.names.out(i)

    def kernel_symbols(self, prime: bool = False) -> list[Elem]:
        if prime not in self._ksyms:
            self._ksyms[prime] = [
                Elem("Ks" + self.tag, tuple(str(int(t) + 1) for t in idx), prime=prime)
                for idx in np.ndindex(2, self.k, self.k)
            ]
        return self._ksyms[prime]

    def param_symbol(self, pname: str, idx: tuple[int, ...], prime: bool = False) -> Sym:
        if pname != "weight":
            raise KeyError(pname)
        return self.kernel_symbols(prime)[int(np.ravel_multi_index(idx, (2, self.k, self.k)))]

    def _applied(self, a: int, b: int) -> tuple[int, int]:
        """The kernel entry (as written) at offset (a, b) of the window: rotated by 180° when flipped."""
        return (self.k - 1 - a, self.k - 1 - b) if self.flip else (a, b)

    def taps(self) -> tuple[list[list[Tap]], list[list[Tap]], list[list[Tap]]]:
        """Which map position meets which kernel entry (padding left out): by output position, by kernel entry
        (ka·k + kb, with (output position, input position)), by input position (output position, kernel)."""
        if self._taps is None:
            h, w, k, p = self.h, self.w, self.k, self.pad
            by_out: list[list[Tap]] = [[] for _ in range(h * w)]
            by_kernel: list[list[Tap]] = [[] for _ in range(k * k)]
            by_in: list[list[Tap]] = [[] for _ in range(h * w)]
            for oy in range(h):
                for ox in range(w):
                    for a in range(k):
                        rr = oy - p + a
                        if not 0 <= rr < h:
                            continue
                        for b in range(k):
                            cc = ox - p + b
                            if not 0 <= cc < w:
                                continue
                            ka, kb = self._applied(a, b)
                            out, at = oy * w + ox, rr * w + cc
                            by_out[out].append((ka, kb, at))
                            by_kernel[ka * k + kb].append((out, at, 0))
                            by_in[at].append((ka, kb, out))
            self._taps = (by_out, by_kernel, by_in)
        return self._taps

    def receptive_field(self, i: int) -> tuple[int, ...]:
        """The input elements SA(c,i,j) reads: every channel at every position the kernel reaches from (i,j)."""
        at = i % (self.h * self.w)
        hw = self.h * self.w
        return tuple(c * hw + q for c in range(self.channels) for _, _, q in self.taps()[0][at])

    # ---- numerics ----------------------------------------------------------------------------

    def _slid(self, params: Mapping[str, np.ndarray]) -> np.ndarray:
        kernel = params["weight"].reshape(2, self.k, self.k)
        return kernel[:, ::-1, ::-1] if self.flip else kernel

    def _windows(self, maps: np.ndarray) -> np.ndarray:
        """(2, H, W, k, k): the padded neighbourhood of every position in the mean and max maps."""
        p = self.pad
        padded = np.pad(maps, ((0, 0), (p, p), (p, p)))
        return sliding_window_view(padded, (self.k, self.k), axis=(1, 2))

    def forward_values(
        self, params: Mapping[str, np.ndarray], xs: tuple[np.ndarray, ...], key: StepKey
    ) -> tuple[np.ndarray, dict[str, Any]]:
        x = xs[0].reshape(self.spec.in_shape)
        try:
            avg, mx, arg, z = self._maps(params, x)
        except FloatingPointError:
            # the engine names the first value that is not finite among e and y only: Avg or Zs is named here
            with np.errstate(all="ignore"):
                avg, mx, arg, z = self._maps(params, x)
            raise self._overflow(key, avg, z) from None
        m = self.sigmoid(z)
        y = x * m[None]
        return y, {"avg": avg, "max": mx, "argmax": arg, "z": z, "m": m}

    def _maps(self, params: Mapping[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, ...]:
        """The channel mean and max (and which channel won), and the kernel's sum Zs over them."""
        avg = x.sum(axis=0) / self.channels  # channel by channel, in order: the equation's sum
        arg = x.argmax(axis=0)  # the first channel on a tie
        mx = np.take_along_axis(x, arg[None], axis=0)[0]
        maps = np.stack([avg, mx])
        # np.einsum sets no floating-point flag when a sum overflows: flag_non_finite sets it (numerical.py)
        z = flag_non_finite(np.einsum("chwab,cab->hw", self._windows(maps), self._slid(params)))
        return avg, mx, arg, z

    def _overflow(self, key: StepKey, avg: np.ndarray, z: np.ndarray) -> NumericalError:
        from ..numerical import EXPECTED

        for names, values, what in ((self.avg_names, avg, "channel mean"), (self.z_names, z, "kernel's sum")):
            bad = np.flatnonzero(~np.isfinite(values))
            if bad.size:
                q = int(bad[0])
                value = float(values.flat[q])
                word = (
                    "NaN (an invalid operation such as ∞ − ∞ or 0·∞)"
                    if np.isnan(value)
                    else (f"{'+' if value > 0 else '−'}∞ (overflow)")
                )
                return NumericalError(
                    f"step {key.step}, forward pass, layer {self.name!r}: the {what} {names.out(q)} = {word}",
                    where=self.spec.where,
                    path=f"layers[{self.spec.index}]",
                    expected=EXPECTED,
                )
        return NumericalError(
            f"step {key.step}, forward pass, layer {self.name!r}: a value that is not finite",
            where=self.spec.where,
            path=f"layers[{self.spec.index}]",
            expected=EXPECTED,
        )

    def pre_activation(self, params: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        return self.forward_values(params, (x,), StepKey(0, 1, 1, False))[0]

    def local_backward(self, v: LayerValues, target: np.ndarray | None) -> None:
        """∂E/∂SA from above (or the loss), then the errors of Ms and Zs, kept for the equations and gradients."""
        super().local_backward(v, target)
        assert v.d_pre is not None
        d = v.d_pre.reshape(self.spec.in_shape)
        x = v.x.reshape(self.spec.in_shape)
        m = v.state["m"]
        d_m = (d * x).sum(axis=0)
        d_z = d_m * m * (1.0 - m)
        # a new dict: the exact rule's copy of these values (--rule slide) shares the forward's state
        v.state = {**v.state, "d_m": d_m, "d_z": d_z}

    def parameter_gradients(self, v: LayerValues) -> dict[str, np.ndarray]:
        maps = np.stack([v.state["avg"], v.state["max"]])
        g = flag_non_finite(np.einsum("chwab,hw->cab", self._windows(maps), v.state["d_z"]))
        if self.flip:
            g = g[:, ::-1, ::-1]
        return {"weight": np.ascontiguousarray(g).reshape(self.spec.params["weight"].value.shape)}

    def param_gradients(self, x: np.ndarray, d_pre: np.ndarray) -> dict[str, np.ndarray]:
        raise TypeError("spatial attention's gradients need its kept maps: see parameter_gradients")

    def input_gradients(
        self, params: Mapping[str, np.ndarray], v: LayerValues, d_pre: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        """δSA·Ms, plus the errors of the mean and max maps (a full convolution of δZs with the kernel)."""
        h, w, k, p = self.h, self.w, self.k, self.pad
        d_z = v.state["d_z"]
        slid = self._slid(params)
        d_maps = np.zeros((2, h + 2 * p, w + 2 * p))
        for a in range(k):
            for b in range(k):
                d_maps[:, a : a + h, b : b + w] += slid[:, a, b][:, None, None] * d_z
        d_maps = flag_non_finite(np.ascontiguousarray(d_maps[:, p : p + h, p : p + w]))
        d_avg, d_max = d_maps[0], d_maps[1]
        v.state = {**v.state, "d_avg": d_avg, "d_max": d_max}
        d = d_pre.reshape(self.spec.in_shape)
        dx = d * v.state["m"][None] + d_avg[None] / self.channels
        won = np.zeros_like(dx)
        np.put_along_axis(won, v.state["argmax"][None], d_max[None], axis=0)
        return (dx + won,)

    def input_gradient(self, params: Mapping[str, np.ndarray], x: np.ndarray, d_pre: np.ndarray) -> np.ndarray:
        raise TypeError("spatial attention's backward needs its kept maps: see input_gradients")

    def sides(self, v: LayerValues) -> bytes:
        """Which channel wins each position's max: a change of winner is a kink of max."""
        return np.asarray(v.state["argmax"]).tobytes()

    # ---- equations -----------------------------------------------------------------------------

    def _kernel_vars(self, v: LayerValues, params: Mapping[str, np.ndarray], prime: bool) -> list[Var]:
        return [Var(s, value) for s, value in zip(self.kernel_symbols(prime), params["weight"].ravel().tolist())]

    def _plane_vars(self, names: MapNames, values: np.ndarray) -> list[Var]:
        return [Var(names.out(q), value) for q, value in enumerate(values.ravel().tolist())]

    def forward_equations(self, v: LayerValues) -> Iterator[Equation]:
        st = v.state
        hw, c = self.h * self.w, self.channels
        xs = self.input_vars(v)
        avg, mx = self._plane_vars(self.avg_names, st["avg"]), self._plane_vars(self.max_names, st["max"])
        for q in range(hw):
            column = [xs[ch * hw + q] for ch in range(c)]
            field = tuple(ch * hw + q for ch in range(c))
            rhs: Expr = Div(add(*column), Num(c)) if c > 1 else column[0]
            yield Equation.of("forward", avg[q].sym, rhs, avg[q].value, cells=field)
        for q in range(hw):
            column = [xs[ch * hw + q] for ch in range(c)]
            field = tuple(ch * hw + q for ch in range(c))
            rhs = Call(Name("max"), tuple(column)) if c > 1 else column[0]
            yield Equation.of("forward", mx[q].sym, rhs, mx[q].value, cells=field)
        ks = self._kernel_vars(v, v.params, False)
        kk = self.k * self.k
        z = st["z"].ravel().tolist()
        for q in range(hw):
            taps = self.taps()[0][q]
            terms: list[Expr] = [Mul((ks[ka * self.k + kb], avg[at])) for ka, kb, at in taps]
            terms += [Mul((ks[kk + ka * self.k + kb], mx[at])) for ka, kb, at in taps]
            yield Equation.of("forward", self.z_names.out(q), add(*terms) if terms else Num(0), z[q])
        m = st["m"].ravel().tolist()
        for q in range(hw):
            yield Equation.of("forward", self.m_names.out(q), Call(SIGMOID, (Var(self.z_names.out(q), z[q]),)), m[q])
        for i in range(self.units):
            yield Equation.of(
                "forward", self.pre_symbol(i), self.pre_activation_rhs(v, i), float(v.e.flat[i]), cells=(i,)
            )

    def pre_activation_rhs(self, v: LayerValues, i: int) -> Expr:
        q = i % (self.h * self.w)
        return Mul((self.input_vars(v)[i], Var(self.m_names.out(q), float(v.state["m"].flat[q]))))

    def error_equations(
        self,
        v: LayerValues,
        ctx: EquationContext,
        incoming: list[Expr] | None,
        target: np.ndarray | None,
        output_pairs: list[tuple[Expr, Expr]] | None,
    ) -> Iterator[Equation]:
        yield from super().error_equations(v, ctx, incoming, target, output_pairs)
        st = v.state
        assert v.d_out is not None
        hw, c = self.h * self.w, self.channels
        xs = self.input_vars(v)
        d_sa = v.d_out.ravel().tolist()
        m = st["m"].ravel().tolist()
        d_m, d_z = st["d_m"].ravel().tolist(), st["d_z"].ravel().tolist()
        names = self.names
        for q in range(hw):
            terms = [Mul((Var(names.err(ch * hw + q), d_sa[ch * hw + q]), xs[ch * hw + q])) for ch in range(c)]
            yield Equation.of("error", self.m_names.err(q), add(*terms), d_m[q])
        for q in range(hw):
            ms = Var(self.m_names.out(q), m[q])
            rhs = Mul((Var(self.m_names.err(q), d_m[q]), ms, Sub(Num(1), ms)))
            yield Equation.of("error", self.z_names.err(q), rhs, d_z[q])
        if "d_avg" not in st:  # the layer reads the network's input: no error goes further back
            return
        prime = v.prop_params is not None and v.prop_params is not v.params
        ks = self._kernel_vars(v, v.prop_params if v.prop_params is not None else v.params, prime)
        kk = self.k * self.k
        by_in = self.taps()[2]
        for names_, values, base in ((self.avg_names, st["d_avg"], 0), (self.max_names, st["d_max"], kk)):
            flat = values.ravel().tolist()
            for q in range(hw):
                terms = [
                    Mul((ks[base + ka * self.k + kb], Var(self.z_names.err(out), d_z[out]))) for ka, kb, out in by_in[q]
                ]
                yield Equation.of("error", names_.err(q), add(*terms) if terms else Num(0), flat[q])

    def gradient_rhs(self, v: LayerValues, ctx: EquationContext, pname: str, idx: tuple[int, ...]) -> Expr:
        if pname != "weight":
            raise KeyError(pname)
        ch, ka, kb = idx
        st = v.state
        names, values = (self.avg_names, st["avg"]) if ch == 0 else (self.max_names, st["max"])
        plane = values.ravel().tolist()
        d_z = st["d_z"].ravel().tolist()
        terms: list[Expr] = [
            Mul((Var(self.z_names.err(out), d_z[out]), Var(names.out(at), plane[at])))
            for out, at, _ in self.taps()[1][ka * self.k + kb]
        ]
        return add(*terms) if terms else Num(0)

    def propagation_rhs(self, v: LayerValues, ctx: EquationContext, j: int) -> Expr:
        st = v.state
        assert v.d_out is not None
        hw = self.h * self.w
        ch, q = divmod(j, hw)
        terms: list[Expr] = [
            Mul((Var(self.names.err(j), float(v.d_out.flat[j])), Var(self.m_names.out(q), float(st["m"].flat[q]))))
        ]
        d_avg = Var(self.avg_names.err(q), float(st["d_avg"].flat[q]))
        terms.append(Div(d_avg, Num(self.channels)) if self.channels > 1 else d_avg)
        if int(st["argmax"].flat[q]) == ch:
            terms.append(Var(self.max_names.err(q), float(st["d_max"].flat[q])))
        return add(*terms)

    def propagation_terms(self, v: LayerValues, ctx: EquationContext, slot: int = 0) -> list[Expr]:
        return [self.propagation_rhs(v, ctx, j) for j in range(self.units)]

    # ---- what the blocks say -------------------------------------------------------------------

    def convention(self) -> str:
        if self.flip:
            return "flipped (rotated by 180° before it slides, as conv2d's default)"
        return "not flipped (cross-correlation, as PyTorch's Conv2d)"

    def block_note(self, phase: str, ctx: EquationContext) -> str | None:
        t, k, c = self.tag, self.k, self.channels
        if phase == "forward":
            return (
                f"Spatial attention {t} (CBAM): the channel mean Avg{t} and channel max Max{t} of the {c} channel(s) "
                f"at each position; their {k}×{k} convolution with Ks{t} ({self.convention()}, padding {self.pad}, "
                f"terms on the padding left out) is Zs{t}; Ms{t} = σ(Zs{t}) weighs each position, and every channel "
                f"there is scaled by it: SA{t}(c,i,j) = input(c,i,j)·Ms{t}(i,j)."
            )
        if phase == "error":
            return (
                f"Going back inside spatial attention {t}: δMs{t} sums δSA{t} × input over the channels; "
                f"δZs{t} = δMs{t}·σ'(Zs{t}) = δMs{t}·Ms{t}·(1 − Ms{t}); δAvg{t} and δMax{t} collect δZs{t} × kernel "
                f"entry from every position whose window holds them (a full convolution)."
                + ("" if not self.is_output else " δSA is the derivative of the loss at each output element.")
            )
        if phase == "gradient":
            return (
                f"Each kernel entry's gradient sums, over every position, δZs{t} times the element of the mean "
                f"(Ks{t}(1,m,n)) or max (Ks{t}(2,m,n)) map that entry met."
            )
        return None

    def propagation_note(self, ctx: EquationContext) -> str | None:
        t = self.tag
        return (
            f"The error goes back through spatial attention {t} on three paths: δSA{t}·Ms{t} directly, δAvg{t}/C "
            f"through the channel mean, and δMax{t} to the channel that won the max (the first on a tie)."
        )

    def block_arrays(self, phase: str, v: LayerValues) -> tuple[NamedArray, ...] | None:
        t, st = self.tag, v.state
        plane = (1, self.h, self.w)
        if phase == "forward":
            arrays = [NamedArray(f"Ks{t}", v.params["weight"])]
            if self.flip:
                arrays.append(NamedArray(f"Ks{t} rotated 180°", np.ascontiguousarray(self._slid(v.params))))
            for label, key in (("Avg", "avg"), ("Max", "max"), ("Zs", "z"), ("Ms", "m")):
                arrays.append(NamedArray(f"{label}{t}", st[key].reshape(plane)))
            arrays.append(NamedArray(f"SA{t}", v.y))
            return tuple(arrays)
        if phase == "error":
            arrays = [NamedArray(f"δSA{t}", v.d_out)] if v.d_out is not None else []
            for label, key in (("δMs", "d_m"), ("δZs", "d_z"), ("δAvg", "d_avg"), ("δMax", "d_max")):
                if key in st:
                    arrays.append(NamedArray(f"{label}{t}", st[key].reshape(plane)))
            return tuple(arrays)
        if phase == "gradient":
            return tuple(NamedArray(f"∂E/∂Ks{t}", g) for g in v.grads.values())
        return None

    def convention_lines(self) -> tuple[str, ...]:
        return (
            "spatial attention (CBAM): Ms = σ(a k×k convolution, padding k//2, of the channel mean and channel "
            "max maps, in that order), output = input·Ms at every channel; the max's error goes to the first "
            "channel on a tie.",
        )

    def legend_rows(self) -> tuple[tuple[Expr, str], ...]:
        ij = ("i", "j")
        return (
            (Elem("Avgk", ij), "channel mean of spatial attention k's input at (i,j)"),
            (Elem("Maxk", ij), "channel max of spatial attention k's input at (i,j)"),
            (Elem("Ksk", ("c", "m", "n")), "kernel of spatial attention k (c = 1: mean map, 2: max map)"),
            (Elem("Zsk", ij), "the kernel's sum over the mean and max maps at (i,j)"),
            (Elem("Msk", ij), "attention map σ(Zsk(i,j)), between 0 and 1"),
            (Elem("SAk", ("c", "i", "j")), "output of spatial attention k: input(c,i,j)·Msk(i,j)"),
        )


__all__ = ["SpatialAttention"]
