"""The summary path: a training step that shows nothing but its end, without the records a trace needs.

`--detail summary` runs thousands of steps, and a step of a small network is a few dozen numpy calls
of well under a microsecond each, so whatever surrounds them counts. This is the engine's step for
one sample by the exact rule, unrounded, with only what a StepEnd carries kept: the layers' own
methods, called in the same order on the same numbers, so the results are the same bits.

A floating-point error, or a loss that is not finite, hands the step back before anything has changed,
and the engine runs it again by its checked path, which names the first value that is not finite.

`run_in_place` is the same step without new parameter arrays: the step writes old − η·g over the
gradient array the layer has just made (when nothing else holds it; else into a spare buffer that then
changes places with the old array), with the same operations, so the same bits. The parameters in use
are never written, so a step handed back has still changed nothing. Only the steps a summary shows
(`keep`) hand out their parameters and gradients, as copies; the others carry None.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .functions import Loss
from .layers.base import Layer
from .spec import Sample
from .trace import StepEnd

Array = np.ndarray
Params = dict[str, dict[str, Array]]
multiply, subtract = np.multiply, np.subtract


@dataclass(frozen=True)
class _Plan:
    """One layer's bound methods and parameters, looked up once for every step."""

    layer: Layer
    name: str
    pre_activation: Callable[[dict[str, Array], Array], Array]
    activate: Callable[[Array], Array] | None
    params: tuple[tuple[str, str, bool], ...]  # (parameter, flat name, trainable)


class LeanStep:
    def __init__(
        self,
        layers: Sequence[Layer],
        loss: Loss,
        learning_rate: float,
        trainable: dict[str, dict[str, bool]],
        sequential: bool,
    ) -> None:
        self.plans = [
            _Plan(
                layer,
                layer.name,
                layer.pre_activation,
                layer.activate if layer.has_activation else None,
                tuple((p, f"{layer.name}.{p}", trainable[layer.name][p]) for p in layer.spec.params),
            )
            for layer in layers
        ]
        self.backward_indices = range(len(self.plans) - 1, -1, -1)
        self.layer_names = [plan.name for plan in self.plans]
        self.flat_names = [flat for plan in self.plans for _, flat, _ in plan.params]
        self.loss = loss
        self.lr = learning_rate
        self.sequential = sequential
        self.combined = layers[-1].combined  # the output layer's ∂E/∂e comes from the target directly

    def run(self, params: Params, steps: Sequence[tuple[int, Sample]]) -> tuple[list[StepEnd], Params]:
        """The steps (number, sample) in turn under one np.errstate, each from the parameters the one before
        left: their StepEnds, and the parameters after the last. They end early, before the first step that
        must be handed back."""
        ends: list[StepEnd] = []
        try:
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                for index, sample in steps:
                    done = self._step(index, params, sample.input, sample.target)
                    if done is None:
                        break
                    end, params = done
                    ends.append(end)
        except FloatingPointError:
            pass
        return ends, params

    def spare(self, params: Params) -> Params:
        """Empty buffers shaped as the trainable parameters, for `run_in_place`."""
        return {
            plan.name: {p: np.empty_like(params[plan.name][p]) for p, _, trainable in plan.params if trainable}
            for plan in self.plans
        }

    def run_in_place(
        self, params: Params, spare: Params, steps: Sequence[tuple[int, Sample]], keep: Callable[[int], bool]
    ) -> tuple[list[StepEnd], Params, Params]:
        """As `run`, with `params` (which nothing outside may hold) and `spare` trading places each step: the
        StepEnds, the parameters after the last step, and the spare buffers. A step `keep` refuses carries no
        parameters or gradients."""
        ends: list[StepEnd] = []
        try:
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                for index, sample in steps:
                    done = self._step(index, params, sample.input, sample.target, spare, keep(index))
                    if done is None:
                        break
                    end, new = done
                    for name, bufs in spare.items():  # a spare buffer written this step: the old array is spare now
                        for p, buf in bufs.items():
                            if new[name][p] is buf:
                                bufs[p] = params[name][p]
                    params = new
                    ends.append(end)
        except FloatingPointError:
            pass
        return ends, params, spare

    def _step(
        self, index: int, params: Params, x: Array, target: Array, spare: Params | None = None, keep: bool = True
    ) -> tuple[StepEnd, Params] | None:
        inputs: list[Array] = []
        pres: list[Array] = []
        outputs: dict[str, Array] = {}
        for plan in self.plans:
            e = plan.pre_activation(params[plan.name], x)
            inputs.append(x)
            pres.append(e)
            x = outputs[plan.name] = plan.activate(e) if plan.activate is not None else e
        loss = self.loss.value(x, target)
        if not math.isfinite(loss):
            return None
        lr, sequential = self.lr, self.sequential
        d_out = None if self.combined else self.loss.gradient(x, target)
        # keys in the network's order, as the checked path gives them; values filled in from the output back
        new: dict[str, Any] = dict.fromkeys(self.layer_names)
        flat_grads: dict[str, Any] = dict.fromkeys(self.flat_names)
        flat_params: dict[str, Any] = dict.fromkeys(self.flat_names)
        for k in self.backward_indices:
            plan = self.plans[k]
            layer, x = plan.layer, inputs[k]
            d_pre = layer.pre_gradient(pres[k], outputs[plan.name], d_out, target)[1]
            grads = layer.param_gradients(x, d_pre)
            old = params[plan.name]
            updated = new[plan.name] = {}
            spares = spare[plan.name] if spare is not None else None
            for p, flat, trainable in plan.params:
                g = grads[p]
                shown = g
                if not trainable:
                    value = old[p]
                elif spares is None:
                    value = old[p] - lr * g
                elif _own(g, old[p], (d_pre, x, pres[k], outputs[plan.name])):  # old − η·g over g
                    if keep:
                        shown = g.copy()
                    value = subtract(old[p], multiply(g, lr, out=g), out=g)  # lr·g first, as `lr * g` makes it
                else:  # into the spare buffer
                    buf = spares[p]
                    if g.shape == buf.shape:
                        value = subtract(old[p], multiply(g, lr, out=buf), out=buf)
                    else:
                        value = spares[p] = old[p] - lr * g
                updated[p] = value
                if keep:
                    flat_grads[flat] = shown
                    flat_params[flat] = value if spares is None or not trainable else value.copy()
            if k:
                d_in = layer.input_gradient(updated if sequential else old, x, d_pre)
                d_out = d_in if d_in.shape == x.shape else d_in.reshape(x.shape)
        if not keep:
            return StepEnd(index, loss, outputs), new
        return StepEnd(index, loss, outputs, flat_grads, flat_params), new


def _own(g: Array, param: Array, others: tuple[Array, ...]) -> bool:
    """Whether a gradient array can take the updated parameter's values: float64, the parameter's shape,
    writeable, and sharing no memory with the parameter or the layer's other arrays (its input, e, y and
    ∂E/∂e), so that nothing else holds it."""
    return (
        g.dtype == param.dtype == np.float64
        and g.shape == param.shape
        and g.flags.writeable
        and not np.may_share_memory(g, param)
        and not any(np.may_share_memory(g, a) for a in others)
    )
