"""The summary path: a training step that shows nothing but its end, without the records a trace needs.

`--detail summary` runs thousands of steps, and a step of a small network is a few dozen numpy calls
of well under a microsecond each, so whatever surrounds them counts. This is the engine's step for
one sample by the exact rule, unrounded, with only what a StepEnd carries kept: the layers' own
methods, called in the same order on the same numbers, so the results are the same bits. What can be
looked up once is: each layer's bound methods and parameter names sit in a tuple made when the run
starts, and the step reads them by unpacking, not by attribute or dictionary.

A floating-point error, or a loss that is not finite, hands the step back before anything has changed,
and the engine runs it again by its checked path, which names the first value that is not finite.

`run_in_place` is the same step without new parameter arrays: the step writes old − η·g over the
gradient array the layer has just made, when nothing else holds it (checked by `base` and identity,
not by `np.may_share_memory`, which cost a tenth of a 64-128-64-10 step), else into a spare buffer
that then changes places with the old array; the same operations, so the same bits. (Writing into the
spare buffer always was measured too: a cold weight matrix more to write a step, 1.3× slower at
256-512-256-10.) The parameters in use are never written, so a step handed back has still changed
nothing. Only the steps a summary shows (`keep`) hand out their parameters and gradients, as copies;
the others carry None.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .functions import Loss
from .layers.base import Layer
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
        # from the output back: (index, name, pre_gradient, param_gradients, input_gradient or None, parameters)
        self.backward_plan = tuple(
            (
                k,
                layers[k].name,
                layers[k].pre_gradient,
                layers[k].param_gradients,
                layers[k].input_gradient if k else None,
                params[k],
            )
            for k in range(len(layers) - 1, -1, -1)
        )
        self.layer_names = [layer.name for layer in layers]
        self.flat_names = [flat for ps in params for _, flat, _ in ps]
        self.trainable_names = {layer.name: [p for p, _, t in ps if t] for layer, ps in zip(layers, params)}
        self.loss_value = loss.value
        self.loss_gradient = loss.gradient
        self.lr = learning_rate
        self.sequential = sequential
        self.combined = layers[-1].combined  # the output layer's ∂E/∂e comes from the target directly

    def run(self, params: Params, steps: Sequence[tuple[int, Sample]]) -> tuple[list[StepEnd], Params]:
        """The steps (number, sample) in turn under one np.errstate, each from the parameters the one before
        left: their StepEnds, and the parameters after the last. They end early, before the first step that
        must be handed back."""
        ends: list[StepEnd] = []
        step = self._step
        try:
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                for index, sample in steps:
                    done = step(index, params, sample.input, sample.target)
                    if done is None:
                        break
                    ends.append(done[0])
                    params = done[1]
        except FloatingPointError:
            pass
        return ends, params

    def spare(self, params: Params) -> Params:
        """Empty buffers shaped as the trainable parameters, for `run_in_place`."""
        return {name: {p: np.empty_like(params[name][p]) for p in ps} for name, ps in self.trainable_names.items()}

    def run_in_place(
        self, params: Params, spare: Params, steps: Sequence[tuple[int, Sample]], keep: Callable[[int], bool]
    ) -> tuple[list[StepEnd], Params, Params]:
        """As `run`, with `params` (which nothing outside may hold) and `spare` trading places each step: the
        StepEnds, the parameters after the last step, and the spare buffers. A step `keep` refuses carries no
        parameters or gradients."""
        ends: list[StepEnd] = []
        step = self._step
        try:
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                for index, sample in steps:
                    done = step(index, params, sample.input, sample.target, spare, keep(index))
                    if done is None:
                        break
                    end, new = done
                    for name, bufs in spare.items():  # the buffers written this step: the old arrays are spare now
                        old = params[name]
                        for p in bufs:
                            if new[name][p] is bufs[p]:
                                bufs[p] = old[p]
                    params = new
                    ends.append(end)
        except FloatingPointError:
            pass
        return ends, params, spare

    def _step(
        self, index: int, params: Params, x: Array, target: Array, spare: Params | None = None, keep: bool = True
    ) -> tuple[StepEnd, Params] | None:
        values: list[tuple[Array, Array, Array]] = []  # each layer's (input, e, y)
        outputs: dict[str, Array] = {}
        for name, pre_activation, activate in self.forward_plan:
            e = pre_activation(params[name], x)
            y = outputs[name] = e if activate is None else activate(e)
            values.append((x, e, y))
            x = y
        loss = self.loss_value(x, target)
        if not isfinite(loss):
            return None
        lr, sequential = self.lr, self.sequential
        d_out = None if self.combined else self.loss_gradient(x, target)
        # keys in the network's order, as the checked path gives them; values filled in from the output back
        new: dict[str, Any] = dict.fromkeys(self.layer_names)
        flat_grads: dict[str, Any] | None = dict.fromkeys(self.flat_names) if keep else None
        flat_params: dict[str, Any] | None = dict.fromkeys(self.flat_names) if keep else None
        for k, name, pre_gradient, param_gradients, input_gradient, plan in self.backward_plan:
            x, e, y = values[k]
            d_pre = pre_gradient(e, y, d_out, target)[1]
            grads = param_gradients(x, d_pre)
            old = params[name]
            updated = new[name] = {}
            if spare is None:
                for p, flat, trainable in plan:
                    g = grads[p]
                    value = updated[p] = old[p] - lr * g if trainable else old[p]
                    flat_grads[flat] = g  # type: ignore[index]
                    flat_params[flat] = value  # type: ignore[index]
            else:
                _update_in_place(plan, grads, old, spare[name], lr, updated, flat_grads, flat_params, (d_pre, x, e, y))
            if input_gradient is not None:
                d_in = input_gradient(updated if sequential else old, x, d_pre)
                d_out = d_in if d_in.shape == x.shape else d_in.reshape(x.shape)
        return StepEnd(index, loss, outputs, flat_grads, flat_params), new


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
                buf = bufs[p]
                if g.shape == buf.shape:
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
