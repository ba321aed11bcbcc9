"""The steps a tape records: one per operation, each with the backward the engine already has.

A step keeps what its backward needs (its inputs, its output, a layer's cache) and where its
inputs came from, as references:

    (step, slot)   output `slot` of an earlier step (slot "logits": the hidden logits of a
                   sigmoid/softmax layer, which a cross-entropy differentiates directly)
    (None, array)  a leaf: a layer's weight array (a Variable's), a watched array, or an
                   input of a subclassed layer's call
    None           a constant (no gradient flows there)

`backward(cotangents, need, learns)` takes the cotangents of the step's outputs ({slot:
array}), `need[i]` (whether input i needs its gradient) and `learns` (whether the gradients
of a layer's weights are wanted) and returns (one gradient per input, or None;
[(weight array, gradient), ...]).

    OpStep          an arithmetic operation of the table in rules.py
    LayerStep       a layer's (or model's) call: `layer.backward` (or `backward_from_logits`
                    for a cotangent on its logits) with the cache of that call
    LossStep        a loss: the gradient `Loss.value_and_grad` computed with the value
    ActivationStep  an activation function: `Activation.backward(dy, x, y)`
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .rules import Rule, unbroadcast


def _as_dtype(g, like_dtype) -> np.ndarray:
    g = np.asarray(g)
    return g if g.dtype == like_dtype else g.astype(like_dtype)


class Step:
    """Base class: `name` (for messages), `inputs` (references), `owners` (the recorders
    that recorded it), `n_outputs`."""

    name = "step"
    n_outputs = 1

    def __init__(self, inputs: list, owners: tuple) -> None:
        self.inputs = inputs
        self.owners = owners

    def weight_ids(self) -> set[int]:
        """ids of the weight arrays whose gradients this step's backward gives."""
        return set()

    def backward(self, cotangents: dict, need: list[bool], learns: bool):
        raise NotImplementedError

    def release(self) -> None:
        """Drop what backward needed (the tape is done with it); the step is then a
        constant for every tape."""
        self.inputs = [None] * len(self.inputs)
        self.owners = ()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class OpStep(Step):
    """An operation of the rules table (scratch/tape/rules.py) on plain arrays."""

    def __init__(self, rule: Rule, inputs: list, owners: tuple, values: list, output,
                 kwargs: dict) -> None:
        super().__init__(inputs, owners)
        self.rule = rule
        self.name = rule.name
        self.values = values
        self.output = output
        self.kwargs = kwargs
        self.meta = [(np.shape(v), np.result_type(v)) for v in values]

    def backward(self, cotangents, need, learns):
        g = cotangents[0]
        grads = self.rule.backward(g, self.values, self.output, **self.kwargs)
        out = []
        for i, (gi, (shape, dtype)) in enumerate(zip(grads, self.meta)):
            if gi is None or not need[i]:
                out.append(None)
                continue
            if self.rule.broadcasting:
                gi = unbroadcast(gi, shape)
            out.append(_as_dtype(gi, dtype))
        return out, []

    def release(self) -> None:
        super().release()
        self.values = self.output = None


class LayerStep(Step):
    """One call of a layer (or a model used as one) on recorded values."""

    def __init__(self, layer, cache, inputs: list, owners: tuple, in_dtypes: list,
                 out_meta: list, multi_output: bool) -> None:
        super().__init__(inputs, owners)
        self.layer = layer
        self.cache = cache
        self.name = f"{type(layer).__name__} {layer.name!r}"
        self.in_dtypes = in_dtypes
        self.out_meta = out_meta  # (shape, dtype) per output
        self.multi_output = multi_output
        self.n_outputs = len(out_meta)

    def weight_ids(self) -> set[int]:
        return {id(w) for w in self.layer.trainable_weights}

    def backward(self, cotangents, need, learns):
        layer = self.layer
        need_dx = any(need)
        if not (need_dx or learns):
            return [None] * len(self.inputs), []
        parts = []
        outs = [cotangents.get(i) for i in range(self.n_outputs)]
        if any(g is not None for g in outs):
            if self.multi_output:
                dy = [np.zeros(s, d) if g is None else g for g, (s, d) in zip(outs, self.out_meta)]
            else:
                dy = outs[0]
            parts.append((dy, False))
        if cotangents.get("logits") is not None:
            parts.append((cotangents["logits"], True))
        dxs: list = [None] * len(self.inputs)
        pairs: list = []
        for dy, from_logits in parts:
            layer._cache = self.cache
            dx = _layer_backward()(layer, dy, from_logits, need_dx, learns)
            if learns:
                pairs += layer_gradient_pairs(layer)
            if need_dx and dx is not None:
                parts_dx = list(dx) if isinstance(dx, (list, tuple)) else [dx]
                for i, g in enumerate(parts_dx):
                    if g is not None and need[i]:
                        g = _as_dtype(g, self.in_dtypes[i])
                        dxs[i] = g if dxs[i] is None else dxs[i] + g
        return dxs, pairs

    def release(self) -> None:
        super().release()
        self.cache = None


@functools.cache
def _layer_backward():
    """The models' call of one layer's backward (with the need_dx/need_grads flags when its
    backward takes them), imported on first use (the models import this package)."""
    from ..models.functional import _layer_backward as backward

    return backward


def layer_gradient_pairs(layer) -> list[tuple[np.ndarray, np.ndarray]]:
    """(weight, gradient) of the last backward of `layer`: a model's from its layers'
    gradients (`_layer_grads`), another layer's from `grads`."""
    layer_grads = getattr(layer, "_layer_grads", None)
    if layer_grads is not None and hasattr(layer, "_trainable_entries"):
        out = []
        for owner, name, w in layer._trainable_entries():
            g = layer_grads.get(id(owner), {}).get(name)
            if g is not None:
                out.append((w, g))
        return out
    params = layer.params
    return [(params[name], g) for name, g in layer.grads.items() if name in params]


class LossStep(Step):
    """A loss on a recorded prediction: its gradient was computed with its value
    (`Loss.value_and_grad`, on the hidden logits where Keras uses them)."""

    def __init__(self, loss, inputs: list, owners: tuple, grad, dtype, regrad=None) -> None:
        super().__init__(inputs, owners)
        self.loss = loss
        self.name = f"{type(loss).__name__} {loss.name!r}"
        self.grad = grad
        self.dtype = dtype
        self.regrad = regrad  # dv -> gradient, for a loss whose value is not a scalar

    def backward(self, cotangents, need, learns):
        dv = cotangents[0]
        if not need[0]:
            return [None], []
        if np.ndim(dv) == 0 and self.regrad is None:
            g = self.grad * dv
        else:
            g = self.regrad(dv)
        return [_as_dtype(g, self.dtype)], []

    def release(self) -> None:
        super().release()
        self.grad = self.regrad = None


class ActivationStep(Step):
    """An activation function (`scratch.activations`) on a recorded value."""

    def __init__(self, activation, inputs: list, owners: tuple, x, y) -> None:
        super().__init__(inputs, owners)
        self.activation = activation
        self.name = f"activations.{activation.name}"
        self.x, self.y = x, y

    def backward(self, cotangents, need, learns):
        if not need[0]:
            return [None], []
        dx = self.activation.backward(np.asarray(cotangents[0], self.x.dtype), self.x, self.y)
        return [_as_dtype(dx, self.x.dtype)], []

    def release(self) -> None:
        super().release()
        self.x = self.y = None


class PenaltyStep(Step):
    """A penalty on a weight (a regularizer's `layer.losses` entry): `gradient(w)`."""

    def __init__(self, name: str, weight: np.ndarray, owners: tuple, gradient: Any) -> None:
        super().__init__([(None, weight)], owners)
        self.name = name
        self.weight = weight
        self.gradient = gradient

    def backward(self, cotangents, need, learns):
        if not need[0]:
            return [None], []
        return [_as_dtype(self.gradient(self.weight) * cotangents[0], self.weight.dtype)], []
