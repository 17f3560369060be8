"""The 2-D convolution layer (`type: conv2d`), worked element by element.

With `flip: true` (the default, the lecture's definition) O(i,j) = Σ_m Σ_n I(i−m, j−n)·K(m,n): the kernel
is rotated by 180° before it slides, so in each sum an input element meets the kernel entry opposite
to it. With `flip: false` the kernel slides as written (cross-correlation, what PyTorch and TensorFlow
compute and call convolution). Stride s, zero padding p and dilation d act as in PyTorch's Conv2d;
terms that fall on the padding are 0 and are left out of the sums.

Maps are arrays (channels, rows, columns); the kernel is stored as the file gives it, a plain matrix
for one input and one output channel or [out][in][kh][kw], and used as (out, in, kh, kw). The numerics
are vectorised (a sliding-window view of the padded input); the equations are built from tables of
which input element meets which kernel entry at which output position, made once per layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..expr import Add, Elem, Expr, Mul, Num, Sym, Var, add, mul
from ..limits import MAX_SIZE
from ..numerical import flag_non_finite
from ..spec import LayerSpec, Param, ParamInit, Reader, format_shape, read_param
from ..trace import NamedArray
from .base import EquationContext, LayerValues, UnitNames
from .maps import LayerMapNames, MapLayer, MapNames, ordinal, pair, size_formula

KEYS = (
    "name",
    "type",
    "kernel",
    "kernel_size",
    "channels",
    "bias",
    "stride",
    "padding",
    "dilation",
    "flip",
    "activation",
)

Tap = tuple[int, int, int, int]  # (kernel row, kernel column) as written in the file, (input row, input column)


def _dims(value: Any) -> tuple[int, ...]:
    """The lengths along the first elements of a nested list (the shape, when it is regular)."""
    dims = []
    while isinstance(value, list) and value:
        dims.append(len(value))
        value = value[0]
    return tuple(dims)


def _single(p: tuple[int, int]) -> int | list[int]:
    return p[0] if p[0] == p[1] else list(p)


class Conv2d(MapLayer):
    type_name = "conv2d"
    yaml_keys = {"weight": "kernel"}

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
                f"layer {name!r}: a conv2d layer needs a feature map (channels×rows×columns) "
                f"but gets shape {format_shape(in_shape)}",
                expected="inputs: {shape: [c, h, w]} or a map from a conv2d or pooling layer",
            )
        c_in, h, w = in_shape
        stride = pair(r, raw.get("stride", 1), path + ("stride",), 1)
        padding = pair(r, raw.get("padding", 0), path + ("padding",), 0)
        dilation = pair(r, raw.get("dilation", 1), path + ("dilation",), 1)
        flip = r.boolean(raw.get("flip", True), path + ("flip",))
        kshape = cls._kernel_shape(r, raw, path, name, in_shape)
        c_out, _, kh, kw = kshape
        given = cls._kernel_value(raw)
        plain = kshape[:2] == (1, 1) and (given is None or len(_dims(given)) == 2)
        stored = (kh, kw) if plain else kshape
        fan_in = c_in * kh * kw
        what = (
            "a kernel [rows][columns]"
            if len(stored) == 2
            else f"a kernel [out][in][rows][columns] ({c_out} output and {c_in} input channels)"
        )
        weight = read_param(r, raw.get("kernel"), path + ("kernel",), stored, what, init, fan_in, optional=False)
        assert weight is not None
        params: dict[str, Param] = {"weight": weight}
        bias = read_param(
            r, raw.get("bias"), path + ("bias",), (c_out,), "one value per output channel", init, fan_in, optional=True
        )
        if bias is not None:
            params["bias"] = bias
        out_hw = []
        for axis, (n, k) in enumerate(((h, kh), (w, kw))):
            span = dilation[axis] * (k - 1) + 1
            if n + 2 * padding[axis] < span:
                r.fail(
                    path + ("kernel",),
                    f"layer {name!r}: the kernel {kh}×{kw}"
                    + (
                        f" (spanning {dilation[0] * (kh - 1) + 1}×{dilation[1] * (kw - 1) + 1} with dilation "
                        f"{format_shape(dilation)})"
                        if dilation != (1, 1)
                        else ""
                    )
                    + f" is larger than the padded input {h + 2 * padding[0]}×{w + 2 * padding[1]} (input "
                    f"{format_shape(in_shape)}, padding {format_shape(padding)})",
                    expected="a smaller kernel, more padding or a larger input",
                )
            out_hw.append((n + 2 * padding[axis] - span) // stride[axis] + 1)
        init.connect(r, path, c_out * out_hw[0] * out_hw[1], c_in * kh * kw)
        activation, slope = cls.read_activation(r, raw.get("activation", "identity"), path + ("activation",), is_last)
        options = {
            "kernel_size": [kh, kw],
            "channels": c_out,
            "stride": _single(stride),
            "padding": _single(padding),
            "dilation": _single(dilation),
            "flip": flip,
            "number": ordinal(r, index, cls.type_name),
        }
        return LayerSpec(
            name,
            cls.type_name,
            index,
            in_shape,
            (c_out, out_hw[0], out_hw[1]),
            params,
            activation,
            slope,
            options,
            where=r.doc.where(path),
        )

    @staticmethod
    def _kernel_value(raw: dict) -> Any:
        k = raw.get("kernel")
        return k.get("value") if isinstance(k, dict) else (k if isinstance(k, list) else None)

    @classmethod
    def _kernel_shape(
        cls, r: Reader, raw: dict, path: tuple, name: str, in_shape: tuple[int, ...]
    ) -> tuple[int, int, int, int]:
        """(out, in, kh, kw) from the kernel given, or from kernel_size and channels."""
        c_in = in_shape[0]
        channels = r.integer(raw["channels"], path + ("channels",), 1, MAX_SIZE) if "channels" in raw else None
        size = pair(r, raw["kernel_size"], path + ("kernel_size",), 1) if "kernel_size" in raw else None
        value = cls._kernel_value(raw)
        kpath = path + ("kernel",) + (("value",) if isinstance(raw.get("kernel"), dict) else ())
        if value is None:
            if size is None:
                r.fail(
                    path,
                    f"layer {name!r}: the kernel's size is unknown",
                    expected="a 'kernel' matrix, or 'kernel_size' (and 'channels') for random values",
                )
            return (channels or 1, c_in, size[0], size[1])
        dims = _dims(value)
        if len(dims) == 2:
            if c_in != 1:
                r.fail(
                    kpath,
                    f"layer {name!r}: a plain {dims[0]}×{dims[1]} kernel is for one input channel, but "
                    f"the input {format_shape(in_shape)} has {c_in}",
                    expected=f"a kernel [out][in][rows][columns] with in = {c_in}",
                )
            shape = (1, 1, dims[0], dims[1])
        elif len(dims) == 4:
            shape = dims  # type: ignore[assignment]
            if dims[1] != c_in:
                r.fail(
                    kpath,
                    f"layer {name!r}: the kernel {format_shape(dims)} has {dims[1]} input channel(s), but "
                    f"the input {format_shape(in_shape)} has {c_in}",
                    expected=f"a kernel [out][in][rows][columns] with in = {c_in}",
                )
        else:
            r.fail(
                kpath,
                f"layer {name!r}: found a kernel of shape {format_shape(dims)}",
                expected="a matrix [rows][columns] (one channel) or [out][in][rows][columns]",
            )
        if channels is not None and channels != shape[0]:
            r.fail(
                path + ("channels",),
                f"layer {name!r}: channels is {channels} but the kernel has {shape[0]} output channel(s)",
                expected="the kernel's first dimension",
            )
        if size is not None and size != shape[2:]:
            r.fail(
                path + ("kernel_size",),
                f"layer {name!r}: kernel_size is {format_shape(size)} but the kernel is {format_shape(shape[2:])}",
                expected="the kernel's rows and columns",
            )
        return shape  # type: ignore[return-value]

    # ---- geometry ----------------------------------------------------------------------------

    def __init__(self, spec: LayerSpec, inputs: UnitNames, first_unit: int, is_output: bool, loss: Any) -> None:
        o = spec.options
        self.stride = self._two(o["stride"])
        self.padding = self._two(o["padding"])
        self.dilation = self._two(o["dilation"])
        self.flip = bool(o["flip"])
        self.kshape = (int(o["channels"]), spec.in_shape[0], *map(int, o["kernel_size"]))
        super().__init__(spec, inputs, first_unit, is_output, loss)
        self.has_activation = spec.activation != "identity"
        self._tables: tuple[dict[tuple[int, int], list[Tap]], ...] | None = None
        self._flat_tables: tuple[dict[tuple[int, int], list[tuple[int, int]]], ...] | None = None
        self._kernel_cache: tuple[Any, ...] = ()
        self._field_cache: list[tuple[int, ...]] | None = None
        self._ksyms: dict[bool, list[Elem]] = {}

    @staticmethod
    def _two(v: Any) -> tuple[int, int]:
        return (int(v[0]), int(v[1])) if isinstance(v, list) else (int(v), int(v))

    def make_names(self) -> UnitNames:
        pre = MapNames("O" + self.tag, self.spec.out_shape)
        if self.spec.activation == "identity":
            return pre
        return LayerMapNames(MapNames("Y" + self.tag, self.spec.out_shape), pre)

    def _applied(self, a: int, b: int) -> tuple[int, int]:
        """The kernel entry (as written) at offset (a, b) of the window: rotated by 180° when flipped."""
        _, _, kh, kw = self.kshape
        return (kh - 1 - a, kw - 1 - b) if self.flip else (a, b)

    def tables(self) -> tuple[dict[tuple[int, int], list[Tap]], ...]:
        """Which input element meets which kernel entry: by output position, by kernel entry, by input element."""
        if self._tables is None:
            _, h, w = self.spec.in_shape
            _, ho, wo = self.spec.out_shape
            _, _, kh, kw = self.kshape
            by_out: dict[tuple[int, int], list[Tap]] = {}
            by_kernel: dict[tuple[int, int], list[Tap]] = {}
            by_in: dict[tuple[int, int], list[Tap]] = {}
            for oy in range(ho):
                for ox in range(wo):
                    for a in range(kh):
                        rr = oy * self.stride[0] - self.padding[0] + a * self.dilation[0]
                        if not 0 <= rr < h:
                            continue
                        for b in range(kw):
                            cc = ox * self.stride[1] - self.padding[1] + b * self.dilation[1]
                            if not 0 <= cc < w:
                                continue
                            ka, kb = self._applied(a, b)
                            by_out.setdefault((oy, ox), []).append((ka, kb, rr, cc))
                            by_kernel.setdefault((ka, kb), []).append((oy, ox, rr, cc))
                            by_in.setdefault((rr, cc), []).append((oy, ox, ka, kb))
            self._tables = (by_out, by_kernel, by_in)
        return self._tables

    # ---- naming ------------------------------------------------------------------------------

    def pre_symbol(self, i: int) -> Sym:
        names = self.names
        return names.pre.out(i) if isinstance(names, LayerMapNames) else names.out(i)  # type: ignore[attr-defined]

    def _kernel_indices(self, flat: int) -> tuple[str, ...]:
        o, c, m, n = np.unravel_index(flat, self.kshape)
        parts = ([str(o + 1)] if self.kshape[0] > 1 else []) + ([str(c + 1)] if self.kshape[1] > 1 else [])
        return tuple(parts + [str(m + 1), str(n + 1)])

    def kernel_symbols(self, prime: bool = False) -> list[Elem]:
        if prime not in self._ksyms:
            self._ksyms[prime] = [
                Elem("K" + self.tag, self._kernel_indices(k), prime=prime) for k in range(int(np.prod(self.kshape)))
            ]
        return self._ksyms[prime]

    def param_symbol(self, pname: str, idx: tuple[int, ...], prime: bool = False) -> Sym:
        if pname == "bias":
            return Elem("b" + self.tag, (str(idx[0] + 1),), prime=prime)
        return self.kernel_symbols(prime)[int(np.ravel_multi_index(idx, self.spec.params["weight"].value.shape))]

    # ---- numerics ----------------------------------------------------------------------------

    def kernel4(self, params: Mapping[str, np.ndarray]) -> np.ndarray:
        return params["weight"].reshape(self.kshape)

    def slid(self, params: Mapping[str, np.ndarray]) -> np.ndarray:
        """The kernel as it slides: rotated by 180° when flipped."""
        k = self.kernel4(params)
        return k[:, :, ::-1, ::-1] if self.flip else k

    def windows(self, x: np.ndarray) -> np.ndarray:
        """(in, out rows, out columns, kh, kw): the receptive field of every output position."""
        (ph, pw), (dh, dw), (sh, sw) = self.padding, self.dilation, self.stride
        _, _, kh, kw = self.kshape
        _, ho, wo = self.spec.out_shape
        xp = np.pad(x.reshape(self.spec.in_shape), ((0, 0), (ph, ph), (pw, pw)))
        win = sliding_window_view(xp, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(1, 2))
        return win[:, ::sh, ::sw, ::dh, ::dw][:, :ho, :wo]

    def pre_activation(self, params: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        # np.einsum sets no floating-point flag when a sum overflows: flag_non_finite sets it (numerical.py)
        e = flag_non_finite(np.einsum("chwab,ocab->ohw", self.windows(x), self.slid(params)))
        if "bias" in params:
            e = e + params["bias"][:, None, None]
        return e

    def input_gradient(self, params: Mapping[str, np.ndarray], x: np.ndarray, d_pre: np.ndarray) -> np.ndarray:
        """A full convolution of the error with the rotated kernel: each output error goes back to its field."""
        (ph, pw), (dh, dw), (sh, sw) = self.padding, self.dilation, self.stride
        c, h, w = self.spec.in_shape
        _, ho, wo = self.spec.out_shape
        k = self.slid(params)
        d = d_pre.reshape(self.spec.out_shape)
        dxp = np.zeros((c, h + 2 * ph, w + 2 * pw))
        for a in range(self.kshape[2]):
            for b in range(self.kshape[3]):
                dxp[:, a * dh : a * dh + sh * (ho - 1) + 1 : sh, b * dw : b * dw + sw * (wo - 1) + 1 : sw] += np.einsum(
                    "ohw,oc->chw", d, k[:, :, a, b]
                )
        return flag_non_finite(dxp[:, ph : ph + h, pw : pw + w])

    def param_gradients(self, x: np.ndarray, d_pre: np.ndarray) -> dict[str, np.ndarray]:
        d = d_pre.reshape(self.spec.out_shape)
        g = flag_non_finite(np.einsum("chwab,ohw->ocab", self.windows(x), d))
        if self.flip:
            g = g[:, :, ::-1, ::-1]
        grads = {"weight": np.ascontiguousarray(g).reshape(self.spec.params["weight"].value.shape)}
        if "bias" in self.spec.params:
            grads["bias"] = d.sum(axis=(1, 2))
        return grads

    # ---- right-hand sides ----------------------------------------------------------------------

    def _plane(self) -> tuple[int, int, int, int]:
        c, h, w = self.spec.in_shape
        _, ho, wo = self.spec.out_shape
        return c, h * w, w, ho * wo

    def flat_tables(self) -> tuple[dict[tuple[int, int], list[tuple[int, int]]], ...]:
        """`tables()` as flat offsets, for the equations' inner loops: by output position (input element in
        the plane, kernel entry in the kh×kw block), by kernel entry (output position, input element), by
        input element (output position, kernel entry)."""
        if self._flat_tables is None:
            w, wo, kw = self.spec.in_shape[2], self.spec.out_shape[2], self.kshape[3]
            by_out, by_kernel, by_in = self.tables()
            self._flat_tables = (
                {at: [(rr * w + cc, ka * kw + kb) for ka, kb, rr, cc in taps] for at, taps in by_out.items()},
                {at: [(oy * wo + ox, rr * w + cc) for oy, ox, rr, cc in taps] for at, taps in by_kernel.items()},
                {at: [(oy * wo + ox, ka * kw + kb) for oy, ox, ka, kb in taps] for at, taps in by_in.items()},
            )
        return self._flat_tables

    def receptive_field(self, i: int) -> tuple[int, ...]:
        _, ho, wo = self.spec.out_shape
        if self._field_cache is None:  # by output position: every output channel reads the same field
            c_in, hw, _, _ = self._plane()
            taps = self.flat_tables()[0]
            self._field_cache = [
                tuple(c * hw + p for c in range(c_in) for p, _ in taps.get(divmod(pos, wo), ()))
                for pos in range(ho * wo)
            ]
        return self._field_cache[i % (ho * wo)]

    def kernel_vars(self, v: LayerValues, params: Mapping[str, np.ndarray], prime: bool) -> list[Var]:
        """The kernel's entries as bound leaves (K1(m,n) and its value), made once per step and kernel."""
        c = self._kernel_cache
        if c and c[0] is v and c[1] is params and c[2] == prime:
            return c[3]  # type: ignore[no-any-return]
        values = params["weight"].ravel().tolist()
        leaves = [Var(sym, value) for sym, value in zip(self.kernel_symbols(prime), values, strict=True)]
        self._kernel_cache = (v, params, prime, leaves)
        return leaves

    def pre_activation_rhs(self, v: LayerValues, i: int) -> Expr:
        o, oy, ox = (int(t) for t in np.unravel_index(i, self.spec.out_shape))
        c_in, hw, _, _ = self._plane()
        khw = self.kshape[2] * self.kshape[3]
        ins = self.input_vars(v)
        ks = self.kernel_vars(v, v.params, False)
        taps = self.flat_tables()[0].get((oy, ox), ())
        terms: list[Expr] = [Mul((ins[c * hw + p], ks[(o * c_in + c) * khw + r])) for c in range(c_in) for p, r in taps]
        if "bias" in v.params:
            terms.append(Var(self.param_symbol("bias", (o,)), float(v.params["bias"][o])))
        return add(*terms) if terms else Num(0)

    def gradient_rhs(self, v: LayerValues, ctx: EquationContext, pname: str, idx: tuple[int, ...]) -> Expr:
        factors = self.unit_factors(v, ctx, slide=False)
        _, ho, wo = self.spec.out_shape
        if pname == "bias":
            o = idx[0]
            return add(*[mul(*factors[o * ho * wo + p]) for p in range(ho * wo)])
        o, c, ka, kb = (
            int(t) for t in np.unravel_index(int(np.ravel_multi_index(idx, v.grads["weight"].shape)), self.kshape)
        )
        _, hw, _, _ = self._plane()
        ins = self.input_vars(v)
        obase, ibase = o * ho * wo, c * hw
        terms: list[Expr] = [
            Mul(factors[obase + pos] + (ins[ibase + p],)) for pos, p in self.flat_tables()[1].get((ka, kb), ())
        ]
        return add(*terms) if terms else Num(0)

    def propagation_rhs(self, v: LayerValues, ctx: EquationContext, j: int) -> Expr:
        params = v.prop_params if v.prop_params is not None else v.params
        prime = v.prop_params is not None and v.prop_params is not v.params
        factors = self.unit_factors(v, ctx, slide=ctx.rule == "slide")
        c, rr, cc = (int(t) for t in np.unravel_index(j, self.spec.in_shape))
        c_out, c_in, kh, kw = self.kshape
        _, ho, wo = self.spec.out_shape
        ks = self.kernel_vars(v, params, prime)
        taps = self.flat_tables()[2].get((rr, cc), ())
        terms: list[Expr] = [
            Mul((ks[(o * c_in + c) * kh * kw + r],) + factors[o * ho * wo + pos])
            for o in range(c_out)
            for pos, r in taps
        ]
        return add(*terms) if terms else Num(0)

    # ---- what the blocks say -------------------------------------------------------------------

    def convention(self) -> str:
        if self.flip:
            return (
                "flipped (true convolution, the lecture's definition O(i,j) = Σ_m Σ_n I(i−m, j−n)·K(m,n)): "
                "the kernel is rotated by 180° before it slides"
            )
        return (
            "not flipped (cross-correlation, O(i,j) = Σ_m Σ_n I(i+m, j+n)·K(m,n), what PyTorch and "
            "TensorFlow compute and call convolution)"
        )

    def block_note(self, phase: str, ctx: EquationContext) -> str | None:
        k = self.tag
        if phase == "forward":
            _, h, w = self.spec.in_shape
            _, _, kh, kw = self.kshape
            (ph, pw), (dh, dw), (sh, sw) = self.padding, self.dilation, self.stride
            act = f", then Y{k} = {self.activation.label}(O{k})" if self.has_activation else ""
            pad = " Terms on the zero padding are 0 and left out." if self.padding != (0, 0) else ""
            return (
                f"Convolution {self.convention()}. Each O{k} element sums input × kernel over its receptive "
                f"field{' plus the bias' if 'bias' in self.spec.params else ''}{act}.{pad} Output size "
                f"⌊(H + 2p − d(k−1) − 1)/s⌋ + 1: {size_formula(h, kh, ph, dh, sh, 'rows')}; "
                f"{size_formula(w, kw, pw, dw, sw, 'columns')}."
            )
        if phase == "error":
            if not self.is_output:
                return None
            return f"δO{k}(i,j) = ∂E/∂O{k}(i,j): the derivative of the loss at each output element."
        if phase == "gradient":
            flip = (
                " The kernel was rotated when it slid, so K(m,n) met the input element opposite to it."
                if self.flip
                else ""
            )
            return (
                f"Each kernel entry's gradient sums, over every output position, the error at O{k} times the "
                f"input element that entry met.{flip} A bias's gradient sums its channel's errors."
            )
        return None

    def propagation_note(self, ctx: EquationContext) -> str | None:
        k = self.tag
        how = "the kernel as written (a flipped kernel is rotated back)" if self.flip else "the kernel rotated by 180°"
        return (
            f"The error goes back through conv {k}: each input element collects error × kernel entry from "
            f"every output whose receptive field holds it (a full convolution of the error with {how})."
        )

    def block_arrays(self, phase: str, v: LayerValues) -> tuple[NamedArray, ...] | None:
        k = self.tag
        if phase == "forward":
            arrays = [NamedArray(f"K{k}", v.params["weight"])]
            if self.flip:
                arrays.append(
                    NamedArray(
                        f"K{k} rotated 180°",
                        np.ascontiguousarray(self.kernel4(v.params)[:, :, ::-1, ::-1]).reshape(
                            v.params["weight"].shape
                        ),
                    )
                )
            arrays.append(NamedArray(f"O{k}", v.e))
            if self.has_activation:
                arrays.append(NamedArray(f"Y{k}", v.y))
            return tuple(arrays)
        if phase == "error":
            out = f"Y{k}" if self.has_activation else f"O{k}"
            arrays = []
            if v.d_out is not None:
                arrays.append(NamedArray(f"δ{out} = ∂E/∂{out}", v.d_out))
            if v.deriv is not None:
                arrays.append(NamedArray(f"∂Y{k}/∂O{k}", v.deriv))
            if self.has_activation and v.d_pre is not None:
                arrays.append(NamedArray(f"∂E/∂O{k}", v.d_pre))
            return tuple(arrays)
        if phase == "gradient":
            return tuple(NamedArray(f"∂E/∂{'K' if p == 'weight' else 'b'}{k}", g) for p, g in v.grads.items())
        return None

    def convention_lines(self) -> tuple[str, ...]:
        return (
            f"convolution: {self.convention()}. Stride s, zero padding p and dilation d as in PyTorch's "
            "Conv2d; output size ⌊(H + 2p − d(k−1) − 1)/s⌋ + 1.",
        )

    def legend_rows(self) -> tuple[tuple[Expr, str], ...]:
        ij = ("i", "j")
        return (
            (Elem("I", ij), "input map, row i, column j (I(c,i,j) with several channels)"),
            (Elem("Kk", ("m", "n")), "kernel of conv layer k (Kk(o,c,m,n) with several channels)"),
            (Elem("Ok", ij), "output of conv layer k (the sum over the receptive field)"),
            (Elem("Yk", ij), "Ok after the layer's activation (when it has one)"),
            (Elem("bk", ("o",)), "bias of output channel o of conv layer k"),
            (Elem("δX", ij), "error at element (i,j) of map X: ∂E/∂X(i,j)"),
        )


__all__ = ["Conv2d", "Add"]
