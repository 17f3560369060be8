"""The summary path: a training step that shows nothing but its end, without the records a trace needs.

`--detail summary` runs thousands of steps, and a step of a small network is a few dozen numpy calls
of well under a microsecond each, so whatever surrounds them counts. This is the engine's step for
one sample by the exact rule, unrounded, with only what a StepEnd carries kept: the same numpy
operations on the same numbers as the checked step, so the results are the same bits. What can be
decided once is decided when the run starts (`LeanStep.plan`): each layer's bound methods, parameter
names and case of ∂E/∂e sit in a tuple, read by unpacking. A dense layer whose numeric methods are
dense.py's own is computed by the step itself, those methods' operations written out (W·x + b, the
activation, δ·dh/de, δ·xᵀ, Wᵀ·δ): no Python call into the layer, no dictionary of gradients, and arrays
the step made, so it knows which it may write over. Every other layer is computed by its own methods.

A floating-point error, or a loss that is not finite, hands the step back before anything has changed,
and the engine runs it again by its checked path, which names the first value that is not finite: a
step changes the parameter dictionaries only at its end, and never writes an array in use.

`run` makes new parameter arrays every step and hands them out in every StepEnd. `run_in_place`, for a
summary that shows few steps, hands out parameters and gradients only in the steps it shows (`keep`; the
others carry None) and makes no new weight matrix a step: a dense layer's δ·xᵀ goes into the spare buffer
its weights of the step before left, η·g and old − η·g over it, and it changes places with the old array
(an allocation of a large array a step costs page faults: 151 a step at 256-512-256-10 against 13). A
shown step's arrays are new, so nothing handed out is ever written, and the arrays a step did not make (the
header's) never become spare. A layer computed by its own methods writes old − η·g over the gradient
array the layer has just made when nothing else holds it (checked by `base` and identity, not by
`np.may_share_memory`, which cost a tenth of a 64-128-64-10 step), else into its spare buffer; its shown
steps hand out copies. The same operations either way, so the same bits.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Container, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .functions import Loss, softmax_backward
from .layers.base import Layer
from .layers.dense import Dense
from .spec import Sample
from .trace import StepEnd

if TYPE_CHECKING:
    from .layers.base import Numerics

Array = np.ndarray
Params = dict[str, dict[str, Array]]
isfinite, multiply, subtract = math.isfinite, np.multiply, np.subtract

# A layer's parameters, as the step reads them: (name, flat name "layer.name", trainable).
ParamPlan = tuple[tuple[str, str, bool], ...]


def _activation(layer: Numerics) -> Callable[[Array], Array] | None:
    """The layer's activation as the step calls it: the activation's own function where the layer's
    `activate` is the base class's (which only calls it), saving a call a layer a step."""
    if not layer.has_activation:
        return None
    if type(layer).activate is Layer.activate:
        return layer.activation.value
    return layer.activate


# A dense layer whose numeric methods are dense.py's and Layer's own (the usual case) is computed by the step
# itself, by the same numpy operations written out: no call into the layer and no dictionary of gradients, and
# the step knows which arrays it made, so which it may write over. Any other layer, or a dense layer whose
# methods were replaced (a subclass, a patch), is computed by its own methods.
_DENSE_METHODS = (Dense.pre_activation, Dense.param_gradients, Dense.input_gradient, Layer.pre_gradient)
# Layer.pre_gradient's cases: how a layer's ∂E/∂e comes from its ∂E/∂y
DERIVATIVE, NO_ACTIVATION, COMBINED, SOFTMAX = range(4)


def _plain_dense(layer: Numerics) -> bool:
    """Whether the step may compute the layer by dense.py's operations written out."""
    cls = type(layer)
    methods = (cls.pre_activation, cls.param_gradients, cls.input_gradient, cls.pre_gradient)
    return isinstance(layer, Dense) and all(a is b for a, b in zip(methods, _DENSE_METHODS))


def _pre_mode(layer: Numerics) -> int:
    """Layer.pre_gradient's case for this layer, decided once a run."""
    if layer.has_activation and not layer.direct_pre:
        return DERIVATIVE
    if not layer.has_activation:
        return NO_ACTIVATION
    return COMBINED if layer.combined else SOFTMAX


# A layer as the step reads it: (name, computed by the step itself, has a bias, activation or None,
# Layer.pre_gradient's case, the activation's derivative or None, the layer's pre_activation, pre_gradient,
# param_gradients, input_gradient (None for the first layer), its parameters, and for a dense layer computed
# by the step: (flat name, trainable) of the weight and of the bias)
LayerPlan = tuple[Any, ...]
# a parameter's new value, made when the step ends: (the layer's parameters, name, value, the layer's spare
# buffers or None, for a dense layer's weights the layer's name, else None, and whether the step may write over
# the value once it is replaced)
Change = tuple[dict[str, Array], str, Array, "dict[str, Array] | None", "str | None", bool]


class LeanStep:
    def __init__(
        self,
        layers: Sequence[Numerics],
        loss: Loss,
        learning_rate: float,
        trainable: dict[str, dict[str, bool]],
        sequential: bool,
    ) -> None:
        params: list[ParamPlan] = [
            tuple((p, f"{layer.name}.{p}", trainable[layer.name][p]) for p in layer.spec.params) for layer in layers
        ]
        self.forward_plan = tuple((layer.name, layer.pre_activation, _activation(layer)) for layer in layers)
        plan: list[LayerPlan] = []
        for k, layer in enumerate(layers):
            named = {p: (flat, t) for p, flat, t in params[k]}
            plan.append(
                (
                    layer.name,
                    _plain_dense(layer),
                    "bias" in named,
                    _activation(layer),
                    _pre_mode(layer),
                    layer.activation.derivative if layer.has_activation else None,
                    layer.pre_activation,
                    layer.pre_gradient,
                    layer.param_gradients,
                    layer.input_gradient if k else None,
                    params[k],
                    named.get("weight", ("", False)),
                    named.get("bias", ("", False)),
                )
            )
        self.plan = tuple(plan)
        self.layer_names = [layer.name for layer in layers]
        self.flat_names = [flat for ps in params for _, flat, _ in ps]
        self.loss_value = loss.value
        self.loss_gradient = loss.gradient
        self.lr = learning_rate
        self.sequential = sequential
        self.combined = layers[-1].combined  # the output layer's ∂E/∂e comes from the target directly
        # the spare buffers of layers computed by their own methods, made when first needed (`_update_in_place`)
        self.spare: dict[str, dict[str, Array]] = {name: {} for name in self.layer_names}
        # per dense layer the step computes: whether its weights in use are an array the step made and did not
        # hand out, which becomes the spare buffer once replaced (`private` says none are, yet)
        self.ours = dict.fromkeys(self.layer_names, False)

    def run(self, params: Params, steps: Sequence[tuple[int, Sample]]) -> tuple[list[StepEnd], Params]:
        """The steps (number, sample) in turn under one np.errstate, each from the parameters the one before
        left: their StepEnds, and the parameters after the last. They end early, before the first step that
        must be handed back. Neither `params` nor any array is written after it was made."""
        return self._run({name: dict(ps) for name, ps in params.items()}, steps, (), False)

    def private(self, params: Params) -> Params:
        """Parameters that `run_in_place` may change: new dictionaries, and copies of the arrays of the layers
        computed by their own methods (whose arrays may become spare buffers, see `_update_in_place`); a layer
        the step computes itself never writes an array it did not make."""
        self.ours = dict.fromkeys(self.layer_names, False)
        return {name: {p: a if fast else a.copy() for p, a in params[name].items()} for name, fast, *_ in self.plan}

    def run_in_place(
        self, params: Params, steps: Sequence[tuple[int, Sample]], keep: Container[int]
    ) -> tuple[list[StepEnd], Params]:
        """As `run`, with `params` changed in place and new values written over arrays the step made (nothing
        outside may hold `params`, its dictionaries or its arrays): the StepEnds, and `params`. A step that
        `keep` does not hold carries no parameters or gradients."""
        return self._run(params, steps, keep, True)

    def _run(
        self, params: Params, steps: Sequence[tuple[int, Sample]], keep: Container[int], in_place: bool
    ) -> tuple[list[StepEnd], Params]:
        """The loop of `run` and `run_in_place`. A step changes `params`' dictionaries only at its end, when
        nothing can raise any more, and never writes an array in use, so a step handed back changed nothing."""
        ends: list[StepEnd] = []
        plan = [(*layer, params[layer[0]], self.spare[layer[0]] if in_place else None) for layer in self.plan]
        backward = plan[::-1]
        n = len(plan)
        loss_value, loss_gradient, combined, flat_names = (
            self.loss_value,
            self.loss_gradient,
            self.combined,
            self.flat_names,
        )
        lr, sequential, ours = self.lr, self.sequential, self.ours
        changes: list[Change] = []
        try:
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                for index, sample in steps:
                    kept = not in_place or index in keep
                    x, target = sample.input, sample.target
                    values: list[tuple[Array, Array, Array]] = []  # each layer's (input, e, y)
                    outputs: dict[str, Array] = {}
                    for name, fast, bias, activate, _, _, pre_activation, _, _, _, _, _, _, P, _ in plan:
                        if fast:
                            e = P["weight"].dot(x)
                            if bias:
                                e = e + P["bias"]
                        else:
                            e = pre_activation(P, x)
                        y = outputs[name] = e if activate is None else activate(e)
                        values.append((x, e, y))
                        x = y
                    loss = loss_value(x, target)
                    if not isfinite(loss):
                        break
                    d_out = None if combined else loss_gradient(x, target)
                    grads: dict[str, Any] | None = dict.fromkeys(flat_names) if kept else None
                    shown: dict[str, Any] | None = dict.fromkeys(flat_names) if kept else None
                    changes.clear()
                    k = n
                    for (
                        name, fast, bias, _, mode, derivative, _, pre_gradient, param_gradients, input_gradient,
                        ps, (w_flat, w_trained), (b_flat, b_trained), P, bufs,
                    ) in backward:  # fmt: skip
                        k -= 1
                        x, e, y = values[k]
                        if not fast:
                            d_pre = pre_gradient(e, y, d_out, target)[1]
                            updated = _update(
                                ps, param_gradients(x, d_pre), P, bufs, lr,
                                grads, shown, (d_pre, x, e, y), changes,
                            )  # fmt: skip
                            if input_gradient is not None:
                                d_in = input_gradient(updated if sequential else P, x, d_pre)
                                d_out = d_in if d_in.shape == x.shape else d_in.reshape(x.shape)
                            continue
                        if mode == DERIVATIVE:  # Layer.pre_gradient
                            d_pre = d_out * derivative(e, y)
                        elif mode == COMBINED:
                            d_pre = y - target
                        elif mode == NO_ACTIVATION:
                            d_pre = d_out
                        else:
                            d_pre = softmax_backward(y, d_out)  # type: ignore[arg-type]
                        W = w = P["weight"]
                        if not w_trained or kept or not in_place:  # Dense.param_gradients: a new array
                            g = d_pre[:, None] * x
                            if w_trained:  # the gradient is handed out: the new weights are a new array
                                w = W - lr * g
                                changes.append((P, "weight", w, bufs, name, False))
                        else:  # the same product into the spare buffer, then lr·g first, as `lr * g` makes it
                            buf = bufs.get("weight")  # type: ignore[union-attr]
                            g = d_pre[:, None] * x if buf is None else multiply(d_pre[:, None], x, out=buf)
                            w = subtract(W, multiply(g, lr, out=g), out=g)
                            changes.append((P, "weight", w, bufs, name, True))
                        if kept:
                            grads[w_flat] = g  # type: ignore[index]
                            shown[w_flat] = w  # type: ignore[index]
                        if bias:
                            b = P["bias"]
                            if b_trained:
                                b = b - lr * d_pre  # Dense's bias gradient is a copy of ∂E/∂e: the same numbers
                                changes.append((P, "bias", b, None, None, False))
                            if kept:
                                grads[b_flat] = d_pre  # type: ignore[index]
                                shown[b_flat] = b  # type: ignore[index]
                        if input_gradient is not None:  # Dense.input_gradient
                            d_out = (w if sequential else W).T.dot(d_pre)
                    for P, p, value, bufs, name, made in changes:  # nothing raises from here on
                        if name is None:  # a layer computed by its own methods (see _update_in_place)
                            if bufs is not None and bufs.get(p) is value:  # the spare buffer was written: the
                                bufs[p] = P[p]  # old array is spare now
                        elif bufs is not None:  # a dense layer's weights, in place: the old array is spare
                            if ours[name]:  # now, unless the step did not make it or handed it out
                                bufs[p] = P[p]
                            else:
                                bufs.pop(p, None)
                            ours[name] = made
                        P[p] = value
                    ends.append(StepEnd(index, loss, outputs, grads, shown))
        except FloatingPointError:
            pass
        return ends, params


def _update(
    plan: ParamPlan,
    grads: dict[str, Array],
    old: dict[str, Array],
    bufs: dict[str, Array] | None,
    lr: float,
    flat_grads: dict[str, Any] | None,
    flat_params: dict[str, Any] | None,
    others: tuple[Array, ...],
    changes: list[Change],
) -> dict[str, Array]:
    """A layer computed by its own methods: its parameters after the step (every one, for `input_gradient`),
    the changes to make at the step's end, and, for a step that is kept, its gradients and parameters. Without
    spare buffers (`run`) each new value is a new array; with them, see `_update_in_place`."""
    updated: dict[str, Array] = {}
    if bufs is None:
        for p, flat, trainable in plan:
            g = grads[p]
            value = updated[p] = old[p] - lr * g if trainable else old[p]
            flat_grads[flat] = g  # type: ignore[index]
            flat_params[flat] = value  # type: ignore[index]
    else:
        _update_in_place(plan, grads, old, bufs, lr, updated, flat_grads, flat_params, others)
    for p, _, trainable in plan:
        if trainable:
            changes.append((old, p, updated[p], bufs, None, False))
    return updated


def _update_in_place(
    plan: ParamPlan,
    grads: dict[str, Array],
    old: dict[str, Array],
    bufs: dict[str, Array],
    lr: float,
    updated: dict[str, Array],
    flat_grads: dict[str, Any] | None,
    flat_params: dict[str, Any] | None,
    others: tuple[Array, ...],
) -> None:
    """One layer's old − η·g, over the gradient where the layer's other arrays (`others`) do not hold it,
    else into the spare buffer (`updated` gets the new values); the gradients, and copies of the new
    values, into the flat dictionaries of a step that is kept."""
    keep = flat_grads is not None and flat_params is not None
    for p, flat, trainable in plan:
        g = shown = grads[p]
        value = old[p]
        if trainable:
            if _own(g, value, others):  # lr·g first, as `lr * g` makes it
                if keep:
                    shown = g.copy()
                value = subtract(value, multiply(g, lr, out=g), out=g)
            else:
                buf = bufs.get(p)  # made when first needed
                if buf is not None and g.shape == buf.shape:
                    value = subtract(value, multiply(g, lr, out=buf), out=buf)
                else:
                    value = bufs[p] = value - lr * g
        updated[p] = value
        if keep:
            flat_grads[flat] = shown  # type: ignore[index]
            flat_params[flat] = value.copy() if trainable else value  # type: ignore[index]


def _own(g: Array, param: Array, others: tuple[Array, ...]) -> bool:
    """Whether a gradient array can take the updated parameter's values: float64, the parameter's shape,
    writeable, the owner of its memory (`base` None), and neither the parameter nor one of the layer's
    other arrays, nor a view of it. A view's `base` is the array that owns the memory (numpy follows a
    view of a view back to it), so this is `np.may_share_memory` without its cost: a tenth of a
    64-128-64-10 step for its six parameters. An array over a buffer that is not an ndarray's
    (`np.frombuffer`) is asked of numpy."""
    if not (g.base is None and g.dtype == param.dtype == np.float64 and g.shape == param.shape):
        return False
    if not g.flags.writeable:
        return False
    for a in (param, *others):
        base = a.base
        if a is g or base is g:
            return False
        if base is not None and not isinstance(base, np.ndarray) and np.may_share_memory(g, a):
            return False
    return True
