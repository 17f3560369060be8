"""The summary path: a training step that shows nothing but its end, without the records a trace needs.

`--detail summary` runs thousands of steps, and a step of a small network is a few dozen numpy calls
of well under a microsecond each, so whatever surrounds them counts. This is the engine's step for
one sample by the exact rule, unrounded, with only what a StepEnd carries kept: the layers' own
methods, called in the same order on the same numbers, so the results are the same bits. What can be
looked up once is: each layer's bound methods and parameter names sit in a tuple made when the run
starts, and the step reads them by unpacking, not by attribute or dictionary.

A floating-point error, or a loss that is not finite, hands the step back before anything has changed,
and the engine runs it again by its checked path, which names the first value that is not finite.

`run_in_place` is the same step without new parameter arrays: each trainable parameter has a spare
buffer of its shape, the step writes old − η·g there (the same operations, so the same bits), and the
two change places once the whole step has succeeded, so a step handed back has still changed nothing.
The layer's gradient array is only read, and it is let go as soon as its layer is done with: then the
only array a step makes and frees at the size of a weight matrix is that gradient, made and freed at
the same place in the heap every step. (Writing the update over the gradient instead, and letting the
old parameter go, makes the heap's free end grow by two weight matrices every other step; the C
library hands that memory back to the system, and the next step faults it in again: 2.2× the numpy
loop at 256-512-256-10.) Only the steps a summary shows (`keep`) hand out their parameters and
gradients, the parameters as copies; the others carry None.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .functions import Loss
from .layers.base import Layer
from .spec import Sample
from .trace import StepEnd

Array = np.ndarray
Params = dict[str, dict[str, Array]]
isfinite, multiply, subtract = math.isfinite, np.multiply, np.subtract

# A layer's parameters, as the step reads them: (name, flat name "layer.name", trainable).
ParamPlan = tuple[tuple[str, str, bool], ...]


def _activation(layer: Layer) -> Callable[[Array], Array] | None:
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
        layers: Sequence[Layer],
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
                _update_in_place(plan, grads, old, spare[name], lr, updated, flat_grads, flat_params)
                del grads  # the gradient let go before the next layer's is made (see above)
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
) -> None:
    """One layer's old − η·g into its spare buffers (`updated` gets the new values); the gradients, and
    copies of the new values, into the flat dictionaries of a step that is kept."""
    for p, flat, trainable in plan:
        g = grads[p]
        value = old[p]
        if trainable:
            buf = bufs[p]
            if g.shape == buf.shape:  # lr·g first, as `lr * g` makes it
                value = subtract(value, multiply(g, lr, out=buf), out=buf)
            else:
                value = bufs[p] = value - lr * g
        updated[p] = value
        if flat_grads is not None and flat_params is not None:
            flat_grads[flat] = g
            flat_params[flat] = value.copy() if trainable else value
