"""`Tensor` and `Variable`: the arrays the gradient tape knows.

`Tensor` is a NumPy array (an `np.ndarray` subclass) that remembers which recorded step
made it. `layer(x)` and `model(x)` return one, so `model(x).numpy()` works as in tf.keras,
and arithmetic on it goes through NumPy's override hooks (`__array_ufunc__`,
`__array_function__`), where the tape (scratch/tape/recorder.py) records what it knows how
to differentiate.

Every way NumPy can make a new array from a Tensor ends in one of three places:

* a hook the tape handles (`t + 1`, `t @ w`, `np.mean(t)`, `t.reshape(...)`, `t[0]`): the
  result is recorded, with the operation's backward;
* `__array_finalize__`, for a NumPy path nobody intercepted (`t.view()`, `copy.copy(t)`,
  an ndarray method the tape does not know): the result carries `_lost`, the name of what
  was done, and a gradient asked through it raises instead of being silently wrong;
* an explicit exit to a plain array (`t.numpy()`, `np.asarray(t)`, `float(t)`): a constant,
  as `.numpy()` is in TensorFlow.

`Variable` is a view of a layer's weight (the layer keeps its plain array in `params`, which
the engine and the optimizers update in place): `model.trainable_variables` returns them, with
Keras' `assign`, `numpy()`, `name`, `path`, `trainable`. A Variable used in arithmetic under a
tape is a leaf of the tape (Keras watches trainable variables automatically).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np


def _recorder():
    from . import recorder

    return recorder


class Tensor(np.ndarray):
    """A NumPy array returned by `layer(x)`, `model(x)` and the tape's operations.

    It is an ordinary array (slicing, printing, NumPy functions all work) with TensorFlow's
    `numpy()`. Under a `GradientTape` it also remembers the step that made it:

        _step    the recorded step (scratch/tape/steps.py) whose output it is, or None
        _index   which output of that step
        _lost    (operation, recorders) when it was made from a recorded value by an
                 operation the tape cannot differentiate: a gradient through it raises
        _logits  the pre-activation of a sigmoid/softmax that produced it (Keras' hidden
                 logits, which the cross-entropy losses use), and `_activation` its name
    """

    _step = None
    _index = 0
    _lost = None
    _logits = None
    _activation = None

    def __array_finalize__(self, obj) -> None:
        # A Tensor made by NumPy from `obj` along a path no hook saw (a view, a copy, an
        # ndarray method the tape does not record): nothing recorded it, so if `obj` was
        # recorded, the gradient through the new array is lost (and raises when asked for).
        if obj is None or not isinstance(obj, Tensor):
            return
        self._step, self._index, self._logits, self._activation = None, 0, None, None
        self._lost = _recorder().lost_by_unrecorded_method(obj)

    # NumPy's override hooks: the tape records or refuses every operation on a Tensor.
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _recorder().apply_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return _recorder().apply_function(func, args, kwargs)

    # ndarray methods that make new arrays without passing through the hooks above.
    def __getitem__(self, index):
        return _recorder().apply_named("getitem", (self,), {"index": index})

    def __setitem__(self, index, value) -> None:
        _recorder().check_in_place(self, "item assignment (t[...] = value)")
        np.ndarray.__setitem__(self.view(np.ndarray), index, _plain(value))

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def reshape(self, *shape, order="C"):
        if order != "C":
            return _recorder().lose(self, f"reshape(order={order!r})")
        shape = shape[0] if len(shape) == 1 else shape
        return _recorder().apply_named("reshape", (self,), {"shape": shape})

    def transpose(self, *axes):
        axes = axes[0] if len(axes) == 1 else (axes or None)
        return _recorder().apply_named("transpose", (self,), {"axes": axes})

    @property
    def T(self):
        return self.transpose()

    def ravel(self, order="C"):
        return self.reshape(-1, order=order)

    def flatten(self, order="C"):
        return self.reshape(-1, order=order)

    def squeeze(self, axis=None):
        return np.squeeze(self, axis=axis)

    def sum(self, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
        return np.sum(self, axis=axis, dtype=dtype, out=out, keepdims=keepdims, **kwargs)

    def mean(self, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
        return np.mean(self, axis=axis, dtype=dtype, out=out, keepdims=keepdims, **kwargs)

    def max(self, axis=None, out=None, keepdims=False, **kwargs):
        return np.max(self, axis=axis, out=out, keepdims=keepdims, **kwargs)

    def min(self, axis=None, out=None, keepdims=False, **kwargs):
        return np.min(self, axis=axis, out=out, keepdims=keepdims, **kwargs)

    def dot(self, other):
        return np.dot(self, other)

    def copy(self, order="C"):
        return _recorder().apply_named("identity", (self,), {})

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        return _recorder().apply_named("cast", (self,), {"dtype": np.dtype(dtype)})

    # ------------------------------------------------------------------ TensorFlow's API
    def numpy(self):
        """The values as a plain NumPy array (a NumPy scalar for a 0-d Tensor), as
        `EagerTensor.numpy()`: a constant, outside any gradient tape."""
        plain = self.view(np.ndarray)
        return plain[()] if plain.ndim == 0 else plain

    def __reduce__(self):  # pickles as a plain array: a stored value has no tape
        return np.ndarray.__reduce__(self.view(np.ndarray))


class Variable(Tensor):
    """A layer weight as Keras' `Variable`: a view of the layer's own array (writes through).

    `model.trainable_variables` and `layer.add_weight(...)` in a subclassed layer return
    them; the layer's `params`/`state` keep the plain arrays the engine uses. Under a tape, a
    Variable is a leaf whose gradient the tape accumulates (with the gradients the layer's
    own backward gives the same array).

    Attributes: `name` ("kernel"), `path` ("dense/kernel"), `trainable`, `value` (itself),
    `assign(v)`, `assign_add(v)`, `assign_sub(v)`, `numpy()` (a copy).
    """

    _weight: np.ndarray | None = None
    _owner: Any = None
    _name: str = ""
    _key: str = ""  # the owner's name for it: "kernel", or "dense/kernel" for a sub-layer's

    def __array_finalize__(self, obj) -> None:
        Tensor.__array_finalize__(self, obj)

    @property
    def name(self) -> str:
        return self._name

    @property
    def path(self) -> str:
        owner = getattr(self._owner, "name", None)
        return f"{owner}/{self._key}" if owner else self._key

    @property
    def trainable(self) -> bool:
        owner = self._owner
        if owner is None:
            return True
        return bool(owner.trainable) and any(w is self._weight for w in owner.params.values())

    @property
    def value(self):
        return self

    def numpy(self) -> np.ndarray:
        """A copy of the weight's current values (a plain array)."""
        return np.array(self._weight, copy=True)

    def assign(self, value):
        """Write `value` into the weight (in place: the layer and the optimizer see it)."""
        value = _plain(value)
        value = np.asarray(value)
        if value.shape != self._weight.shape:
            raise ValueError(
                "The shape of the target variable and the shape of the target value in "
                f"`variable.assign(value)` must match. variable.shape={self._weight.shape}, "
                f"Received: value.shape={value.shape}. Target variable: {self.path}")
        np.copyto(self._weight, value, casting="same_kind")
        return self

    def assign_add(self, value):
        self._weight += np.asarray(_plain(value), dtype=self._weight.dtype)
        return self

    def assign_sub(self, value):
        self._weight -= np.asarray(_plain(value), dtype=self._weight.dtype)
        return self

    def __repr__(self) -> str:
        return (f"<Variable path={self.path}, shape={self._weight.shape}, "
                f"dtype={self._weight.dtype}, value={self._weight!r}>")

    def __reduce__(self):
        return np.ndarray.__reduce__(np.array(self._weight, copy=True))

    def __deepcopy__(self, memo):
        """A copy of a layer copies its Variables with it: each stays a view of the copied
        layer's own weight (`memo` gives the same copies the layer's `params` get)."""
        weight = copy.deepcopy(self._weight, memo)
        v = np.ndarray.view(weight, Variable)
        v._weight, v._owner = weight, copy.deepcopy(self._owner, memo)
        v._name, v._key = self._name, self._key
        return v


def _plain(x):
    """`x` as the plain array under a Tensor (no copy); anything else unchanged."""
    return x.view(np.ndarray) if isinstance(x, Tensor) else x


def plain(x):
    """A Tensor (or a list, tuple or dict of them) as plain ndarrays, without copying."""
    if isinstance(x, Tensor):
        return x.view(np.ndarray)
    if isinstance(x, list):
        return [plain(v) for v in x]
    if isinstance(x, tuple):
        return tuple(plain(v) for v in x)
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    return x


def as_weight(v):
    """The layer's own array behind a `Variable` (what the optimizers update); anything
    else unchanged."""
    weight = getattr(v, "_weight", None)
    return v if weight is None else weight


def variable_of(layer, name: str, weight: np.ndarray) -> Variable:
    """The `Variable` for `layer`'s weight `name` (one per weight array, kept on the layer,
    so that an optimizer built on `trainable_variables` knows them the next time too)."""
    store = layer.__dict__.setdefault("_tape_variables", {})
    v = store.get(name)
    if getattr(v, "_weight", None) is not weight:
        v = weight.view(Variable)
        v._weight, v._owner, v._name, v._key = weight, layer, name.rsplit("/", 1)[-1], name
        store[name] = v
    return v


def layer_variables(layer, which: str = "all") -> list[Variable]:
    """`layer.variables` / `trainable_variables` / `non_trainable_variables` as Variables,
    in the order of `weights` / `trainable_weights` / `non_trainable_weights`."""
    names = {id(w): pair for w, pair in _named_weights(layer)}
    weights = {"all": layer.weights, "trainable": layer.trainable_weights,
               "non_trainable": layer.non_trainable_weights}[which]
    out = []
    for w in weights:
        owner, name = names.get(id(w), (layer, "variable"))
        out.append(variable_of(owner, name, w))
    return out


def _named_weights(layer) -> list[tuple[np.ndarray, tuple]]:
    """(weight, (owning layer, weight name)) for every weight under `layer`."""
    sublayers = getattr(layer, "_leaf_layers_all", None)
    out = []
    for owner in [layer] + (sublayers() if sublayers is not None else []):
        for name, w in list(owner.params.items()) + list(owner.state.items()):
            out.append((w, (owner, name)))
    return out
