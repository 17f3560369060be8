"""What every layer kind shares: the activation, the error (δ) equations and the parameter updates.

A layer kind (dense, conv2d, ...) subclasses `Layer` and supplies four things:
- how its keys are read from YAML (`read_spec`),
- its numerics (`pre_activation`, `input_gradient`, `param_gradients`),
- the names of its units and parameters (`names`, `param_symbol`),
- the bound right-hand sides of its own equations (`pre_activation_rhs`, `gradient_rhs`,
  `propagation_rhs`).
Everything that follows the same pattern for every kind (the activation's forward equation, dh/de,
the δ equations in either notation, the updates) is written once, here.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol

import numpy as np

from ..errors import BpexplainError
from ..expr import Add, Call, Derivative, Div, Expr, Func, Mul, Name, Num, Partial, Sub, Sym, Var, add, mul
from ..functions import Activation, Loss, make_activation, softmax_backward
from ..record import Record
from ..spec import LayerSpec, ParamInit, Reader
from ..trace import Equation, NamedArray

ETA = Sym("η")
LOSS = Sym("E")
SLIDE_RTOL = 1e-9


class EquationContext(Record):
    """What a layer's equations are written with: the notation, the rule, η, the loss, and the sample."""

    __slots__ = __match_args__ = ("notation", "rule", "learning_rate", "loss", "sample")

    def __init__(
        self,
        notation: str,  # lecture or textbook
        rule: str,  # exact or slide
        learning_rate: float,
        loss: Loss,
        sample: int | None = None,  # with --batch full, the sample whose equations these are
    ) -> None:
        self.notation: Final = notation
        self.rule: Final = rule
        self.learning_rate: Final = learning_rate
        self.loss: Final = loss
        self.sample: Final = sample

    @property
    def loss_symbol(self) -> Sym:
        return Sym("E", superscript=f"({self.sample})" if self.sample is not None else "")


class StepKey:
    """What a layer's forward may depend on besides its inputs: the file's seed, the step and the sample (1-based,
    as in the data), and whether the network is training (dropout draws its mask from these, and only then)."""

    __slots__ = ("seed", "step", "sample", "training")

    def __init__(self, seed: int, step: int, sample: int, training: bool) -> None:
        self.seed = seed
        self.step = step
        self.sample = sample
        self.training = training


class LayerValues:
    """The numbers of one layer in one step (one sample); filled in by the engine as it goes."""

    __slots__ = __match_args__ = (
        "x",
        "e",
        "y",
        "params",
        "xs",
        "state",
        "batch",
        "prop_params",
        "d_out",
        "deriv",
        "d_pre",
        "grads",
        "d_in",
        "d_ins",
        "exact",
    )

    def __init__(
        self,
        x: np.ndarray,  # the first (for most kinds, the only) input
        e: np.ndarray,
        y: np.ndarray,
        params: dict[str, np.ndarray],  # before the step
        xs: tuple[np.ndarray, ...] = (),  # every input, in the order of the layer's `inputs:`
        state: dict[str, Any] | None = None,  # what a kind's forward keeps (a mask, batch statistics); {} if None
        batch: list[LayerValues] | None = None,  # a batch-coupled kind: this layer's values of every sample
        prop_params: dict[str, np.ndarray] | None = None,  # the weights the error went back through
        d_out: np.ndarray | None = None,  # ∂E/∂y: the lecture's δ, as propagated under the chosen rule
        deriv: np.ndarray | None = None,  # dh/de for an elementwise activation
        d_pre: np.ndarray | None = None,  # ∂E/∂e
        grads: dict[str, np.ndarray] | None = None,  # {} if None
        d_in: np.ndarray | None = None,  # ∂E/∂(this layer's first input), as propagated under the chosen rule
        d_ins: tuple[np.ndarray | None, ...] = (),  # ∂E/∂(each input): None for the network's input
        exact: LayerValues | None = None,  # the exact chain rule's numbers, kept under --rule slide
    ) -> None:
        self.x = x
        self.e = e
        self.y = y
        self.params = params
        self.xs = xs
        self.state = {} if state is None else state
        self.batch = batch
        self.prop_params = prop_params
        self.d_out = d_out
        self.deriv = deriv
        self.d_pre = d_pre
        self.grads = {} if grads is None else grads
        self.d_in = d_in
        self.d_ins = d_ins
        self.exact = exact

    def __replace__(self, **changes: Any) -> LayerValues:
        """A copy with `changes` made, for `record.replace` (the engine's averaged and per-sample copies)."""
        fields = {n: getattr(self, n) for n in self.__match_args__}
        fields.update(changes)
        return LayerValues(**fields)


class UnitNames:
    """How the units of a layer (or the network's inputs) are written.

    Each symbol is made once and kept: thousands of equations share it, and printers know it again by
    identity (see `render.printer`)."""

    def out(self, i: int) -> Sym:
        raise NotImplementedError

    def err(self, i: int) -> Sym:
        raise NotImplementedError


def named_symbol(name: str) -> Sym:
    """The symbol a name from the file stands for: letters then digits are a letter with an index (i1 -> i_1,
    w_5 -> w_5), any other name is a symbol of its own (age, w1b)."""
    m = _LETTERS_DIGITS.fullmatch(name)
    return Sym(m.group(1), (m.group(2),)) if m else Sym(name)


_LETTERS_DIGITS = re.compile(r"([A-Za-z]+)_?([0-9]+)")


class InputNames(UnitNames):
    """The network's inputs: x_1, x_2, ..., or the names the file gives them (`inputs: [i1, i2]`: i_1, i_2)."""

    def __init__(self, names: tuple[str, ...] | None = None) -> None:
        self.names = names
        self._out: dict[int, Sym] = {}
        self._err: dict[int, Sym] = {}

    def name(self, i: int) -> str:
        return self.names[i] if self.names is not None else f"x{i + 1}"

    def out(self, i: int) -> Sym:
        sym = self._out.get(i)
        if sym is None:
            sym = self._out[i] = named_symbol(self.name(i)) if self.names is not None else Sym("x", (str(i + 1),))
        return sym

    def err(self, i: int) -> Sym:
        sym = self._err.get(i)
        if sym is None:
            sym = self._err[i] = Sym("δ", (self.name(i),))
        return sym


if TYPE_CHECKING:  # the two halves are for mypy: a Protocol class costs milliseconds of every start-up

    class Numerics(Protocol):
        """A layer as the numbers see it: what the engine's forward and backward passes, the summary path (lean.py)
        and `check` may call. None of it builds an equation; a kind's numbers are these methods and nothing else."""

        name: str
        spec: LayerSpec
        arity: ClassVar[int | None]
        batch_coupled: ClassVar[bool]
        keeps_state: ClassVar[bool]
        has_activation: bool
        combined: bool
        direct_pre: bool
        activation: Activation

        def pre_activation(self, params: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray: ...
        def activate(self, e: np.ndarray) -> np.ndarray: ...
        def forward_values(
            self, params: Mapping[str, np.ndarray], xs: tuple[np.ndarray, ...], key: StepKey
        ) -> tuple[np.ndarray, dict[str, Any]]: ...
        def forward_batch(
            self, params: Mapping[str, np.ndarray], batch: list[tuple[np.ndarray, ...]], keys: list[StepKey]
        ) -> list[tuple[np.ndarray, dict[str, Any]]]: ...
        def local_backward(self, v: LayerValues, target: np.ndarray | None) -> None: ...
        def pre_gradient(
            self, e: np.ndarray, y: np.ndarray, d_out: np.ndarray | None, target: np.ndarray | None
        ) -> tuple[np.ndarray | None, np.ndarray]: ...
        def input_gradients(
            self, params: Mapping[str, np.ndarray], v: LayerValues, d_pre: np.ndarray
        ) -> tuple[np.ndarray, ...]: ...
        def input_gradient(self, params: Mapping[str, np.ndarray], x: np.ndarray, d_pre: np.ndarray) -> np.ndarray: ...
        def parameter_gradients(self, v: LayerValues) -> dict[str, np.ndarray]: ...
        def param_gradients(self, x: np.ndarray, d_pre: np.ndarray) -> dict[str, np.ndarray]: ...
        def sides(self, v: LayerValues) -> bytes: ...

    class Explanation(Protocol):
        """A layer as the trace tells it: the equations, symbols and words of its blocks, built from the numbers
        the numeric half left in LayerValues (it computes none of its own)."""

        name: str

        @property
        def names(self) -> UnitNames: ...
        def forward_equations(self, v: LayerValues) -> Iterator[Equation]: ...
        def error_equations(
            self,
            v: LayerValues,
            ctx: EquationContext,
            incoming: list[Expr] | None,
            target: np.ndarray | None,
            output_pairs: list[tuple[Expr, Expr]] | None,
        ) -> Iterator[Equation]: ...
        def propagation_terms(self, v: LayerValues, ctx: EquationContext, slot: int = 0) -> list[Expr]: ...
        def gradient_equations(self, v: LayerValues, ctx: EquationContext) -> Iterator[Equation]: ...
        def update_equations(
            self,
            v: LayerValues,
            ctx: EquationContext,
            new_params: Mapping[str, np.ndarray],
            exact_params: Mapping[str, np.ndarray] | None,
            trainable: Mapping[str, bool],
            averaged: bool = False,
        ) -> Iterator[Equation]: ...
        def average_equations(
            self, per_sample: list[LayerValues], grads: Mapping[str, np.ndarray]
        ) -> Iterator[Equation]: ...
        def block_note(self, phase: str, ctx: EquationContext) -> str | None: ...
        def propagation_note(self, ctx: EquationContext) -> str | None: ...
        def block_arrays(self, phase: str, v: LayerValues) -> tuple[NamedArray, ...] | None: ...
        def param_symbol(self, pname: str, idx: tuple[int, ...], prime: bool = False) -> Sym: ...


class Layer(ABC):
    """A layer kind: its numbers (the `Numerics` protocol) and its explanation (the `Explanation` protocol) in
    one class, the first read by the engine's numeric passes only, the second by the blocks only."""

    type_name: ClassVar[str]
    has_activation: bool = True  # False for pooling and flatten (and a conv2d without an activation)
    numbers_units: ClassVar[bool] = True  # dense and flatten units are numbered neurons; feature maps are not
    arity: ClassVar[int | None] = 1  # how many inputs it reads; None: two or more (add, concat)
    batch_coupled: ClassVar[bool] = False  # its forward needs every sample of the batch (batchnorm)
    keeps_state: ClassVar[bool] = False  # its forward keeps more than e and y (a mask): not on the summary path
    yaml_keys: ClassVar[dict[str, str]] = {}  # a parameter written under another key in the file ({"weight": "kernel"})
    unrounded: ClassVar[str] = ""  # what it computes that --round cannot round (then --round is refused), e.g. "μ, σ²"

    def __init__(self, spec: LayerSpec, inputs: UnitNames, first_unit: int, is_output: bool, loss: Loss) -> None:
        self.spec = spec
        self.name = spec.name
        self.inputs = inputs
        self.first_unit = first_unit
        self.is_output = is_output
        self.activation: Activation = make_activation(spec.activation, spec.slope)
        # ∂E/∂e is shown directly (not as δ·dh/de) for softmax, and where the loss simplifies with it
        self.combined = is_output and loss.combines_with == spec.activation
        self.direct_pre = self.combined or not self.activation.elementwise
        self._symbols: dict[Any, Any] = {}  # the layer's own symbols (e_n, h_n, w_mn, ...), each made once
        self._factor_cache: tuple[Any, ...] = ()
        self._input_cache: tuple[Any, ...] = ()
        self.sources: tuple[UnitNames, ...] = (inputs,)  # how each input is written (see `connect`)

    def connect(self, sources: tuple[UnitNames, ...]) -> None:
        """The names of every input, when the layer reads more than the one it was made with."""
        self.sources = sources

    # ---- reading YAML ------------------------------------------------------------------------

    @classmethod
    @abstractmethod
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
    ) -> LayerSpec: ...

    @staticmethod
    def read_activation(r: Reader, raw: Any, path: tuple, is_last: bool) -> tuple[str, float]:
        from ..functions import ACTIVATION_NAMES

        slope = 0.01
        if isinstance(raw, dict):
            r.mapping(raw, path, ("name", "slope"), required=("name",))
            name = r.string(raw["name"], path + ("name",), ACTIVATION_NAMES)
            if "slope" in raw:
                if name != "leaky_relu":
                    r.fail(path + ("slope",), f"a slope is given for {name}", expected="slope only for leaky_relu")
                slope = r.number(raw["slope"], path + ("slope",))
        else:
            name = r.string(raw, path, ACTIVATION_NAMES)
        if name == "softmax" and not is_last:
            r.fail(
                path,
                "softmax is only supported in the last layer",
                expected="sigmoid, tanh, relu, leaky_relu or identity here",
            )
        return name, slope

    @classmethod
    def trace_equations(cls, spec: LayerSpec) -> int:
        """About how many equations a full trace writes for one sample of this layer, forward and back, where an
        equation of many terms counts as several (the trace's budget, limits.py): four a unit unless a kind
        writes more (attention's T×T scores and weights, each a sum over the tokens)."""
        return 4 * spec.units

    @classmethod
    def check_run(cls, spec: LayerSpec, opts: Any) -> None:
        """Refuse, with a BpexplainError positioned at the layer, a run option (options.RunOptions) this kind
        cannot honour; the checks every kind shares (--round and `unrounded`, a batch for `batch_coupled`) are
        options.py's."""
        return None

    # ---- naming ------------------------------------------------------------------------------

    def receptive_field(self, i: int) -> tuple[int, ...]:
        """The flat indices of the input elements unit i's forward sum reads, where a kind has a window
        (conv2d, pooling); () where every unit reads every input."""
        return ()

    @property
    @abstractmethod
    def names(self) -> UnitNames:
        """How this layer's outputs are written (used by the next layer for its inputs)."""

    @abstractmethod
    def pre_symbol(self, i: int) -> Sym:
        """e_n: the weighted sum of unit i, before the activation."""

    @abstractmethod
    def func_symbol(self, i: int) -> Sym:
        """h_n: the activation of unit i."""

    @abstractmethod
    def param_symbol(self, pname: str, idx: tuple[int, ...], prime: bool = False) -> Sym: ...

    def param_symbols(self, pname: str, prime: bool = False) -> list[Sym]:
        """Every element's symbol of a parameter, in flat order, made once."""
        key = ("all", pname, prime)
        syms = self._symbols.get(key)
        if syms is None:
            shape = self.spec.params[pname].value.shape
            syms = self._symbols[key] = [self.param_symbol(pname, idx, prime) for idx in np.ndindex(shape)]
        return syms  # type: ignore[no-any-return]

    def deriv_symbol(self, i: int) -> Expr:
        return Derivative(self.func_symbol(i), "e")

    def error_symbol(self, i: int, ctx: EquationContext) -> Expr:
        """The symbol of unit i's δ in the context's notation: ∂E/∂y in the lecture's, ∂E/∂e in the textbook's
        (the same δ_n for neurons). A pure function of its arguments: the names are shared between layers."""
        return self.names.err(i)

    def dpre_symbol(self, i: int, ctx: EquationContext | None = None) -> Expr:
        return Partial(ctx.loss_symbol if ctx else LOSS, self.pre_symbol(i))

    @property
    def units(self) -> int:
        return self.spec.units

    # ---- what the blocks say, where a kind has its own words (None: the engine's, for neurons) ---

    def block_note(self, phase: str, ctx: EquationContext) -> str | None:
        """The annotation of this layer's forward, error, gradient or update block."""
        return None

    def propagation_note(self, ctx: EquationContext) -> str | None:
        """How the error goes back through this layer: the annotation of the error block below it."""
        return None

    def block_arrays(self, phase: str, v: LayerValues) -> tuple[NamedArray, ...] | None:
        """The arrays of a block (feature maps, kernels shown as grids)."""
        return None

    def convention_lines(self) -> tuple[str, ...]:
        """Lines for the trace's conventions (the same lines from several layers are shown once)."""
        return ()

    def legend_rows(self) -> tuple[tuple[Expr, str], ...]:
        """Rows for the legend (the same rows from several layers are shown once)."""
        return ()

    # ---- numerics ----------------------------------------------------------------------------

    @abstractmethod
    def pre_activation(self, params: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def input_gradient(self, params: Mapping[str, np.ndarray], x: np.ndarray, d_pre: np.ndarray) -> np.ndarray:
        """∂E/∂x from ∂E/∂e and the input x: the transpose of the layer's linear map (max pooling routes by x)."""

    @abstractmethod
    def param_gradients(self, x: np.ndarray, d_pre: np.ndarray) -> dict[str, np.ndarray]: ...

    def activate(self, e: np.ndarray) -> np.ndarray:
        return self.activation.value(e)

    # The graph's view of the numerics: every input at once. A kind of one input needs none of these; a kind of
    # several inputs, or one that keeps state, overrides them.

    def forward_values(
        self, params: Mapping[str, np.ndarray], xs: tuple[np.ndarray, ...], key: StepKey
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """(e, the state it keeps) from every input."""
        return self.pre_activation(params, xs[0]), {}

    def forward_batch(
        self, params: Mapping[str, np.ndarray], batch: list[tuple[np.ndarray, ...]], keys: list[StepKey]
    ) -> list[tuple[np.ndarray, dict[str, Any]]]:
        """A batch-coupled kind: (e, state) of every sample, from every sample's inputs."""
        return [self.forward_values(params, xs, key) for xs, key in zip(batch, keys)]

    def input_gradients(
        self, params: Mapping[str, np.ndarray], v: LayerValues, d_pre: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        """∂E/∂(each input) from ∂E/∂e (a batch-coupled kind reads the other samples through `v.batch`)."""
        return (self.input_gradient(params, v.x, d_pre),)

    def parameter_gradients(self, v: LayerValues) -> dict[str, np.ndarray]:
        assert v.d_pre is not None
        return self.param_gradients(v.x, v.d_pre)

    def sides(self, v: LayerValues) -> bytes:
        """Which side of each point where the layer is not differentiable its values are on (b"" where it has
        none): a gradient check whose E(w + h) and E(w − h) see different sides straddles a kink."""
        if self.has_activation and self.activation.kinked:
            return (v.e > 0).tobytes()
        return b""

    def local_backward(self, v: LayerValues, target: np.ndarray | None) -> None:
        """Fill in dh/de and ∂E/∂e from ∂E/∂y (or from the target, where the loss combines)."""
        v.deriv, v.d_pre = self.pre_gradient(v.e, v.y, v.d_out, target)

    def pre_gradient(
        self, e: np.ndarray, y: np.ndarray, d_out: np.ndarray | None, target: np.ndarray | None
    ) -> tuple[np.ndarray | None, np.ndarray]:
        """(dh/de for an elementwise activation or None, ∂E/∂e) from ∂E/∂y, or from the target where the
        loss combines with the activation."""
        if self.has_activation and not self.direct_pre:  # an elementwise activation: ∂E/∂e = δ·dh/de
            assert self.activation.derivative is not None and d_out is not None
            deriv = self.activation.derivative(e, y)
            return deriv, d_out * deriv
        if not self.has_activation:
            assert d_out is not None
            return None, d_out
        if self.combined:
            assert target is not None
            return None, y - target
        assert d_out is not None
        return None, softmax_backward(y, d_out)

    # ---- the layer's own right-hand sides ----------------------------------------------------

    @abstractmethod
    def pre_activation_rhs(self, v: LayerValues, i: int) -> Expr:
        """The bound right-hand side of e_n."""

    @abstractmethod
    def gradient_rhs(self, v: LayerValues, ctx: EquationContext, pname: str, idx: tuple[int, ...]) -> Expr:
        """The bound right-hand side of ∂E/∂(parameter element)."""

    @abstractmethod
    def propagation_rhs(self, v: LayerValues, ctx: EquationContext, j: int) -> Expr:
        """The bound right-hand side of ∂E/∂(input unit j): the lecture's δ of the unit below."""

    # ---- shared pieces of right-hand sides ---------------------------------------------------

    def error_factors(self, v: LayerValues, ctx: EquationContext, i: int) -> tuple[Expr, ...]:
        """What stands for ∂E/∂e_n in gradients and propagation: δ_n·dh_n(e)/de in the lecture's notation."""
        assert v.d_pre is not None
        if ctx.notation == "textbook":
            return (Var(self.error_symbol(i, ctx), _flat(v.d_pre, i)),)
        if self.direct_pre or not self.has_activation:
            if not self.has_activation:
                assert v.d_out is not None
                return (Var(self.error_symbol(i, ctx), _flat(v.d_out, i)),)
            return (Var(self.dpre_symbol(i, ctx), _flat(v.d_pre, i)),)
        assert v.d_out is not None and v.deriv is not None
        return (Var(self.error_symbol(i, ctx), _flat(v.d_out, i)), Var(self.deriv_symbol(i), _flat(v.deriv, i)))

    def slide_factors(self, v: LayerValues, ctx: EquationContext, i: int) -> tuple[Expr, ...]:
        """The slide's shortcut: δ_n alone, dh_n(e)/de left out (where there is one to leave out)."""
        if self.direct_pre or not self.has_activation:
            return self.error_factors(v, ctx, i)
        assert v.d_out is not None
        return (Var(self.error_symbol(i, ctx), _flat(v.d_out, i)),)

    def unit_factors(self, v: LayerValues, ctx: EquationContext, slide: bool) -> list[tuple[Expr, ...]]:
        """What stands for ∂E/∂(pre-activation) of every unit, made once and shared by all the sums."""
        c = self._factor_cache
        if c and c[0] is v and c[1] == ctx and c[2] == slide:
            return c[3]  # type: ignore[no-any-return]
        make = self.slide_factors if slide else self.error_factors
        factors = [make(v, ctx, i) for i in range(self.units)]
        self._factor_cache = (v, ctx, slide, factors)
        return factors

    def input_vars(self, v: LayerValues) -> list[Var]:
        """This step's inputs as bound leaves (x_j, or y_m of the layer below), made once and shared."""
        c = self._input_cache
        if c and c[0] is v:
            return c[1]  # type: ignore[no-any-return]
        out = self.inputs.out
        leaves = [Var(out(j), x) for j, x in enumerate(v.x.ravel().tolist())]
        self._input_cache = (v, leaves)
        return leaves

    # ---- equations ---------------------------------------------------------------------------

    def forward_equations(self, v: LayerValues) -> Iterator[Equation]:
        for i in range(self.units):
            yield Equation.of(
                "forward",
                self.pre_symbol(i),
                self.pre_activation_rhs(v, i),
                _flat(v.e, i),
                cells=self.receptive_field(i),
            )
            if self.has_activation and self.activation.elementwise:
                yield self._activation_equation(v, i)
        if self.has_activation and not self.activation.elementwise:
            for i in range(self.units):
                yield self._activation_equation(v, i)

    def _activation_equation(self, v: LayerValues, i: int) -> Equation:
        if self.activation.elementwise:
            rhs: Expr = Call(
                Func(self.func_symbol(i), Name(self.activation.label)), (Var(self.pre_symbol(i), _flat(v.e, i)),)
            )
        else:  # softmax
            exps = [Call(Name("exp"), (Var(self.pre_symbol(k), _flat(v.e, k)),)) for k in range(self.units)]
            rhs = Div(exps[i], add(*exps))
        return Equation.of("forward", self.names.out(i), rhs, _flat(v.y, i))

    def error_equations(
        self,
        v: LayerValues,
        ctx: EquationContext,
        incoming: list[Expr] | None,
        target: np.ndarray | None,
        output_pairs: list[tuple[Expr, Expr]] | None,
    ) -> Iterator[Equation]:
        """The δ equations of this layer's units.

        `incoming[i]` is the bound ∂E/∂y_i built by the layer above (None for the output layer, whose
        δ comes from the loss through `output_pairs`, the bound (y_k, ŷ_k)).
        """
        ex = v.exact
        textbook = ctx.notation == "textbook"
        names = self.names
        for i in range(self.units):
            if incoming is not None:
                d_out_rhs = incoming[i]
            else:
                assert output_pairs is not None
                d_out_rhs = ctx.loss.gradient_form(*output_pairs[i])
            # ∂E/∂y: None only at an output whose derivatives combine with the loss, where it is not shown
            d_out = _flat(v.d_out, i) if v.d_out is not None else None
            d_out_exact = _flat(ex.d_out, i) if ex is not None and ex.d_out is not None else None
            if not self.has_activation:
                assert d_out is not None
                yield Equation.of("error", self.error_symbol(i, ctx), d_out_rhs, d_out, _departure(d_out, d_out_exact))
                continue
            if self.combined:
                assert output_pairs is not None
                y, t = output_pairs[i]
                symbol = self.error_symbol(i, ctx) if textbook else self.dpre_symbol(i, ctx)
                yield Equation.of("error", symbol, Sub(y, t), _flat(v.d_pre, i))
                continue
            if not self.activation.elementwise:  # softmax, with a loss it does not combine with
                d_out_symbol = Partial(LOSS, names.out(i)) if textbook else self.error_symbol(i, ctx)
                assert d_out is not None
                yield Equation.of("error", d_out_symbol, d_out_rhs, d_out)
                continue
            assert self.activation.derivative_form is not None
            deriv_rhs = self.activation.derivative_form(
                Var(self.pre_symbol(i), _flat(v.e, i)), Var(names.out(i), _flat(v.y, i))
            )
            deriv_eq = Equation.of("error", self.deriv_symbol(i), deriv_rhs, _flat(v.deriv, i))
            if textbook:
                yield deriv_eq
                d_pre_exact = _flat(ex.d_pre, i) if ex is not None and ex.d_pre is not None else None
                yield Equation.of(
                    "error",
                    self.error_symbol(i, ctx),
                    mul(Var(self.deriv_symbol(i), _flat(v.deriv, i)), d_out_rhs),
                    _flat(v.d_pre, i),
                    _departure(_flat(v.d_pre, i), d_pre_exact),
                )
            else:
                assert d_out is not None
                yield Equation.of("error", self.error_symbol(i, ctx), d_out_rhs, d_out, _departure(d_out, d_out_exact))
                yield deriv_eq
        if self.has_activation and not self.activation.elementwise and not self.combined:
            yield from self._softmax_pre_equations(v, ctx)

    def _softmax_pre_equations(self, v: LayerValues, ctx: EquationContext) -> Iterator[Equation]:
        textbook = ctx.notation == "textbook"
        assert v.d_out is not None and v.d_pre is not None
        d_out_sym = [
            (Partial(LOSS, self.names.out(k)) if textbook else self.error_symbol(k, ctx)) for k in range(self.units)
        ]
        weighted = add(
            *[
                Mul((Var(d_out_sym[k], _flat(v.d_out, k)), Var(self.names.out(k), _flat(v.y, k))))
                for k in range(self.units)
            ]
        )
        for i in range(self.units):
            rhs = Mul((Var(self.names.out(i), _flat(v.y, i)), Sub(Var(d_out_sym[i], _flat(v.d_out, i)), weighted)))
            symbol = self.error_symbol(i, ctx) if textbook else self.dpre_symbol(i, ctx)
            yield Equation.of("error", symbol, rhs, _flat(v.d_pre, i))

    def propagation_terms(self, v: LayerValues, ctx: EquationContext, slot: int = 0) -> list[Expr]:
        """The bound ∂E/∂(input unit) for every unit of input `slot`: its share of the δ equations of the layer
        that input comes from (where that layer feeds several, the engine adds the shares)."""
        n_in = int(np.prod(v.x.shape))
        return [self.propagation_rhs(v, ctx, j) for j in range(n_in)]

    def gradient_equations(self, v: LayerValues, ctx: EquationContext) -> Iterator[Equation]:
        ex = v.exact
        loss = ctx.loss_symbol
        for pname, grad in v.grads.items():
            exacts = ex.grads[pname].ravel().tolist() if ex is not None else None
            syms = self.param_symbols(pname)
            for k, (idx, value) in enumerate(zip(np.ndindex(grad.shape), grad.ravel().tolist())):
                yield Equation(
                    "gradient",
                    Partial(loss, syms[k]),
                    self.gradient_rhs(v, ctx, pname, idx),
                    value,
                    _departure(value, exacts[k]) if exacts is not None else None,
                )

    def update_equations(
        self,
        v: LayerValues,
        ctx: EquationContext,
        new_params: Mapping[str, np.ndarray],
        exact_params: Mapping[str, np.ndarray] | None,
        trainable: Mapping[str, bool],
        averaged: bool = False,
    ) -> Iterator[Equation]:
        """w' = w − η·(the gradient's right-hand side), or w' = w − η·∂E/∂w after a batch average."""
        eta = Var(ETA, ctx.learning_rate)
        for pname, grad in v.grads.items():
            # the arrays as lists of floats once: indexing numpy element by element is slow
            old = v.params[pname].ravel().tolist()
            new = new_params[pname].ravel().tolist()
            grads = grad.ravel().tolist()
            exacts = exact_params[pname].ravel().tolist() if exact_params is not None else None
            syms, primes = self.param_symbols(pname), self.param_symbols(pname, prime=True)
            for k, idx in enumerate(np.ndindex(grad.shape)):
                sym = syms[k]
                if not trainable[pname]:
                    yield Equation("update", primes[k], Var(sym, old[k]), new[k], note="frozen: not trained")
                    continue
                if averaged:
                    step: Expr = Mul((eta, Var(Partial(LOSS, sym), grads[k])))
                else:
                    g = self.gradient_rhs(v, ctx, pname, idx)
                    step = Mul((eta,) + (g.factors if isinstance(g, Mul) else (g,)))
                yield Equation(
                    "update",
                    primes[k],
                    Sub(Var(sym, old[k]), step),
                    new[k],
                    _departure(new[k], exacts[k]) if exacts is not None else None,
                )

    def average_equations(self, per_sample: list[LayerValues], grads: Mapping[str, np.ndarray]) -> Iterator[Equation]:
        """∂E/∂w = (1/N)·(∂E⁽¹⁾/∂w + … + ∂E⁽ᴺ⁾/∂w) with --batch full."""
        n = len(per_sample)
        for pname, grad in grads.items():
            for idx in np.ndindex(grad.shape):
                sym = self.param_symbol(pname, idx)
                terms = [
                    Var(Partial(Sym("E", superscript=f"({s + 1})"), sym), float(v.grads[pname][idx]))
                    for s, v in enumerate(per_sample)
                ]
                yield Equation.of(
                    "gradient",
                    Partial(LOSS, sym),
                    Mul((Div(Num(1), Num(n)), add(*terms))),
                    float(grad[idx]),
                    note="averaged over the batch",
                )


def _flat(arr: np.ndarray | None, i: int) -> float:
    assert arr is not None
    return float(arr.flat[i])


def _departure(value: float | None, exact: float | None) -> float | None:
    """The exact value, when it differs from the value shown (--rule slide); else None."""
    if value is None or exact is None:
        return None
    if abs(value - exact) <= SLIDE_RTOL * max(abs(value), abs(exact), 1e-300):
        return None
    return exact


def layer_error(spec: LayerSpec, message: str, expected: str | None = None) -> BpexplainError:
    return BpexplainError(message, where=spec.where, path=spec.name, expected=expected)


__all__ = [
    "Layer",
    "LayerValues",
    "StepKey",
    "EquationContext",
    "UnitNames",
    "InputNames",
    "ETA",
    "LOSS",
    "Add",
    "Var",
    "Mul",
    "Sub",
    "Num",
    "Sym",
]


if TYPE_CHECKING:

    def _is_numerics(layer: Layer) -> Numerics:
        """Never called: mypy checks here that every Layer is a Numerics (and below, an Explanation)."""
        return layer

    def _is_explanation(layer: Layer) -> Explanation:
        return layer
