"""Forward -> loss -> errors -> gradients -> updates, in numpy float64; yields trace events, never prints.

Each step is computed numerically first (cheap), then, when the detail asks for it, turned into
equation blocks by the layers. With `--rule slide` the exact chain rule is run beside the slide's
shortcut, so that every value that departs from the true gradient can carry the true one.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import preamble
from .expr import Add, Expr, Sym, Var
from .functions import LOSSES, Loss
from .graph import NETWORK_INPUT, Graph, graph_of
from .layers import input_names, layer_class
from .layers.base import EquationContext, Layer, LayerValues, StepKey
from .numerical import checked, locate
from .options import RunOptions, check_options
from .record import replace
from .spec import NetworkSpec
from .trace import (
    Block,
    Drift,
    Equation,
    Event,
    NamedArray,
    Prediction,
    StepEnd,
    StepStart,
    TraceEnd,
    TraceHeader,
)

if TYPE_CHECKING:
    from .layers.base import Numerics
    from .lean import LeanStep

Params = dict[str, dict[str, np.ndarray]]
# a lean run computes this many parameter values ahead at most (steps × the network's parameters), up to 64 steps
LEAN_BATCH_VALUES = 4096
# a summary run of a network with more parameter values than this updates them in place (see lean.py): a
# network of this many or fewer shows its parameters on every summary line (render/common.py's SummaryLine)
IN_PLACE_VALUES = 16


def build_layers(spec: NetworkSpec, graph: Graph | None = None) -> list[Layer]:
    """The layers in file order, each knowing how its inputs are written; neurons numbered in that order."""
    graph = graph or graph_of(spec)
    loss = LOSSES[spec.loss]
    layers: list[Layer] = []
    network_input = input_names(spec.input_shape, spec.input_names)
    first = 1
    for i, ls in enumerate(spec.layers):
        sources = tuple(network_input if s == NETWORK_INPUT else layers[s].names for s in graph.sources[i])
        layer = layer_class(ls.type)(ls, sources[0], first, i == len(spec.layers) - 1, loss)
        if len(sources) > 1:
            layer.connect(sources)
        layers.append(layer)
        first += ls.units if layer.numbers_units else 0
    return layers


def run(spec: NetworkSpec, opts: RunOptions) -> Iterator[Event]:
    """The whole run as a stream of trace events."""
    check_options(spec, opts)
    return _Run(spec, opts).events()


class _Run:
    def __init__(self, spec: NetworkSpec, opts: RunOptions) -> None:
        self.spec = spec
        self.opts = opts
        self.loss: Loss = LOSSES[spec.loss]
        self.graph = graph_of(spec)
        self.layers = build_layers(spec, self.graph)
        # the numeric passes see each layer as its numbers only: mypy holds them to that protocol
        self.numerics: list[Numerics] = list(self.layers)
        # a layer whose forward needs the whole batch (batchnorm): a step computes every sample layer by layer
        self.coupled = any(layer.batch_coupled for layer in self.layers)
        self.params: Params = {ls.name: {k: p.value.copy() for k, p in ls.params.items()} for ls in spec.layers}
        self.trainable = {ls.name: {k: p.trainable for k, p in ls.params.items()} for ls in spec.layers}
        self.lr = spec.learning_rate
        self.want_blocks = opts.detail != "summary"
        self.want_equations = opts.detail == "full"
        # a run that shows no blocks, one sample a step, in exact float64 by the exact rule: the lean step
        self.lean = (
            not self.want_blocks
            and opts.command == "train"
            and opts.batch == "single"
            and opts.round is None
            and opts.rule == "exact"
            and self.graph.is_chain
            and not any(layer.keeps_state or layer.batch_coupled for layer in self.layers)
        )
        self.lean_step: LeanStep | None = None
        if self.lean:
            from .lean import LeanStep  # only runs that show no blocks need it

            self.lean_step = LeanStep(
                self.layers, self.loss, self.lr, self.trainable, opts.update_order == "sequential"
            )
        self.flat_names = {ls.name: {k: f"{ls.name}.{k}" for k in ls.params} for ls in spec.layers}
        self.first_loss_seen = False  # the end of the run reports the loss before training: step 1's
        self.initial_loss: float | None = None
        self.last_samples: tuple[int, ...] = ()  # the last step's samples (0-based), fed forward again at the end
        # every value an equation shows goes through `_r`: rounded with --round, handed back at once without
        self._r: Callable[[Any], Any] = self._rounded if opts.round is not None else _unchanged

    # ---- the schedule (Algorithm 2) -------------------------------------------------------------

    def schedule(self) -> Iterator[tuple[int, int, tuple[int, ...]]]:
        """(step, epoch, sample indices) for every step to run."""
        n = len(self.spec.data)
        rng = np.random.default_rng(self.opts.seed) if self.opts.shuffle else None

        def order() -> list[int]:
            return [int(i) for i in rng.permutation(n)] if rng is not None else list(range(n))

        if self.opts.command == "forward":
            yield 1, 1, (self.opts.sample - 1,)
            return
        full = self.opts.batch == "full"
        if self.opts.epochs is not None:
            step = 0
            for epoch in range(1, self.opts.epochs + 1):
                samples = order()
                if full:
                    step += 1
                    yield step, epoch, tuple(samples)
                else:
                    for s in samples:
                        step += 1
                        yield step, epoch, (s,)
            return
        steps = self.opts.steps if self.opts.steps is not None else 1
        samples = []
        for step in range(1, steps + 1):
            if full:
                yield step, step, tuple(order())
                continue
            if not samples:
                samples = order()
            yield step, (step - 1) // n + 1, (samples.pop(0),)

    # ---- the run ------------------------------------------------------------------------------

    def events(self) -> Iterator[Event]:
        yield self.header()
        # with --round, the same steps in exact float64 beside, to report the drift at the end
        exact = (
            _Run(self.spec, replace(self.opts, round=None, detail="summary")) if self.opts.round is not None else None
        )
        last_losses: tuple[float | None, float | None] = (None, None)
        stopped = "all steps done"
        epoch_losses: list[float] = []
        current_epoch = 1
        steps_run = 0
        by_epochs = self.opts.epochs is not None
        if self.lean and self.opts.until_loss is None:  # nothing can stop the run early
            steps_run = yield from self._lean_run()
            yield self._end(steps_run, stopped, ())
            return
        for step, epoch, samples in self.schedule():
            if by_epochs and epoch != current_epoch:
                if self._reached(epoch_losses):
                    stopped = f"mean loss of epoch {current_epoch} reached --until-loss {self.opts.until_loss}"
                    break
                epoch_losses, current_epoch = [], epoch
            events = self.step(step, epoch, samples)
            loss = yield from self._watched(_without_empty_blocks(events) if self.want_blocks else events)
            if exact is not None:
                last_losses = (loss, _drain(exact.step(step, epoch, samples)))
            steps_run = step
            if loss is not None and by_epochs:
                epoch_losses.append(loss)
            if not by_epochs and self._reached([loss] if loss is not None else []):
                stopped = f"loss reached --until-loss {self.opts.until_loss}"
                break
        else:
            if by_epochs and self._reached(epoch_losses):
                stopped = f"mean loss of epoch {current_epoch} reached --until-loss {self.opts.until_loss}"
        drift = self._drift(exact, steps_run, last_losses) if exact is not None else ()
        yield self._end(steps_run, stopped, drift)

    def _watched(self, events: Iterator[Event]) -> Generator[Event, None, Any]:
        """The events as they pass, noting the first step's loss and the last step's samples for the end."""
        while True:
            try:
                ev = next(events)
            except StopIteration as stop:
                return stop.value
            if isinstance(ev, StepStart):
                self.last_samples = tuple(s - 1 for s in ev.samples)
            elif isinstance(ev, StepEnd) and not self.first_loss_seen:
                self.first_loss_seen, self.initial_loss = True, ev.loss
            yield ev

    def _end(self, steps: int, stopped: str, drift: tuple[Drift, ...]) -> TraceEnd:
        """The last event. After training, one more forward pass of every sample through the final weights:
        the predictions, and the loss of the last step's sample(s), to set beside the loss before training."""
        params = self._flat_params()
        if self.opts.command != "train" or not self.last_samples:
            return TraceEnd(steps, stopped, params, drift)
        predictions = []
        outputs = self.forward_samples(
            [sample.input for sample in self.spec.data], steps, range(1, len(self.spec.data) + 1), training=False
        )
        for k, sample in enumerate(self.spec.data):
            y = outputs[k][-1].y
            loss = None if np.isnan(sample.target).any() else self._r(self._loss_value(y, sample.target))
            predictions.append(Prediction(k + 1, y, sample.target, loss))
        last = [loss for s in self.last_samples if (loss := predictions[s].loss) is not None]
        final = None
        if len(last) == len(self.last_samples):
            final = self._r(last[0] if len(last) == 1 else float(np.mean(last)))
        return TraceEnd(
            steps,
            stopped,
            params,
            drift,
            self.initial_loss,
            final,
            tuple(s + 1 for s in self.last_samples),
            tuple(predictions),
        )

    def _reached(self, losses: list[float]) -> bool:
        return self.opts.until_loss is not None and bool(losses) and float(np.mean(losses)) <= self.opts.until_loss

    def step(self, index: int, epoch: int, samples: tuple[int, ...]) -> Generator[Event, None, float | None]:
        """The events of one step; the step's loss as the generator's return value.

        A step that shows no blocks is computed by lean.py, unless it hands the step back to the checked path."""
        if self.lean_step is not None:
            self.current_step = index
            ends, params = self.lean_step.run(self.params, [(index, self.spec.data[samples[0]])])
            if ends:
                self.params = params
                yield self._lean_start(index, epoch, samples[0])
                yield ends[0]
                return ends[0].loss
        return (yield from self._step(index, epoch, samples))

    def _lean_run(self) -> Generator[Event, None, int]:
        """Every step of a lean run that nothing stops early, computed a batch at a time under one np.errstate
        (entering it takes as long as a tenth of a small network's step); the number of steps run."""
        assert self.lean_step is not None
        lean = self.lean_step
        schedule = self.schedule()
        values = sum(p.size for ps in self.params.values() for p in ps.values())
        data = self.spec.data
        # a summary that shows few steps, of a network whose summary line does not show its parameters: the
        # parameters are updated in place, and only the steps the summary shows carry them (see lean.py)
        in_place = self.opts.summary_steps is not None and values > IN_PLACE_VALUES
        if in_place:
            head, tail = self.opts.summary_steps  # type: ignore[misc]
            total = self.opts.epochs * len(data) if self.opts.epochs is not None else (self.opts.steps or 1)
            keep = {*range(1, head + 1), *range(total - tail + 1, total + 1)}  # the steps the summary shows
            private = False  # self.params may be held outside (the header, a checked step's StepEnd)
        # a batch holds the parameters of each step it keeps: LEAN_BATCH_VALUES of them at most
        size = 64 if in_place else max(1, min(64, LEAN_BATCH_VALUES // max(values, 1)))
        starts = [((s + 1,), (d.input,), (d.target,)) for s, d in enumerate(data)]  # each sample's StepStart fields
        step = 0
        while batch := list(itertools.islice(schedule, size)):
            while batch:
                steps = [(i, data[s[0]]) for i, _, s in batch]
                if in_place:
                    if not private:
                        self.params, private = lean.private(self.params), True
                    ends, self.params = lean.run_in_place(self.params, steps, keep)
                else:
                    ends, self.params = lean.run(self.params, steps)
                for (step, epoch, samples), end in zip(batch, ends):
                    yield StepStart(step, epoch, *starts[samples[0]])
                    yield end
                if ends:  # what the end of the run reports (see _watched, which a lean step would slow)
                    self.last_samples = batch[len(ends) - 1][2]
                    if not self.first_loss_seen:
                        self.first_loss_seen, self.initial_loss = True, ends[0].loss
                del batch[: len(ends)]
                if batch:  # handed back: the checked path runs it, or names the first value that is not finite
                    step, epoch, samples = batch.pop(0)
                    yield from self._watched(self._step(step, epoch, samples))
                    private = False
        return step

    def _lean_start(self, index: int, epoch: int, s: int) -> StepStart:
        sample = self.spec.data[s]
        return StepStart(index, epoch, (s + 1,), (sample.input,), (sample.target,))

    def _step(self, index: int, epoch: int, samples: tuple[int, ...]) -> Generator[Event, None, float | None]:
        self.current_step = index  # named by a NumericalError
        data = [self.spec.data[s] for s in samples]
        yield StepStart(
            index, epoch, tuple(s + 1 for s in samples), tuple(d.input for d in data), tuple(d.target for d in data)
        )
        train = self.opts.command == "train"
        batch = len(samples) > 1 or self.opts.batch == "full"
        per_sample: list[list[LayerValues]] = []
        per_sample_exact: list[list[LayerValues]] = []
        losses: list[float] = []
        new_params: Params | None = None
        exact_new: Params | None = None
        sequential = self.opts.update_order == "sequential"
        numbers = [s + 1 for s in samples]
        # a network with a batch-coupled layer computes every sample of the step, layer by layer, before any block
        coupled = self._coupled_step(samples, index, train) if self.coupled else None
        for k, sample in enumerate(data):
            tag = k + 1 if batch else None
            ctx = self._context(tag)
            vals = coupled[0][k] if coupled is not None else self.forward(sample.input, index, numbers[k], train)
            has_target = not math.isnan(sample.target.flat[0])  # a target is given whole or not at all
            loss = self._r(self._loss_value(vals[-1].y, sample.target)) if has_target else None
            if loss is not None and not np.isfinite(loss):  # only --round can get here: _loss_value checks
                raise locate(self, "loss", (vals[-1].y,), loss, "")
            if self.want_blocks:
                yield from self.forward_blocks(vals, tag)
                if loss is not None:
                    yield self.loss_block(vals, sample.target, loss, ctx)
            if loss is not None:
                losses.append(loss)
            if not train:
                continue
            exact_vals = None
            if coupled is not None:
                _, new_params, exact_batch, exact_new = coupled
                exact_vals = exact_batch[k] if exact_batch is not None else None
            else:
                new_params = self.backward([vals], [sample.target], self.opts.rule)
                if self.opts.rule == "slide":
                    exact_vals = _fresh_copies([vals])[0]
                    exact_new = self.backward([exact_vals], [sample.target], "exact")
            if exact_vals is not None:
                for v, ev in zip(vals, exact_vals):
                    v.exact = ev
            assert new_params is not None
            per_sample.append(vals)
            if exact_vals is not None:
                per_sample_exact.append(exact_vals)
            if self.want_blocks:
                if sequential:
                    for i in reversed(range(len(self.layers))):
                        yield self.error_block(vals, i, sample.target, ctx)
                        yield self.gradient_block(vals, i, ctx)
                        yield self.update_block(vals, i, new_params, exact_new, ctx)
                else:
                    for i in reversed(range(len(self.layers))):
                        yield self.error_block(vals, i, sample.target, ctx)
                    for i in range(len(self.layers)):
                        yield self.gradient_block(vals, i, ctx)
        gradients = None
        departures = 0
        if train:
            if batch:
                grads = self._average([[v.grads for v in vals] for vals in per_sample])
                new_params = self._apply(grads)
                exact_new = None
                if per_sample_exact:
                    exact_new = self._apply(self._average([[v.grads for v in vals] for vals in per_sample_exact]))
                if self.want_blocks:
                    ctx = self._context(None)
                    for i, layer in enumerate(self.layers):
                        if grads[layer.name]:
                            yield Block(
                                "gradient",
                                layer.name,
                                f"Gradient averaged over the batch: {layer.name}",
                                "Batch gradient descent: each gradient is the mean of the samples' gradients.",
                                tuple(layer.average_equations([vals[i] for vals in per_sample], grads[layer.name]))
                                if self.want_equations
                                else (),
                                tuple(NamedArray(f"∂E/∂{layer.name}.{p}", g) for p, g in grads[layer.name].items()),
                            )
                    for i in range(len(self.layers)):
                        yield self.update_block(per_sample[0], i, new_params, exact_new, ctx, averaged=grads)
            else:
                grads = {layer.name: v.grads for layer, v in zip(self.layers, per_sample[0])}
                if self.want_blocks and not sequential:
                    ctx = self._context(None)
                    assert new_params is not None
                    for i in range(len(self.layers)):
                        yield self.update_block(per_sample[0], i, new_params, exact_new, ctx)
            assert new_params is not None
            self.params = new_params
            gradients = {f"{ln}.{p}": g for ln, gs in grads.items() for p, g in gs.items()}
            if exact_new is not None:
                departures = sum(
                    int(np.sum(~np.isclose(new_params[ln][p], exact_new[ln][p], rtol=1e-9, atol=0)))
                    for ln in new_params
                    for p in new_params[ln]
                )
        step_loss = self._r(losses[0] if len(losses) == 1 else float(np.mean(losses))) if losses else None
        yield StepEnd(
            index,
            step_loss,
            {layer.name: v.y for layer, v in zip(self.layers, vals)},
            gradients,
            self._flat_params() if train else None,
            departures,
            *self._kept_state(per_sample if per_sample else [vals]),
        )
        return step_loss

    def _coupled_step(
        self, samples: tuple[int, ...], index: int, train: bool
    ) -> tuple[list[list[LayerValues]], Params | None, list[list[LayerValues]] | None, Params | None]:
        """Every sample's values, forward and (training) backward, layer by layer: (values per sample, the
        parameters after the update, the exact rule's values and parameters under --rule slide). Not training,
        the batch is every sample of the data (the statistics of all of them), of which `samples` are shown."""
        if not train:
            every = self.forward_samples(
                [d.input for d in self.spec.data], index, range(1, len(self.spec.data) + 1), False
            )
            return [every[s] for s in samples], None, None, None
        data = [self.spec.data[s] for s in samples]
        batch = self.forward_samples([d.input for d in data], index, [s + 1 for s in samples], train)
        targets = [d.target for d in data]
        new = self.backward(batch, targets, self.opts.rule)
        if self.opts.rule != "slide":
            return batch, new, None, None
        exact = _fresh_copies(batch)
        return batch, new, exact, self.backward(exact, targets, "exact")

    def _kept_state(
        self, per_sample: list[list[LayerValues]]
    ) -> tuple[dict[str, tuple[np.ndarray, ...]] | None, dict[str, dict[str, np.ndarray]] | None]:
        """What the trace records of the layers' state: dropout's masks (one per sample), batch statistics."""
        masks: dict[str, tuple[np.ndarray, ...]] = {}
        statistics: dict[str, dict[str, np.ndarray]] = {}
        for k, layer in enumerate(self.layers):
            first = per_sample[0][k].state
            if "mask" in first:
                masks[layer.name] = tuple(vals[k].state["mask"] for vals in per_sample)
            if "statistics" in first:
                statistics[layer.name] = first["statistics"]
        return masks or None, statistics or None

    # ---- numerics -----------------------------------------------------------------------------

    def _forward(self, x: np.ndarray, step: int, sample: int = 1, training: bool = False) -> list[LayerValues]:
        """One sample forward through every layer, in file order (each reads the outputs it names)."""
        return self._forward_batch([x], step, [sample], training)[0]

    forward = checked("forward")(_forward)

    def _forward_batch(
        self, inputs: list[np.ndarray], step: int, numbers: list[int], training: bool
    ) -> list[list[LayerValues]]:
        """Every sample forward (numbered from 1 as in the data), layer by layer: a batch-coupled layer sees every
        sample's inputs at once."""
        keys = [StepKey(self.spec.seed, step, n, training) for n in numbers]
        outputs: list[list[np.ndarray]] = [[] for _ in inputs]
        batch: list[list[LayerValues]] = [[] for _ in inputs]
        for layer, sources in zip(self.numerics, self.graph.sources):
            p = self.params[layer.name]
            xss = [tuple([x if s == NETWORK_INPUT else outputs[k][s] for s in sources]) for k, x in enumerate(inputs)]
            if layer.batch_coupled:
                results = layer.forward_batch(p, xss, keys)
            elif layer.arity == 1 and not layer.keeps_state:  # most kinds: one input, nothing kept
                results = [(layer.pre_activation(p, xs[0]), {}) for xs in xss]
            else:
                results = [layer.forward_values(p, xs, key) for xs, key in zip(xss, keys)]
            shared: list[LayerValues] | None = [] if layer.batch_coupled else None
            for k, ((e, state), xs) in enumerate(zip(results, xss)):
                e = self._r(e)
                y = self._r(layer.activate(e)) if layer.has_activation else e
                v = LayerValues(xs[0], e, y, p, xs, state, shared)
                if shared is not None:
                    shared.append(v)
                batch[k].append(v)
                outputs[k].append(y)
        return batch

    forward_batch = checked("forward")(_forward_batch)

    def forward_samples(
        self, inputs: Sequence[np.ndarray], step: int, numbers: Iterable[int], training: bool
    ) -> list[list[LayerValues]]:
        """The values of every sample (numbered from 1 as in the data): a batch where a layer couples them."""
        if self.coupled:
            return self.forward_batch(list(inputs), step, list(numbers), training)
        return [self.forward(x, step, n, training) for x, n in zip(inputs, numbers)]

    def _backward(self, batch: list[list[LayerValues]], targets: list[np.ndarray], rule: str) -> Params:
        """Fill in the errors and gradients of every sample's values, layer by layer from the output; return
        the parameters after the update by the first sample's gradients (a step of one sample: its update).

        Where a value feeds several layers, the gradients each sends back are added (∂E/∂y = Σ over them)."""
        sequential = self.opts.update_order == "sequential"
        new: Params = {ln: dict(p) for ln, p in self.params.items()}
        out = len(self.layers) - 1
        last = self.numerics[out]
        reached: list[dict[int, np.ndarray]] = [
            {} if last.combined else {out: self._r_shown_d_out(last, self.loss.gradient(vals[out].y, target))}
            for vals, target in zip(batch, targets)
        ]
        raw: dict[str, dict[str, np.ndarray]] = {}  # the gradients before rounding, for the updates
        for k in reversed(range(len(self.layers))):
            layer = self.numerics[k]
            for s, vals in enumerate(batch):
                v = vals[k]
                d_out = reached[s].get(k)
                v.d_out = d_out if k == out or d_out is None else self._r_shown_d_out(layer, d_out)
                layer.local_backward(v, targets[s])
                self._round_local(layer, v)
                grads = layer.parameter_gradients(v)
                if s == 0:
                    raw[layer.name] = grads
                v.grads = {p: self._r(g) for p, g in grads.items()} if self.opts.round is not None else grads
                if sequential:
                    new[layer.name] = self._updated(layer.name, raw[layer.name])
                    v.prop_params = new[layer.name]
            sources = self.graph.sources[k]
            if all(source == NETWORK_INPUT for source in sources) and not layer.keeps_state:
                continue  # nothing reads ∂E/∂x of the network's input; a kind with state keeps its backward values
            slide = rule == "slide" and layer.has_activation and not layer.direct_pre
            for s, vals in enumerate(batch):
                v = vals[k]
                src = v.d_out if slide else v.d_pre
                assert src is not None
                through = v.prop_params if sequential and v.prop_params is not None else v.params
                v.d_ins = layer.input_gradients(through, v, src)
                v.d_in = v.d_ins[0]
                for slot, source in enumerate(sources):
                    if source != NETWORK_INPUT:
                        d = v.d_ins[slot].reshape(vals[source].y.shape)
                        before = reached[s].get(source)
                        reached[s][source] = d if before is None else before + d
        if not sequential:
            for layer in self.numerics:
                new[layer.name] = self._updated(layer.name, raw[layer.name])
        return new

    backward = checked("backward")(_backward)

    def _updated(self, layer: str, grads: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        old = self.params[layer]
        return {p: self._r(old[p] - self.lr * grads[p]) if self.trainable[layer][p] else old[p] for p in old}

    def _average(self, per_sample: list[list[dict[str, np.ndarray]]]) -> Params:
        n = len(per_sample)
        return {
            layer.name: {p: self._r(sum(s[i][p] for s in per_sample) / n) for p in per_sample[0][i]}
            for i, layer in enumerate(self.layers)
        }

    # ---- rounding as by hand (--round N): each value an equation shows is rounded when computed ----

    def _rounded(self, a):  # type: ignore[no-untyped-def]
        """`a` (an array or a float) rounded to --round decimals (`_r` with --round); unchanged without."""
        if self.opts.round is None:
            return a
        from .rounding import round_array, round_value

        return round_value(a, self.opts.round) if isinstance(a, float) else round_array(a, self.opts.round)

    def _r_shown_d_out(self, layer: Numerics, d_out: np.ndarray) -> np.ndarray:
        """∂E/∂y, rounded where an equation shows it (the lecture's δ; textbook δ is ∂E/∂e)."""
        if self.opts.round is None:
            return d_out
        shown = self.opts.notation == "lecture" or not layer.has_activation or not layer.activation.elementwise
        return self._r(d_out) if shown else d_out

    def _round_local(self, layer: Numerics, v: LayerValues) -> None:
        """dh/de rounded, and ∂E/∂e recomputed from the rounded factors (rounded too where it is shown)."""
        if self.opts.round is None:
            return
        if v.deriv is not None:
            v.deriv = self._r(v.deriv)
            if v.d_out is not None:
                v.d_pre = v.d_out * v.deriv
        if v.d_pre is not None and layer.has_activation and (self.opts.notation == "textbook" or layer.direct_pre):
            v.d_pre = self._r(v.d_pre)

    def _drift(self, exact: _Run, steps: int, losses: tuple[float | None, float | None]) -> tuple[Drift, ...]:
        """The final values under --round beside the exact ones (each element, or each parameter's worst)."""
        rows: list[Drift] = []
        if losses[0] is not None and losses[1] is not None:
            rows.append(Drift(f"E (step {steps})", None, losses[0], losses[1]))
        small = sum(p.size for ps in self.params.values() for p in ps.values()) <= 64
        for layer in self.layers:
            for pname, value in self.params[layer.name].items():
                diff = np.abs(value - exact.params[layer.name][pname])
                idxs = list(np.ndindex(value.shape)) if small else [np.unravel_index(int(np.argmax(diff)), diff.shape)]
                for idx in idxs:
                    label = f"{layer.name}.{pname}[{', '.join(str(int(i)) for i in idx)}]"
                    rows.append(
                        Drift(
                            label if small else f"{label} (largest of {value.size})",
                            layer.param_symbol(pname, tuple(int(i) for i in idx)) if small else None,
                            float(value[idx]),
                            float(exact.params[layer.name][pname][idx]),
                        )
                    )
        return tuple(rows)

    @checked("loss")
    def _loss_value(self, y: np.ndarray, target: np.ndarray) -> float:
        return self.loss.value(y, target)

    @checked("update")
    def _apply(self, grads: Params) -> Params:
        return {ln: self._updated(ln, g) for ln, g in grads.items()}

    def _flat_params(self) -> dict[str, np.ndarray]:
        """The parameters by flat name: the arrays themselves, which an update replaces and never changes."""
        names = self.flat_names
        return {names[ln][p]: v for ln, ps in self.params.items() for p, v in ps.items()}

    # ---- blocks -------------------------------------------------------------------------------

    def _context(self, sample: int | None) -> EquationContext:
        return EquationContext(self.opts.notation, self.opts.rule, self.lr, self.loss, sample)

    def _units(self, layer: Layer) -> str:
        if layer.type_name == "dense":
            named = layer.spec.options.get("unit_names")
            if named:
                return f"neuron {named[0]}" if len(named) == 1 else f"neurons {', '.join(named)}"
            a, b = layer.first_unit, layer.first_unit + layer.units - 1
            return f"neuron {a}" if a == b else f"neurons {a}–{b}"
        return ""

    def forward_blocks(self, vals: list[LayerValues], sample: int | None) -> Iterator[Block]:
        for layer, v in zip(self.layers, vals):
            units = self._units(layer)
            what = "sums its weighted inputs (e_n), then applies its activation: y_n = h_n(e_n)"
            yield Block(
                "forward",
                layer.name,
                f"Forward: {layer.name}" + (f" ({units})" if units else ""),
                layer.block_note("forward", self._context(sample)) or f"Each neuron {what}.",
                tuple(layer.forward_equations(v)) if self.want_equations else (),
                layer.block_arrays("forward", v) or (NamedArray("e", v.e), NamedArray("y", v.y)),
                sample,
            )

    def output_pairs(self, vals: list[LayerValues], target: np.ndarray) -> list[tuple[Expr, Expr]]:
        last = self.layers[-1]
        y = vals[-1].y
        single = y.size == 1
        return [
            (
                Var(last.names.out(i), float(y.flat[i])),
                Var(Sym("ŷ", () if single else last.names.out(i).indices), float(target.flat[i])),
            )
            for i in range(y.size)
        ]

    def loss_block(self, vals: list[LayerValues], target: np.ndarray, loss: float, ctx: EquationContext) -> Block:
        from .trace import Equation

        pairs = self.output_pairs(vals, target)
        eqs = (Equation.of("loss", ctx.loss_symbol, self.loss.form(pairs), loss),) if self.want_equations else ()
        return Block(
            "loss",
            None,
            "Loss",
            f"How far the output is from the target: {self.loss.formula}.",
            eqs,
            (NamedArray("E", np.array(loss)),),
            ctx.sample,
        )

    def error_block(self, vals: list[LayerValues], i: int, target: np.ndarray, ctx: EquationContext) -> Block:
        layer, v = self.layers[i], vals[i]
        incoming = None
        pairs = None
        consumers = self.graph.consumers[i]
        if i == len(self.layers) - 1:
            pairs = self.output_pairs(vals, target)
            note = layer.block_note("error", ctx) or self._output_error_note(layer, ctx)
        else:
            if self.want_equations:
                shares = [self.layers[c].propagation_terms(vals[c], ctx, slot) for c, slot in consumers]
                incoming = shares[0] if len(shares) == 1 else [_sum(*terms) for terms in zip(*shares)]
            if len(consumers) == 1:
                above = self.layers[consumers[0][0]]
                note = above.propagation_note(ctx) or self._hidden_error_note(ctx)
            else:
                readers = ", ".join(self.layers[c].name for c, _ in consumers)
                note = (
                    f"{layer.name} feeds {readers}: its error is the sum of what each of them sends back "
                    "(∂E/∂y = Σ over the layers it feeds)."
                )
        eqs = tuple(layer.error_equations(v, ctx, incoming, target, pairs)) if self.want_equations else ()
        arrays = []
        if v.d_out is not None:
            arrays.append(NamedArray("δ = ∂E/∂y" if ctx.notation == "lecture" else "∂E/∂y", v.d_out))
        if v.deriv is not None:
            arrays.append(NamedArray("dh/de", v.deriv))
        if v.d_pre is not None:
            arrays.append(NamedArray("∂E/∂e" if ctx.notation == "lecture" else "δ = ∂E/∂e", v.d_pre))
        units = self._units(layer)
        return Block(
            "error",
            layer.name,
            f"Error: {layer.name}" + (f" ({units})" if units else ""),
            note,
            eqs,
            layer.block_arrays("error", v) or tuple(arrays),
            ctx.sample,
        )

    def _output_error_note(self, layer: Layer, ctx: EquationContext) -> str:
        if layer.combined:
            return f"With {layer.activation.name} and {self.loss.name} the derivatives combine: ∂E/∂e_n = y_n − ŷ_n."
        if ctx.notation == "textbook":
            return "δ_n = ∂E/∂e_n: the loss's derivative at the output times dh_n(e)/de."
        return "δ_n is the error at the output of neuron n: the derivative of the loss, ∂E/∂y_n."

    def _hidden_error_note(self, ctx: EquationContext) -> str:
        if ctx.notation == "textbook":
            return "δ_m = dh_m(e)/de · Σ_n w_mn·δ_n: the chain rule through every neuron m feeds."
        if self.opts.update_order == "sequential":
            extra = " The weights are the ones just updated (sequential order)."
        else:
            extra = ""
        if ctx.rule == "slide":
            return (
                "The slide's rule: δ_m = Σ_n w_mn·δ_n, leaving out dh_n(e)/de; a value marked ≠ "
                "departs from the true gradient, which is shown beside it." + extra
            )
        return "Chain rule: δ_m = Σ_n w_mn·dh_n(e)/de·δ_n over every neuron n that m feeds." + extra

    def gradient_block(self, vals: list[LayerValues], i: int, ctx: EquationContext) -> Block:
        layer, v = self.layers[i], vals[i]
        eqs = tuple(layer.gradient_equations(v, ctx)) if self.want_equations else ()
        return Block(
            "gradient",
            layer.name,
            f"Gradients: {layer.name}",
            layer.block_note("gradient", ctx)
            or "Each weight's gradient: the error term of the neuron it feeds times the input it carries.",
            eqs,
            layer.block_arrays("gradient", v) or tuple(NamedArray(f"∂E/∂{p}", g) for p, g in v.grads.items()),
            ctx.sample,
        )

    def update_block(
        self,
        vals: list[LayerValues],
        i: int,
        new_params: Params,
        exact_new: Params | None,
        ctx: EquationContext,
        averaged: Params | None = None,
    ) -> Block:
        layer = self.layers[i]
        v = vals[i]
        if averaged is not None:
            v = replace(v, grads=averaged[layer.name], params=self.params[layer.name])
        eqs: tuple[Equation, ...] = ()
        if self.want_equations:
            eqs = tuple(
                layer.update_equations(
                    v,
                    ctx,
                    new_params[layer.name],
                    exact_new[layer.name] if exact_new else None,
                    self.trainable[layer.name],
                    averaged=averaged is not None,
                )
            )
        return Block(
            "update",
            layer.name,
            f"Update: {layer.name}",
            f"Gradient descent: each parameter moves against its gradient, by η = {self.lr:g} times it.",
            eqs,
            tuple(NamedArray(f"{p}'", new_params[layer.name][p]) for p in v.grads),
        )

    # ---- header -------------------------------------------------------------------------------

    def header(self) -> TraceHeader:
        return preamble.header(self.spec, self.opts, self.layers)


def _unchanged(a: Any) -> Any:
    return a


def _sum(*shares: Expr) -> Expr:
    """The error of a value that feeds several layers: every layer's share, one sum (a share that is a sum
    itself is spread into it)."""
    terms: list[Expr] = []
    for share in shares:
        terms.extend(share.terms if isinstance(share, Add) else (share,))
    return Add(tuple(terms))


def _fresh_copies(batch: list[list[LayerValues]]) -> list[list[LayerValues]]:
    """The values of every sample with nothing of the backward pass yet, for the exact rule beside the slide's;
    a batch-coupled layer's copies see each other (`batch`) rather than the originals."""
    copies = [[replace(v, grads={}, state=dict(v.state)) for v in vals] for vals in batch]
    for k in range(len(copies[0]) if copies else 0):
        if batch[0][k].batch is not None:
            column = [vals[k] for vals in copies]
            for v in column:
                v.batch = column
    return copies


def _drain(steps: Iterator[Event]) -> float | None:
    """Run a step generator to its end; its return value (the step's loss)."""
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value


def _without_empty_blocks(step: Iterator[Event]) -> Generator[Event, None, float | None]:
    """A step's events without the gradient and update blocks of layers that have no parameters (pooling)."""
    while True:
        try:
            ev = next(step)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        if not (isinstance(ev, Block) and ev.phase in ("gradient", "update") and not ev.equations and not ev.arrays):
            yield ev


class Gradients:
    """The engine's numbers without a trace, for `bpexplain check`: the mean loss of some samples (0-based) and
    its gradients by back-propagation (exact rule), from `params`, which a caller may change in place (a central
    difference moves one element at a time). Dropout draws step 1's masks; batch statistics are over `samples`."""

    def __init__(self, spec: NetworkSpec) -> None:
        self.spec = spec
        self._run = _Run(spec, RunOptions(command="train", detail="summary"))
        self.layers: list[Layer] = self._run.layers
        self.params: Params = self._run.params

    def _values(self, samples: Sequence[int]) -> list[list[LayerValues]]:
        data = self.spec.data
        return self._run.forward_samples([data[s].input for s in samples], 1, [s + 1 for s in samples], True)

    def mean_loss(self, samples: Sequence[int]) -> tuple[float, tuple[bytes, ...]]:
        """The mean loss, and which side of every non-differentiable point each layer's values are on."""
        total = 0.0
        sides: list[bytes] = []
        for s, vals in zip(samples, self._values(samples)):
            total += self._run.loss.value(vals[-1].y, self.spec.data[s].target)
            sides += [layer.sides(v) for layer, v in zip(self.layers, vals)]
        return total / len(samples), tuple(sides)

    def gradients(self, samples: Sequence[int]) -> Params:
        """∂(mean loss)/∂(every parameter): the backward pass of every sample, averaged."""
        batch = self._values(samples)
        self._run.backward(batch, [self.spec.data[s].target for s in samples], "exact")
        total = {ln: {p: np.zeros_like(v) for p, v in ps.items()} for ln, ps in self.params.items()}
        for vals in batch:
            for layer, v in zip(self.layers, vals):
                for p, g in v.grads.items():
                    total[layer.name][p] += g
        return {ln: {p: g / len(samples) for p, g in ps.items()} for ln, ps in total.items()}


def forward_pass(spec: NetworkSpec) -> list[list[LayerValues]]:
    """Every sample of the data forward through the file's parameters, as `forward` computes it (no dropout;
    a batch-coupled layer's statistics over every sample): each sample's values, layer by layer. A value that
    is not finite raises a NumericalError naming it."""
    run = _Run(spec, RunOptions(command="forward", detail="summary"))
    return run.forward_samples([d.input for d in spec.data], 1, range(1, len(spec.data) + 1), training=False)


def describe(spec: NetworkSpec, opts: RunOptions) -> TraceHeader:
    """The header of a run (network, conventions, legend, parameters) without running it: `bpexplain show`."""
    return preamble.header(spec, opts, build_layers(spec))
