"""`StepPlan`: what a model's steps need, worked out once.

Every step of a model walks the same graph and asks the same questions at every layer call:
does this layer learn? Does anything upstream need the gradient of this tensor? Which weights
does the optimizer update? The answers depend only on the graph and on the layers'
`trainable` flags, so a model works them out once, into a plan, and every step reads them
from there (Keras caches its traced train function the same way, `make_train_function`).

When a model makes a plan:

* `Model.train_step` runs the plan made at the first train step after `compile()`. Keras 3
  reads the layers' `trainable` flags at that step and keeps them until the next
  `compile()`, so the plan's `trainable_flags` are applied during every step until then
  (README, "`trainable` in Keras 3").
* Everything else (`predict`, `evaluate`, `model.backward` called by hand, a model nested in
  another model's step) runs the plan of the flags as they are now. A model keeps the plans
  it made, one per set of flags: usually one; a GAN's discriminator has two, one for its own
  steps and one for the combined model's steps, in which it is frozen.
* A new graph (`Sequential.add`, `Sequential.pop`) drops every plan.

The plain-stack shortcut is part of the plan: a Sequential-like model runs forward and
backward as a loop over its layers instead of the graph walk (`StepPlan.stack`), the same
layer calls in the same order, so the same numbers. With `scratch.backend.fast_paths(False)`
every model takes the graph walk (tests/test_fast_paths.py compares the two).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .. import backend
from ..layers.base import Layer
from ..layers.core import InputLayer
from ..layers.symbolic import Node

if TYPE_CHECKING:
    from .functional import Model


class LayerCall(NamedTuple):
    """One call of a layer in a model's graph, with what the walk looks up at every step."""

    node: Node  # the call: its input and output tensors and its keyword arguments
    layer: Layer
    input_ids: list[int]  # id() of each input tensor: keys of the walk's values and gradients
    output_ids: list[int]  # id() of each output tensor
    plain_mask: bool  # compute_mask is Layer's own: an unmasked input gives an unmasked output


@dataclass(frozen=True, eq=False)
class StepPlan:
    """What a model's forward, backward and train step need, for one graph and one set of
    trainable flags (see the module docstring for when a model makes one).

    Fields:
        calls: every layer call of the graph but the Inputs, in topological order: forward
            runs them in this order, backward in reverse.
        plain_stack: whether the graph is a plain stack: one input, one output, each call
            the single-input, single-output, keyword-free call of its own layer on the
            previous call's output, no layer that makes a mask and no nested model. Read it
            through `stack`.
        trainable_flags: (layer, trainable) for every layer inside the model (nested models
            and their layers included) and for the model itself, as they were when the plan
            was made. The train step applies them (Keras 3's snapshot, module docstring).
        learns: id(layer) → whether the layer has trainable weights under those flags (a
            frozen layer computes no weight gradients: backward's `need_grads=False`).
        needs_grad: ids of the tensors whose gradient someone needs when nobody needs
            dL/dinputs (a train step on data): those downstream of a layer that learns. A
            layer none of whose inputs is in it computes no dx (`need_dx=False`), and the
            walk stops below the last layer that learns.
        needs_grad_with_inputs: the same when dL/dinputs is needed (a model nested after a
            layer that learns, a backward called by hand): the model's inputs, and every
            tensor downstream of them, in addition.
        trainable_entries: (layer, weight name, weight) for every trainable weight once, in
            Keras' `trainable_weights` order: the weights the optimizer updates.
        param_count: `count_params()`; parameters × batch size is the work of one step,
            which sets how many BLAS threads the engine uses (`step_work`, scratch._threads).
        penalized: the entries of `trainable_entries` whose weight has a regularizer
            (`Layer.add_weight(regularizer=...)`): their penalties join the loss and their
            gradients the weights' (docs/KERAS_NUMERICS.md §Regularizers).
    """

    calls: list[LayerCall]
    plain_stack: bool
    trainable_flags: list[tuple[Layer, bool]]
    learns: dict[int, bool]
    needs_grad: set[int]
    needs_grad_with_inputs: set[int]
    trainable_entries: list[tuple[Layer, str, np.ndarray]]
    param_count: int
    penalized: list[tuple[Layer, str, np.ndarray]]

    @property
    def stack(self) -> list[LayerCall] | None:
        """The calls to run as a plain loop over the layers (`plain_stack`) while the fast
        paths are on; None: walk the graph."""
        if self.plain_stack and backend.fast_paths_enabled():
            return self.calls
        return None

    def tensors_needing_grad(self, need_input_grads: bool) -> set[int]:
        """`needs_grad_with_inputs` when the caller wants dL/dinputs, else `needs_grad`."""
        return self.needs_grad_with_inputs if need_input_grads else self.needs_grad

    def flags_are_current(self) -> bool:
        """Whether every layer's `trainable` flag is still the one this plan was made with."""
        for layer, flag in self.trainable_flags:
            if layer._trainable != flag:
                return False
        return True

    def gradient_pairs(self, layer_grads: dict[int, dict[str, np.ndarray]]) -> list[tuple]:
        """(gradient, weight) for every trainable weight, in `trainable_weights` order, from
        the gradients of a backward (id(layer) → {weight name: gradient}); weights that
        received no gradient are left out."""
        return [(layer_grads[id(layer)][name], w) for layer, name, w in self.trainable_entries
                if name in layer_grads.get(id(layer), {})]

    def step_work(self, batch_size: int) -> int:
        """Parameters × batch size: the work of one step, for the engine's BLAS threads."""
        return self.param_count * batch_size


def make_step_plan(model: Model) -> StepPlan:
    """The plan of `model` for its graph and its layers' trainable flags as they are now."""
    calls = [LayerCall(node, node.layer, [id(t) for t in node.inputs],
                       [id(t) for t in node.outputs],
                       type(node.layer).compute_mask is Layer.compute_mask)
             for node in model._nodes if not isinstance(node.layer, InputLayer)]
    learns = {id(call.layer): _learns(call.layer) for call in calls}
    entries = model._trainable_entries()
    return StepPlan(
        calls=calls,
        plain_stack=_is_plain_stack(model, calls),
        trainable_flags=[(layer, layer._trainable) for layer in model._leaf_layers_all()]
        + [(model, model._trainable)],
        learns=learns,
        needs_grad=_tensors_needing_grad(model, calls, learns, need_input_grads=False),
        needs_grad_with_inputs=_tensors_needing_grad(model, calls, learns,
                                                     need_input_grads=True),
        trainable_entries=entries,
        param_count=model.count_params(),
        penalized=[(layer, name, w) for layer, name, w in entries
                   if name in getattr(layer, "_regularizers", {})],
    )


def _learns(layer: Layer) -> bool:
    """Whether the layer has trainable weights under the current flags (a model nested as a
    layer learns when any layer inside it does)."""
    return layer.trainable and bool(layer.trainable_weights)


def _tensors_needing_grad(model: Model, calls: list[LayerCall], learns: dict[int, bool],
                          need_input_grads: bool) -> set[int]:
    """Ids of the tensors whose gradient someone needs: those downstream of a model input
    (when the caller wants dL/dinputs) or of a layer that learns."""
    need = {id(t) for t in model.inputs} if need_input_grads else set()
    for call in calls:
        if learns[id(call.layer)] or any(i in need for i in call.input_ids):
            need.update(call.output_ids)
    return need


def _is_plain_stack(model: Model, calls: list[LayerCall]) -> bool:
    """Whether the graph is a plain stack (see `StepPlan.plain_stack`)."""
    from .functional import Model  # functional.py imports this module

    if len(model.inputs) != 1 or len(model.outputs) != 1 or not calls:
        return False
    previous = model.inputs[0]
    seen: set[int] = set()
    for call in calls:
        node, layer = call.node, call.layer
        if node.multi_input or node.multi_output or node.kwargs or not call.plain_mask or \
                isinstance(layer, Model) or id(layer) in seen or \
                call.input_ids != [id(previous)]:
            return False
        seen.add(id(layer))
        previous = node.outputs[0]
    return model.outputs[0] is previous
