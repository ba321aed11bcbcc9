"""`Model`: a graph of layer calls (Keras' functional API), with a hand-written backward.

    inputs = scratch.Input(shape=(D,))
    h = Dense(128, activation="relu")(inputs)
    outputs = Dense(10, activation="softmax")(h)
    model = Model(inputs, outputs)

The graph is a list of `Node`s in topological order. `forward` runs them in order, keeping one
cache per node (so a layer called twice back-propagates both calls); `backward` runs them in
reverse, summing the cotangents of tensors used more than once and the weight gradients of
layers used more than once. A `Model` is itself a `Layer`, so models nest.

What the walk needs at every step (the layer calls in order, which layers learn, which tensors
need a gradient, whether the graph is a plain stack that runs as a loop) is worked out once
per graph and set of trainable flags, into a `StepPlan` (step_plan.py).

The module is over the project's 500 lines because `Model` is one class, as Keras' is: the
graph it is built from, the forward and backward walks and the Keras API around them
(`get_layer`, the weight lists, `get_config`, saving) are its methods; the training loop
lives apart (training.py).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import numpy as np

from .. import regularizers
from ..layers.base import Layer, as_list, unique_name
from ..layers.core import InputLayer
from ..layers.symbolic import KerasTensor, Node, call_symbolic
from ..tape.recorder import call_layer, weight_penalty
from .step_plan import StepPlan, make_step_plan
from .training import TrainingMixin


def _topological_nodes(outputs: list[KerasTensor]) -> list[Node]:
    """The layer calls behind `outputs`, each after the calls that make its inputs (a
    depth-first walk with an explicit stack, so a model of any depth needs no recursion)."""
    order: list[Node] = []
    done: set[int] = set()
    for t in outputs:
        if not isinstance(t, KerasTensor) or t.node is None:
            raise TypeError(f"Model outputs must be symbolic tensors. Received: {t!r}")
        on_path: set[int] = set()
        stack: list[tuple[Node, int]] = [(t.node, 0)]  # (node, index of its next input)
        while stack:
            node, i = stack.pop()
            if i == 0:
                if id(node) in done:
                    continue
                if id(node) in on_path:
                    raise ValueError("The graph of layer calls has a cycle.")
                on_path.add(id(node))
            if i < len(node.inputs):
                stack.append((node, i + 1))
                source = node.inputs[i]
                if source.node is None:
                    raise ValueError(f"Tensor {source!r} was not produced by a layer or Input.")
                if id(source.node) not in done:
                    stack.append((source.node, 0))
            else:
                on_path.discard(id(node))
                done.add(id(node))
                order.append(node)
    return order


def _layer_backward(layer: Layer, dy, from_logits: bool, need_dx: bool, need_grads: bool):
    """One layer's backward inside a model's: dL/dz through `backward_from_logits` when
    `from_logits`, telling the layer whether anyone needs its dx and its weight gradients
    (the protocol in scratch/layers/base.py). A layer of the user's written as
    `backward(self, dy)` gets dy alone and computes both, as the flags allow."""
    method = "backward_from_logits" if from_logits else "backward"
    backward = getattr(layer, method)
    if _takes_flags(type(layer), method):
        return backward(dy, need_dx=need_dx, need_grads=need_grads)
    return backward(dy)


def _with_activity_cotangents(layer: Layer, outs: list, ys: list, from_logits: list) -> list:
    """The cotangents of one call's outputs plus the gradient of the layer's activity
    penalty, d(R(y)/N)/dy, on each output y (Keras adds R(y)/N to the loss at every call).
    Where the loss' cotangent is dL/dz of a sigmoid/softmax output (the hidden-logits
    path), the penalty's dL/dy is carried back through the activation first."""
    out = []
    for g, y, logits in zip(outs, ys, from_logits):
        d = regularizers.activity_gradient(layer.activity_regularizer, y)
        if logits:
            d = layer.activation.backward(d, layer.logits, y)
        out.append(d if g is None else g + d)
    return out


@functools.cache
def _takes_flags(layer_class: type, method: str) -> bool:
    """Whether `layer_class.method` accepts the need_dx/need_grads keywords."""
    try:
        parameters = inspect.signature(getattr(layer_class, method)).parameters
    except (TypeError, ValueError):
        return True
    return "need_dx" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def _takes_plain_mask(layer: Layer) -> bool:
    """Whether the layer's compute_mask is Layer's own (None in, None out)."""
    return type(layer).compute_mask is Layer.compute_mask


def _accepts_mask(layer: Layer) -> bool:
    try:
        return "mask" in inspect.signature(layer.forward).parameters
    except (TypeError, ValueError):
        return False


class Model(TrainingMixin, Layer):
    """A functional model: `Model(inputs, outputs, name=None)`.

    Args:
        inputs: a KerasTensor from `scratch.Input`, or a list (or dict) of them.
        outputs: the KerasTensor(s) computed from the inputs by calling layers.

    `model.layers` lists every layer once, InputLayers included, in Keras' order (by
    decreasing depth from the outputs), as do the weights.
    """

    def __init__(self, inputs=None, outputs=None, name=None, **kwargs):
        trainable = kwargs.pop("trainable", True)
        if name is None and type(self) is Model:
            name = unique_name("functional")  # Keras 3 names functional models so
        super().__init__(name=name, dtype=kwargs.pop("dtype", None), **kwargs)
        self._init_training()
        self._nodes: list[Node] = []
        self._layers: list[Layer] = []
        self._keras_layers: list[Layer] | None = None  # `layers` of a graph, once worked out
        self._input_dict_keys: list[str] | None = None
        self._plans: list[StepPlan] = []  # one per set of trainable flags, newest first
        self._output_masks: list = []
        self._layer_grads: dict[int, dict[str, np.ndarray]] = {}  # of the last backward
        # of the last forward: its plan, and (node id, layer, outputs) of every call whose
        # layer has an activity regularizer (`losses`, and its cotangent in backward)
        self._forward_plan: StepPlan | None = None
        self._activity_records: list[tuple[int, Layer, list]] = []
        self._nested_models: list[Model] = []
        if inputs is not None or outputs is not None:
            if inputs is None or outputs is None:
                raise ValueError("Model needs both `inputs` and `outputs`.")
            self._init_graph(inputs, outputs)
        # As in Keras, building a model over layers keeps their own trainable flags; only an
        # explicit trainable=False freezes them all.
        if trainable:
            self._trainable = True
        else:
            self.trainable = False

    # ------------------------------------------------------------------ graph
    def _init_graph(self, inputs, outputs) -> None:
        if isinstance(inputs, dict):
            self._input_dict_keys = list(inputs)
            inputs = list(inputs.values())
        self._multi_input = isinstance(inputs, (list, tuple))
        # A list of one output is one output, as Keras' `unpack_singleton`: model(x) is y.
        self._multi_output = isinstance(outputs, (list, tuple)) and len(outputs) > 1
        self.inputs: list[KerasTensor] = as_list(inputs)
        self.outputs: list[KerasTensor] = as_list(outputs)
        for t in self.inputs:
            if not (isinstance(t, KerasTensor) and isinstance(t.node.layer, InputLayer)):
                raise TypeError(
                    f"Model inputs must come from scratch.Input(...). Received: {t!r}"
                )
        nodes = _topological_nodes(self.outputs)
        reachable_inputs = {id(n) for n in nodes if isinstance(n.layer, InputLayer)}
        for t in self.inputs:
            if id(t.node) not in reachable_inputs:
                nodes.insert(0, t.node)
        for n in nodes:
            if isinstance(n.layer, InputLayer) and not any(n is t.node for t in self.inputs):
                raise ValueError(
                    f"Graph disconnected: output needs Input {n.layer.name!r}, which is not "
                    f"in `inputs`."
                )
        self._nodes = nodes
        self._layers = []
        for n in nodes:
            if not any(n.layer is l for l in self._layers):
                self._layers.append(n.layer)
        self._mask_ok = {id(l): _accepts_mask(l) for l in self._layers}
        self._clears_masks = any(hasattr(l, "keras_cleared_masks") for l in self._layers)
        # a single-input layer whose Keras call takes a `mask` gets it recorded at build time
        self._records_mask = {id(l): getattr(l, "keras_call_takes_mask", self._mask_ok[id(l)])
                              for l in self._layers}
        self._nested_models = [l for l in self._layers if isinstance(l, Model)]
        self._keras_layers = None  # a new graph: `layers` worked out again when asked
        self._plans = []  # a new graph needs new plans (step_plan.py)
        self._training_plan = None
        self.dtype = self.inputs[0].dtype if self.inputs[0].dtype in ("float32", "float64") \
            else self._layers[-1].dtype
        self.built = True

    @property
    def layers(self) -> list[Layer]:
        """Every layer once, InputLayers included, in Keras' order: by decreasing depth
        from the outputs (saving/keras_order.py). `get_weights`, `weights` and
        `trainable_weights` follow it, so `set_weights(kmodel.get_weights())` works for a
        branched model too. (`_layers` keeps the order the graph runs them in.)"""
        return list(self._layers_in_keras_order())

    def _layers_in_keras_order(self) -> list[Layer]:
        if self._keras_layers is None and self._nodes:  # a graph (a subclassed model has
            from ..saving.keras_order import graph_layers  # none: its tracking order)

            self._keras_layers = graph_layers(self)
        return self._keras_layers or self._layers

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name!r}. Existing layers: "
                         f"{[l.name for l in self.layers]}")

    @property
    def input(self):
        """The symbolic input(s) as given to the constructor (Keras' `model.input`)."""
        return list(self.inputs) if self._multi_input else self.inputs[0]

    @property
    def output(self):
        """The symbolic output(s) as given to the constructor (Keras' `model.output`)."""
        return list(self.outputs) if self._multi_output else self.outputs[0]

    @property
    def input_shape(self):
        shapes = [t.shape for t in self.inputs]
        return shapes if self._multi_input else shapes[0]

    @property
    def output_shape(self):
        shapes = [t.shape for t in self.outputs]
        return shapes if self._multi_output else shapes[0]

    def compute_output_shape(self, input_shape):
        return self.output_shape

    def build(self, input_shape) -> None:
        self.built = True

    def __call__(self, inputs, training=None, **kwargs):
        if any(isinstance(t, KerasTensor) for t in as_list(inputs)):
            self._check_symbolic_inputs(inputs)
            return call_symbolic(self, inputs, kwargs)
        # On arrays: recorded by an active GradientTape, the outputs as `Tensor`s (scratch/tape)
        return call_layer(self, inputs, self._inputs_in_order(inputs), training, kwargs,
                          self._call_eagerly)

    def _call_eagerly(self, inputs, training: bool, kwargs: dict):
        xs = self._standardize_inputs(inputs)
        return self.forward(xs if self._multi_input else xs[0], training=training, **kwargs)

    def _inputs_in_order(self, inputs) -> list:
        """The arrays of `model(inputs)` in the order of `self.inputs` (dict keys mapped)."""
        if isinstance(inputs, dict):
            keys = self._input_dict_keys or [t.name for t in self.inputs]
            return [inputs.get(k) for k in keys]
        if isinstance(inputs, (list, tuple)) and (len(self.inputs) > 1 or len(inputs) == 1):
            return list(inputs)
        return [inputs]

    def _check_symbolic_inputs(self, inputs) -> None:
        for t, spec in zip(as_list(inputs), self.inputs):
            if len(t.shape) != len(spec.shape) or any(
                a is not None and b is not None and a != b
                for a, b in zip(t.shape[1:], spec.shape[1:])
            ):
                raise ValueError(
                    f"Model {self.name!r} expects input shape {spec.shape}. "
                    f"Received: shape={t.shape}"
                )

    # ------------------------------------------------------------------ trainable / weights
    def _sublayers(self) -> list[Layer]:
        """Setting `trainable` on a model sets it on every layer, as in Keras 3."""
        return self._layers

    def _unique_leaf_layers(self) -> list[Layer]:
        return [l for l in self._layers_in_keras_order() if not isinstance(l, InputLayer)]

    @property
    def weights(self) -> list[np.ndarray]:
        out, seen = [], set()
        for layer in self._unique_leaf_layers():
            for w in layer.weights:
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append(w)
        return out

    @property
    def trainable_weights(self) -> list[np.ndarray]:
        return [w for _, _, w in self._trainable_entries()] if self.trainable else []

    @property
    def non_trainable_weights(self) -> list[np.ndarray]:
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    @property
    def weight_names(self) -> list[str]:
        names, seen = [], set()
        for layer in self._unique_leaf_layers():
            for name, w in zip(layer.weight_names, layer.weights):
                if id(w) not in seen:
                    seen.add(id(w))
                    names.append(f"{layer.name}/{name}")
        return names

    def get_weights(self) -> list[np.ndarray]:
        return [w.copy() for w in self.weights]

    def set_weights(self, weights) -> None:
        """Set all weights (Keras `get_weights()` order); every shape is checked first."""
        weights = [np.asarray(w) for w in weights]
        own = self.weights
        if len(weights) != len(own):
            raise ValueError(
                f"Model {self.name!r} has {len(own)} weights, but received {len(weights)}."
            )
        for name, old, w in zip(self.weight_names, own, weights):
            if old.shape != w.shape:
                raise ValueError(f"Weight {name!r} has shape {old.shape}. "
                                 f"Received: shape={w.shape}")
        for old, w in zip(own, weights):
            old[...] = w

    def count_params(self) -> int:
        return int(sum(w.size for w in self.weights))

    # ------------------------------------------------------------------ forward / backward
    def forward(self, inputs, training: bool = False, mask=None):
        xs = as_list(inputs)
        if len(xs) != len(self.inputs):
            raise ValueError(
                f"Model {self.name!r} expects {len(self.inputs)} input(s). "
                f"Received: {len(xs)}"
            )
        return self._forward_along(self._plan_for_current_flags(), xs, training)

    def _forward_along(self, plan: StepPlan, xs: list, training: bool):
        """`forward` along `plan`: a loop over the layers of a plain stack (`plan.stack`),
        else the graph walk, which keeps one value and one Keras mask per tensor."""
        caches: dict[int, Any] = {}
        activity: list[tuple[int, Layer, list]] = []
        self._forward_plan, self._activity_records = plan, activity
        stack = plan.stack
        if stack is not None:  # each layer on the previous output: no masks
            x = xs[0]
            for call in stack:
                x = call.layer.forward(x, training=training)
                caches[id(call.node)] = call.layer._cache
                if call.layer.activity_regularizer is not None:
                    activity.append((id(call.node), call.layer, [x]))
            self._cache = caches
            self._output_masks = [None]
            return [x] if self._multi_output else x
        values: dict[int, Any] = {}
        masks: dict[int, Any] = {}
        # With a MultiHeadAttention in the graph, Keras' masks live two lives
        # (docs/KERAS_NUMERICS.md §Attention): the attention clears the masks of its inputs
        # as it runs, which later layers reading masks at run time see, while a layer taking
        # one tensor and a `mask` got its mask recorded when the model was built (`built`).
        built: dict[int, Any] | None = {} if self._clears_masks else None
        for t, x in zip(self.inputs, xs):
            values[id(t)] = x
            masks[id(t)] = None
            if built is not None:
                built[id(t)] = None
        for node, layer, in_ids, out_ids, plain_mask in plan.calls:
            recorded = built is not None and not node.multi_input and \
                self._records_mask[id(layer)]
            if node.multi_input:
                x = [values[i] for i in in_ids]
                in_masks = [masks[i] for i in in_ids]
                unmasked = all(mm is None for mm in in_masks)
            else:
                x = values[in_ids[0]]
                in_masks = [(built if recorded else masks)[in_ids[0]]]
                unmasked = in_masks[0] is None
            if unmasked:
                y = layer.forward(x, training=training, **node.kwargs)
                # Layer.compute_mask passes None through; only overrides make a mask here.
                out_mask = None if plain_mask else layer.compute_mask(x, None)
            else:
                m = in_masks if node.multi_input else in_masks[0]
                kwargs = dict(node.kwargs)
                if self._mask_ok[id(layer)]:
                    kwargs["mask"] = m
                y = layer.forward(x, training=training, **kwargs)
                out_mask = layer.compute_mask(x, m)
            caches[id(node)] = layer._cache
            if layer.activity_regularizer is not None:
                activity.append((id(node), layer, as_list(y) if node.multi_output else [y]))
            if built is not None:
                self._record_built_masks(built, node, layer, x, in_ids, out_ids, out_mask,
                                         recorded)
                cleared = getattr(layer, "keras_cleared_masks", None)
                for i in (cleared(in_ids, node.kwargs) if cleared is not None else ()):
                    masks[i] = None
            if node.multi_output:
                for i, t_id in enumerate(out_ids):
                    values[t_id] = y[i]
                    masks[t_id] = out_mask[i] if isinstance(out_mask, list) else out_mask
            else:
                values[out_ids[0]] = y
                masks[out_ids[0]] = out_mask
        self._cache = caches
        self._output_masks = [masks[id(t)] for t in self.outputs]
        outs = [values[id(t)] for t in self.outputs]
        return outs if self._multi_output else outs[0]

    def _record_built_masks(self, built: dict, node, layer, x, in_ids, out_ids, out_mask,
                            recorded: bool) -> None:
        """The masks of a node's outputs as Keras computes them when the model is built,
        before any attention clears a mask (`_forward_along`)."""
        if not recorded:
            in_built = [built[i] for i in in_ids]
            if all(m is None for m in in_built):
                out_mask = None if _takes_plain_mask(layer) else layer.compute_mask(x, None)
            else:
                out_mask = layer.compute_mask(x, in_built if node.multi_input else in_built[0])
        for i, t_id in enumerate(out_ids):
            built[t_id] = out_mask[i] if isinstance(out_mask, list) else out_mask

    def _plan_for_current_flags(self) -> StepPlan:
        """The plan (scratch/models/step_plan.py) for this graph and the layers' trainable
        flags as they are now: one made earlier with the same flags, else a new one (the
        eight most recent are kept)."""
        for plan in self._plans:
            if plan.flags_are_current():
                return plan
        plan = make_step_plan(self)
        self._plans = [plan] + self._plans[:7]
        return plan

    @property
    def output_masks(self) -> list:
        """Keras masks attached to the outputs by the last forward (None where unmasked)."""
        return self._output_masks or [None] * len(self.outputs)

    @property
    def logits(self):
        """Hidden logits of a single-output model whose last layer ends in sigmoid/softmax."""
        if self._multi_output:
            return None
        return self._output_logits(0)

    def _output_logits(self, i: int):
        t = self.outputs[i]
        node = t.node
        if node.multi_output or isinstance(node.layer, InputLayer):
            return None
        layer = node.layer
        if self._cache is not None:
            layer._cache = self._cache.get(id(node), layer._cache)
        return getattr(layer, "logits", None)

    def _output_activation(self, i: int) -> str | None:
        """Name of the activation that produced output i (for the hidden-logits path)."""
        layer = self.outputs[i].node.layer
        if isinstance(layer, Model):
            return layer._output_activation(0)
        act = getattr(layer, "activation", None)
        return getattr(act, "name", None)

    # ------------------------------------------------------------------ regularization
    @property
    def losses(self) -> list[np.floating]:
        """Keras' `model.losses`: the activity penalties of the last forward (`model(x)`,
        a train or test step; those of nested models included), then the penalty of every
        trainable weight that has a regularizer, in `trainable_weights` order."""
        return self._activity_penalties() + self._weight_penalties(
            self._plan_for_current_flags())

    def _penalties(self) -> list[np.floating]:
        """`losses` for the train and test steps, right after their forward: nothing to
        compute (an empty list) for a model without regularizers."""
        plan = self._forward_plan
        if not (self._activity_records or plan.penalized or self._nested_models):
            return []
        return self._activity_penalties() + self._weight_penalties(plan)

    def _activity_penalties(self) -> list[np.floating]:
        out = []
        for _, layer, ys in self._activity_records:
            out += [regularizers.activity_penalty(layer.activity_regularizer, y) for y in ys]
        for model in self._nested_models:
            out += model._activity_penalties()
        return out

    @staticmethod
    def _weight_penalties(plan: StepPlan) -> list[np.floating]:
        return [weight_penalty(layer._regularizers[name], w, f"{layer.name}/{name}")
                for layer, name, w in plan.penalized]

    def _add_regularization_gradients(self, plan: StepPlan, layer_grads: dict) -> None:
        """Add dR/dw of every penalized trainable weight to its gradient in `layer_grads`
        (id(layer) → {name: gradient}, a backward's): Keras differentiates the loss plus
        the penalties."""
        for layer, name, w in plan.penalized:
            grads = layer_grads.setdefault(id(layer), {})
            d = layer._regularizers[name].gradient(w)
            g = grads.get(name)
            grads[name] = d if g is None else np.asarray(g) + d

    def backward(self, dy, from_logits=None, *, need_dx: bool = True, need_grads: bool = True):
        """Back-propagate cotangents of the outputs; returns dL/dinputs.

        `from_logits[i]` marks output i's cotangent as dL/d(pre-activation) of its layer
        (the hidden-logits path of the cross-entropy losses). `need_dx` and `need_grads` are
        the layer protocol's (scratch/layers/base.py): without dL/dinputs the walk stops
        below the last layer that learns, and with `need_grads=False` no layer inside
        computes weight gradients. The gradients of the weights are left in
        `grads_and_vars()`.
        """
        return self._backward_along(self._plan_for_current_flags(), dy, from_logits,
                                    need_dx, need_grads)

    def _backward_along(self, plan: StepPlan, dy, from_logits, need_dx: bool,
                        need_grads: bool):
        """`backward` along `plan`: the layer calls in reverse, each told whether anyone
        needs its dx (an input in `plan.tensors_needing_grad`) and its weight gradients
        (`plan.learns`); calls that contribute neither are skipped. A plain stack
        (`plan.stack`) is a loop that stops at the first layer below which nothing learns;
        the graph walk sums the cotangents of tensors used more than once and the weight
        gradients of layers called more than once."""
        caches = self._require_cache()
        need = plan.tensors_needing_grad(need_dx)
        grads: dict[int, dict[str, np.ndarray]] = {}
        # the outputs of calls whose layer has an activity penalty: it adds to their cotangent
        activity = {node_id: ys for node_id, _, ys in self._activity_records}
        stack = plan.stack
        if stack is not None and dy is not None:
            g = dy[0] if self._multi_output else dy
            last = len(stack) - 1
            last_from_logits = bool(from_logits and from_logits[0])
            for k in range(last, -1, -1):
                node, layer, in_ids, _, _ = stack[k]
                inputs_need_grad = in_ids[0] in need
                learns = need_grads and plan.learns[id(layer)]
                if g is None or not (inputs_need_grad or learns):
                    g = None
                    break  # nothing below learns or needs a gradient
                layer._cache = caches[id(node)]
                if id(node) in activity:
                    g = _with_activity_cotangents(layer, [g], activity[id(node)],
                                                 [k == last and last_from_logits])[0]
                g = _layer_backward(layer, g, k == last and last_from_logits, inputs_need_grad,
                                    learns)
                grads[id(layer)] = dict(layer.grads)
                if not inputs_need_grad:
                    g = None
                    break
            self._layer_grads = grads
            return [g] if self._multi_input else g
        dys = as_list(dy) if self._multi_output else [dy]
        flags = list(from_logits) if from_logits is not None else [False] * len(dys)
        cot: dict[int, Any] = {}
        logit_tensors = {id(t) for t, f in zip(self.outputs, flags) if f}
        for t, g in zip(self.outputs, dys):
            if g is not None:
                cot[id(t)] = g if id(t) not in cot else cot[id(t)] + g
        for node, layer, in_ids, out_ids, _ in reversed(plan.calls):
            outs = [cot.get(i) for i in out_ids]
            inputs_need_grad = any(i in need for i in in_ids)
            learns = need_grads and plan.learns[id(layer)]
            if not (inputs_need_grad or learns) or (
                    all(g is None for g in outs) and id(node) not in activity):
                continue  # nothing upstream learns from this node: skip its backward
            layer._cache = caches[id(node)]
            if id(node) in activity:
                outs = _with_activity_cotangents(layer, outs, activity[id(node)],
                                                 [i in logit_tensors for i in out_ids])
            if node.multi_output:
                outs = [np.zeros_like(v) if g is None else g
                        for g, v in zip(outs, self._zeros_like_outputs(node))]
                dx = _layer_backward(layer, outs, False, inputs_need_grad, learns)
            else:
                dx = _layer_backward(layer, outs[0], out_ids[0] in logit_tensors,
                                     inputs_need_grad, learns)
            self._accumulate_layer_grads(grads, layer)
            if not inputs_need_grad:
                continue  # its weight gradients are all this node contributes
            dxs = as_list(dx) if node.multi_input else [dx]
            for i, g in zip(in_ids, dxs):
                if g is None:
                    continue
                cot[i] = g if i not in cot else cot[i] + g
        self._layer_grads = grads
        dxs = [cot.get(id(t)) for t in self.inputs]
        return dxs if self._multi_input else dxs[0]

    def backward_from_logits(self, dz, *, need_dx: bool = True, need_grads: bool = True):
        return self.backward(dz, from_logits=[True], need_dx=need_dx, need_grads=need_grads)

    def _zeros_like_outputs(self, node: Node) -> list:
        layer = node.layer
        shapes = getattr(layer, "_output_shapes_of_cache", None)
        if shapes is not None:
            return [np.zeros(s, dtype=layer.dtype) for s in shapes(layer._cache)]
        raise RuntimeError(
            f"Layer {layer.name!r} has several outputs, some unused; it must provide "
            "`_output_shapes_of_cache(cache)` so unused outputs get zero cotangents."
        )

    @staticmethod
    def _accumulate_layer_grads(store: dict, layer: Layer) -> None:
        if isinstance(layer, Model):
            for key, g in layer._layer_grads.items():
                Model._add_grads(store, key, g)
        else:
            Model._add_grads(store, id(layer), layer.grads)

    @staticmethod
    def _add_grads(store: dict, key: int, g: dict) -> None:
        if key not in store:
            store[key] = {k: v for k, v in g.items()}
        else:
            store[key] = {k: store[key][k] + v if k in store[key] else v for k, v in g.items()}

    def _trainable_entries(self) -> list[tuple[Layer, str, np.ndarray]]:
        """(layer, weight name, weight) for every trainable weight once, in Keras'
        `trainable_weights` order (nested models' layers in place, frozen ones left out)."""
        out, seen = [], set()
        for layer in self._leaf_layers_recursive():
            if not layer.trainable:
                continue
            for name, w in layer.params.items():
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append((layer, name, w))
        return out

    def grads_and_vars(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(gradient, weight) pairs of the last backward for every trainable weight,
        in `trainable_weights` order; weights that received no gradient are left out."""
        return self._plan_for_current_flags().gradient_pairs(self._layer_grads)

    def trainable_weights_with_paths(self) -> list[tuple[str, np.ndarray]]:
        """(path, weight) for every trainable weight, in `trainable_weights` order; the path
        is "<layer name>/<weight name>" like Keras' `variable.path`."""
        return [(f"{layer.name}/{name}", w) for layer, name, w in self._trainable_entries()]

    def _leaf_layers_all(self) -> list[Layer]:
        """Every layer under this model (nested models and their layers included), once."""
        out: list[Layer] = []
        for layer in self._unique_leaf_layers():
            out.append(layer)
            if isinstance(layer, Model):
                out.extend(l for l in layer._leaf_layers_all() if l not in out)
        return out

    def _leaf_layers_recursive(self) -> list[Layer]:
        out: list[Layer] = []
        for layer in self._unique_leaf_layers():
            if isinstance(layer, Model):
                if layer.trainable:
                    out.extend(layer._leaf_layers_recursive())
            else:
                out.append(layer)
        return out

    # ------------------------------------------------------------------ files
    def save(self, filepath, overwrite: bool = True, **kwargs) -> None:
        """Write a Keras 3 `.keras` archive (config + weights), or a legacy `.h5` file."""
        from ..saving import save_model

        save_model(self, filepath, overwrite=overwrite, **kwargs)

    def save_weights(self, filepath, overwrite: bool = True) -> None:
        """Write the weights as a Keras 3 `.weights.h5` file."""
        from ..saving import save_weights

        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, **kwargs) -> None:
        """Read weights from a `.weights.h5` (or `.keras`) file; the model is unchanged if
        the file does not fit it."""
        from ..saving import load_weights

        load_weights(self, filepath, **kwargs)

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        """Keras' model config (the "config" part of what `.keras` files store)."""
        from ..saving.keras_format import serialize_model

        return serialize_model(self, include_compile=False)["config"]

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        from ..saving.keras_format import model_from_config

        class_name = "Sequential" if cls.__name__ == "Sequential" else "Functional"
        return model_from_config({"class_name": class_name, "config": config},
                                 custom_objects=custom_objects)

    def to_json(self) -> str:
        """The Keras JSON of the model's architecture (`keras.models.model_from_json`)."""
        import json

        from ..saving.keras_format import serialize_model

        return json.dumps(serialize_model(self, include_compile=False))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"
