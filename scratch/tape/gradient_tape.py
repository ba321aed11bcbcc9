"""`GradientTape` (TensorFlow's API) and `CallRecording` (a subclassed layer's call).

    with scratch.GradientTape() as tape:
        y_pred = model(x, training=True)
        loss = loss_fn(y, y_pred)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))

The tape records the engine's own steps (layer calls, losses, activation functions, the
arithmetic of scratch/tape/rules.py) and `gradient` replays each one's hand-written backward
in reverse (scratch/tape/recorder.py). It differentiates nothing else: an operation it does
not know, applied to a recorded value, makes `gradient` raise a ValueError naming it.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from . import recorder
from .recorder import Recorder, backpropagate, flatten, key_of, pack, ref_of
from .tensor import Tensor, Variable, as_weight, plain


def _lost_error(lost, where: str) -> ValueError:
    from .rules import describe_supported

    return ValueError(
        f"GradientTape: {where} depends on `{lost[0]}` applied to a recorded value, which the "
        "tape cannot differentiate (no gradient was computed rather than a wrong one). The "
        f"tape differentiates: {describe_supported()}. Use those, or take the value as a "
        "constant explicitly with `.numpy()`.")


class GradientTape(Recorder):
    """Records the engine's steps run in its block, for `gradient` (TensorFlow's tape).

    Args:
        persistent: allow several `gradient` calls (otherwise one, and the recorded
            caches are released after it).
        watch_accessed_variables: watch every Variable (every trainable weight) used in
            the block, as TensorFlow does; False: only what `watch` names.

    Layer calls (`model(x)`, `layer(x)`), losses (`loss_fn(y, y_pred)`, the functions in
    `scratch.losses`), activation functions (`scratch.activations.relu(t)`) and the
    arithmetic of `scratch.ops` / NumPy on the results (+, −, ·, /, @, square, sqrt, exp,
    log, power, abs, tanh, maximum, minimum, clip, sum, mean, max, min, reshape, transpose,
    indexing, concatenate, stack, where) are recorded. Every other operation on a
    recorded value makes `gradient` through it raise a ValueError naming the operation.
    """

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True) -> None:
        super().__init__()
        self.persistent = bool(persistent)
        self.watch_variables = bool(watch_accessed_variables)
        self._used = False
        self._recording = False

    # ------------------------------------------------------------------ recording
    def __enter__(self) -> GradientTape:
        if self._recording:
            raise ValueError("This GradientTape is already recording.")
        self._recording = True
        recorder.add_tape(self)
        return self

    def __exit__(self, *exc) -> None:
        recorder.remove_tape(self)
        self._recording = False

    def watch(self, tensor) -> None:
        """Ask for gradients with respect to `tensor` (an array, a Tensor, a Variable, or a
        list or dict of them): operations on it are recorded from now on. A plain ndarray is
        recorded where it meets the engine (passed to a layer, or combined with a Tensor);
        NumPy on plain arrays alone never reaches the tape, so make it a Tensor first
        (`x = scratch.ops.convert_to_tensor(x)`) to differentiate arithmetic on it."""
        for t in flatten(tensor):
            if not isinstance(t, np.ndarray):
                raise TypeError(f"GradientTape.watch expects arrays. Received: "
                                f"{type(t).__name__}")
            if t.dtype.kind == "f":
                leaf = as_weight(t) if isinstance(t, Variable) else t
                self.watched[id(leaf)] = leaf

    @contextlib.contextmanager
    def stop_recording(self):
        """A block whose operations no tape records (their results are constants)."""
        with recorder.level([]):
            yield

    def reset(self) -> None:
        """Forget everything recorded so far."""
        self.release()
        self.watched = {}

    def watched_variables(self) -> list:
        """The Variables and arrays this tape watched explicitly."""
        return list(self.watched.values())

    # ------------------------------------------------------------------ gradient
    def gradient(self, target, sources, output_gradients=None,
                 unconnected_gradients: str = "none"):
        """d(target)/d(sources), with `sources` in the same structure (a list, a dict, one
        array): NumPy arrays of each source's shape and dtype, None where the target does
        not depend on a source (zeros with unconnected_gradients="zero").

        `target` is a Tensor the tape recorded (a loss; for a non-scalar target, the
        gradient of its sum, or of Σ output_gradients·target), or a list of them.
        Sources are Variables (`model.trainable_variables`), the layers' weight arrays
        (`model.trainable_weights`), watched arrays, or recorded Tensors.
        """
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError("`unconnected_gradients` must be 'none' or 'zero'. Received: "
                             f"unconnected_gradients={unconnected_gradients!r}")
        if self._recording:
            pass  # allowed (TensorFlow warns it is inefficient); the steps so far are used
        if self._used and not self.persistent:
            raise RuntimeError("A non-persistent GradientTape can only be used to compute one "
                               "set of gradients (or jacobians). Use "
                               "GradientTape(persistent=True) for several.")
        targets = flatten(target)
        seeds_in = [None] * len(targets) if output_gradients is None else \
            flatten(output_gradients)
        if len(seeds_in) != len(targets):
            raise ValueError(f"`output_gradients` needs one array per target ({len(targets)}). "
                             f"Received: {len(seeds_in)}")
        seeds = [(self._target_ref(t), self._seed(t, s)) for t, s in zip(targets, seeds_in)]
        leaves = flatten(sources)
        keys = [self._source_key(s) for s in leaves]
        found = backpropagate(self, seeds, {k for k in keys if k is not None})
        if not self.persistent:
            self._used = True
            self.release()
        grads = []
        for s, k in zip(leaves, keys):
            g = found.get(k) if k is not None else None
            if g is None and unconnected_gradients == "zero":
                g = np.zeros(np.shape(s), dtype=np.result_type(plain(s)))
            grads.append(None if g is None else np.asarray(g))
        return pack(sources, grads) if isinstance(sources, (list, tuple, dict)) else grads[0]

    def _target_ref(self, t):
        where = "The target of tape.gradient"
        lost = recorder._lost_for(t, [self])
        if lost is not None:
            raise _lost_error(lost, where)
        ref = ref_of(t, [self]) if isinstance(t, np.ndarray) else None
        if ref is None:
            kind = type(t).__name__
            raise ValueError(
                f"{where} was not computed by operations this tape recorded (received a "
                f"{kind}{' that no tape recorded' if isinstance(t, Tensor) else ''}): compute "
                "the loss inside `with tape:` from the model's outputs, with scratch's "
                "losses, layers and NumPy arithmetic on the results (not on `.numpy()` "
                "copies).")
        return ref

    @staticmethod
    def _seed(t, given):
        value = np.asarray(plain(t))
        if given is None:
            return np.ones(value.shape, dtype=value.dtype)
        given = np.asarray(plain(given), dtype=value.dtype)
        if given.shape != value.shape:
            raise ValueError(f"An output gradient must have its target's shape {value.shape}. "
                             f"Received: shape={given.shape}")
        return given

    def _source_key(self, s):
        if isinstance(s, Variable):
            w = s._weight
            return id(w) if self.watch_variables or id(w) in self.watched else None
        if isinstance(s, Tensor) and s._step is not None and self in s._step.owners:
            return (id(s._step), s._index)
        if isinstance(s, np.ndarray):
            if id(s) in self.watched or self.watch_variables:
                return id(s)  # a watched array, or a layer's weight (trainable_weights)
            return None
        raise TypeError(f"tape.gradient sources must be arrays (Variables, weights, watched "
                        f"arrays or Tensors). Received: {type(s).__name__}")

    def __del__(self) -> None:
        try:
            self.release()
        except Exception:  # noqa: BLE001 (interpreter shutdown)
            pass


class CallRecording(Recorder):
    """The steps of one `call` of a subclassed layer or model: its `_cache`, replayed by
    its `backward` (scratch/layers/subclassed.py, scratch/models/subclassed.py).

    `inputs` are the leaf Tensors the call received; `outputs` its result's leaves, with
    where each came from (`output_refs`), whether any was lost, and each one's hidden
    logits (for a loss computed on them)."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list = []
        self.input_structure: Any = None
        self.outputs: list = []
        self.output_structure: Any = None
        self.output_refs: list = []
        self.output_logit_refs: list = []
        self.output_logits: list = []

    def run(self, fn, inputs, training: bool):
        """`fn(inputs)` with `inputs` (plain arrays, any structure) as this recording's leaves;
        returns the outputs as plain arrays in `fn`'s structure."""
        leaves = []
        for x in flatten(inputs):
            x = np.asarray(x)
            t = np.ndarray.view(x, Tensor)
            if x.dtype.kind == "f":
                self.watched[id(t)] = t
            leaves.append(t)
        self.inputs = leaves
        self.input_structure = inputs
        with recorder.level([self]), recorder.training_scope(training):
            out = fn(pack(inputs, leaves) if isinstance(inputs, (list, tuple, dict))
                     else leaves[0])
        self.output_structure = out
        self.outputs = flatten(out)
        self.output_refs = [ref_of(o, [self]) if isinstance(o, np.ndarray) else None
                            for o in self.outputs]
        self.output_logits = [(getattr(o, "_logits", None), getattr(o, "_activation", None))
                              for o in self.outputs]
        self.output_logit_refs = [recorder.logits_ref(o, [self]) if isinstance(o, Tensor) and
                                  o._logits is not None else None for o in self.outputs]
        return plain(out) if isinstance(out, (list, tuple, dict)) else \
            np.asarray(plain(out))

    def backward(self, dys: list, from_logits: list, need_dx: bool, weights: set[int],
                 where: str):
        """Cotangents of the outputs (`dys`, one per output leaf, None for none; where
        `from_logits[i]`, the cotangent of output i's hidden logits) → (one dx per input
        leaf, {id(weight): gradient}) for the weights whose ids are in `weights`."""
        seeds = []
        for i, g in enumerate(dys):
            if g is None:
                continue
            lost = recorder._lost_for(self.outputs[i], [self])
            if lost is not None:
                raise _lost_error(lost, where)
            ref = self.output_logit_refs[i] if from_logits[i] else self.output_refs[i]
            if from_logits[i] and ref is None:
                raise ValueError(f"{where}: output {i} has no hidden logits to "
                                 "differentiate from.")
            if ref is not None:
                seeds.append((ref, g))
        wanted = set(weights)
        if need_dx:
            wanted |= {id(t) for t in self.inputs}
        found = backpropagate(self, seeds, wanted)
        dxs = [found.get(id(t)) if need_dx else None for t in self.inputs]
        dxs = [np.zeros(t.shape, t.dtype) if need_dx and g is None and t.dtype.kind == "f"
               else g for g, t in zip(dxs, self.inputs)]
        return dxs, {k: v for k, v in found.items() if k in weights}


__all__ = ["GradientTape", "CallRecording", "key_of"]
