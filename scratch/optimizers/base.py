"""The optimizer machinery shared by every scratch optimizer (Keras' BaseOptimizer).

One call of ``apply_gradients([(grad, var), ...])`` does, in Keras' order
(docs/KERAS_NUMERICS.md §Optimizers):

    1. build on the first call: one set of slots per variable, in variable order
    2. drop pairs whose gradient is None (with a warning)
    3. loss scaling: g ← g / loss_scale_factor            (only if set)
    4. clipping (at most one of them is set):
         clipnorm c          g ← (g·c) / max(‖g‖₂, c)                  per variable
         global_clipnorm c   n = √(Σ_i ‖g_i‖²);  g_i ← g_i · c·min(1/n, 1/c)
         clipvalue v         g ← clip(g, −v, v)
    5. weight decay wd:      w ← w − (w·wd)·lr            (only if set, in any optimizer)
    6. update_step(g, w, lr) for each variable             (the optimizer's own rule)
    7. iterations ← iterations + 1

``lr`` is the learning rate of this step: the stored value, or a `LearningRateSchedule`
evaluated at ``iterations`` (0 for the first step). Variables are NumPy arrays updated
**in place**, so the references held by layers stay valid.

Precision (why the updates are bit-identical to tf.keras in float32):

* The learning rate is kept in ``backend.floatx()`` at construction (Keras stores it in a
  float32 variable), so ``SGD(0.01).learning_rate`` is 0.009999999776.
* Python-float hyper-parameters reach the arithmetic in two ways in Keras, and both are
  mirrored here:
    - ``ops.cast(h, dtype)`` (SGD momentum, Adam's β for β^t, weight decay, Adagrad's initial
      accumulator) goes through a float32 tensor first: `_keras_cast`;
    - a Python float mixed into an op (``(g − m)·(1 − β₁)``, ``√v + ε``, ``ρ·v``) is converted
      straight to the variable dtype, and expressions such as 1 − β₁ are computed in double
      first: `_keras_const`.
  In float32 the two agree; in float64 the first gives float64(float32(h)).
* Every update is written with Keras' operand order, e.g. (1 − ρ)·(g·g), never (1 − ρ)·g·g.
* Reductions (the norms of clipnorm/global_clipnorm) are the only step that is not
  bit-exact: NumPy's pairwise sum and Eigen's reduction round differently (≈1 ulp of ‖g‖).

Optimizer state, in Keras' order (``optimizer.variables``, what ``.keras`` files store):

    [iteration (int64), learning_rate (only for a float lr), slots..., extras...]

where the slots are interleaved per variable as Keras creates them, e.g. Adam:
``v0_momentum, v0_velocity, v1_momentum, v1_velocity, ..., [v0_velocity_hat, ...]``, and the
extras are variables of no model variable (`add_extra_variable`: Nadam's u_product).

The module is over the project's 500 lines because it is Keras' BaseOptimizer, one class
that every optimizer shares: building the slots, clipping, weight decay, schedules, the
choice of the fused kernel, the state files store and sparse (Embedding) gradients. Each
optimizer's own update is a short module of its own.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .. import backend, initializers
from .._denormals import subnormals_as_zero
from ..tape.tensor import as_weight, plain
from ..typing import Array
from ..utils.naming import auto_name
from . import schedules as schedules_module
from .schedules import LearningRateSchedule


class RowSparseGradient(np.ndarray):
    """A dense gradient whose rows are sums over repeated ids (an Embedding's dE), which can
    also give `sum_of_squares`: Σ_p g_p² per row over the individual occurrences.

    TensorFlow hands Keras such a gradient as IndexedSlices (one row per occurrence), and
    Keras' `ops.square` squares the slices *before* they are summed: Adam's v, RMSprop's
    velocity and Adagrad's accumulator see Σ g_p², not (Σ g_p)². `square(g)` below gives
    that. The squares are computed on first use only (SGD never pays for them). Arithmetic
    on the array drops them (then g·g is used, as for a dense gradient).
    """

    _squares_fn = None
    _squares = None

    @classmethod
    def from_rows(cls, dense: np.ndarray, squares_fn) -> RowSparseGradient:
        """`squares_fn()` returns Σ g_p² per row (dense's shape) when first asked."""
        g = dense.view(cls)
        g._squares_fn = squares_fn
        return g

    @property
    def sum_of_squares(self) -> np.ndarray | None:
        if self._squares is None and self._squares_fn is not None:
            self._squares = self._squares_fn()
        return self._squares

    def __array_finalize__(self, obj) -> None:
        self._squares_fn = None
        self._squares = None


def _fusable(*arrays: np.ndarray) -> bool:
    """Whether the fused kernel takes these arrays: fast paths on (`backend.fast_paths`),
    contiguous arrays of one dtype and shape (views are updated in place)."""
    return backend.fast_paths_enabled() and backend.same_layout(*arrays)


def square(g: np.ndarray) -> np.ndarray:
    """g², or Σ g_p² per row for a `RowSparseGradient` (Keras' IndexedSlices square)."""
    squares = getattr(g, "sum_of_squares", None)
    return np.asarray(g * g) if squares is None else squares


# `ops.cast(python_value, dtype)`: a Python float goes through float32 first.
_keras_cast = backend.keras_cast


def _keras_const(value, dtype) -> np.floating:
    """A Python number mixed into a Keras op: converted directly to `dtype` (weak type)."""
    return np.dtype(dtype).type(value)


def _is_float(value) -> bool:
    return isinstance(value, (float, np.floating)) and not isinstance(value, bool)


class Optimizer:
    """Base class of the scratch optimizers (Keras' `BaseOptimizer` on NumPy arrays).

    Math:
        ```
        per step:  g ← clip(g);  w ← w − (w·wd)·lr;  update_step(g, w, lr);  t ← t + 1
        ```
        (see the module docstring for the exact clipping formulas and order)

    Args:
        learning_rate: a Python float (stored in `backend.floatx()`), a
            `LearningRateSchedule` (evaluated at `iterations` before each step) or a
            callable with no arguments returning the rate. Ints are rejected, as in Keras.
        weight_decay: if set, decoupled decay w ← w − (w·wd)·lr before each update.
        clipnorm: clip each gradient to L2 norm ≤ clipnorm.
        clipvalue: clip each gradient element to [−clipvalue, clipvalue].
        global_clipnorm: clip all gradients jointly to global L2 norm ≤ global_clipnorm.
        loss_scale_factor: if set, gradients are divided by it first.
        name: optimizer name (default: snake_case class name, uniquified).
        lr: deprecated alias of `learning_rate` (DeprecationWarning).
        decay: ignored with a warning, as in Keras 3.
        use_ema, ema_momentum, ema_overwrite_frequency, gradient_accumulation_steps:
            accepted so that Keras configs load; only their defaults are supported.

    Shapes:
        each variable: any shape, float32 or float64, a writeable NumPy array;
        its gradient: the same shape and dtype; slots: the variable's shape and dtype.

    Raises:
        ValueError: for an invalid learning rate, several clipping options at once,
            unknown keyword arguments or unsupported Keras options.
    """

    def __init__(
        self,
        learning_rate,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        *,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name=None,
        **kwargs,
    ) -> None:
        if "lr" in kwargs:
            warnings.warn(
                f"The `lr` argument is deprecated, use `learning_rate` instead. "
                f"Received: lr={kwargs['lr']!r}",
                DeprecationWarning,
                stacklevel=3,
            )
            learning_rate = kwargs.pop("lr")
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored.",
                          stacklevel=3)
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        if use_ema:
            raise ValueError(
                f"scratch optimizers do not implement EMA of the weights. Received: "
                f"use_ema={use_ema!r}"
            )
        if gradient_accumulation_steps:
            raise ValueError(
                "scratch optimizers do not implement gradient accumulation. Received: "
                f"gradient_accumulation_steps={gradient_accumulation_steps!r}"
            )
        clip_args = [clipnorm, clipvalue, global_clipnorm]
        if sum(a is not None for a in clip_args) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                f"global_clipnorm={global_clipnorm}"
            )
        for arg, value in (("weight_decay", weight_decay), ("clipnorm", clipnorm),
                           ("clipvalue", clipvalue), ("global_clipnorm", global_clipnorm),
                           ("loss_scale_factor", loss_scale_factor)):
            if value is not None and (not isinstance(value, (int, float, np.number))
                                      or isinstance(value, bool) or not math.isfinite(value)):
                raise ValueError(
                    f"Argument `{arg}` must be a finite number or None. Received: "
                    f"{arg}={value!r}"
                )
        self.name = name if name is not None else auto_name(type(self).__name__)
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.use_ema = False
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = None

        self.built = False
        self._iterations = 0
        self._lr_dtype = np.dtype(backend.floatx())
        self._trainable_variables: list[np.ndarray] = []
        self._variable_names: list[str] = []
        self._index: dict[int, int] = {}
        self._slots: list[np.ndarray] = []
        self._slot_names: list[str] = []
        # Keras' optimizer variables that belong to no model variable (Nadam's u_product):
        # listed after the slots in `variables`
        self._extra_variables: list[np.ndarray] = []
        self._extra_names: list[str] = []
        self._exclude_ids: set[int] = set()
        self._exclude_pattern: re.Pattern | None = None

        if isinstance(learning_rate, LearningRateSchedule) or (
            callable(learning_rate) and not _is_float(learning_rate)
        ):
            self._learning_rate_value: Any = learning_rate
        else:
            if not _is_float(learning_rate):
                raise ValueError(
                    "Argument `learning_rate` should be float, or an instance of "
                    "LearningRateSchedule, or a callable (that takes in the current "
                    "iteration value and returns the corresponding learning rate value). "
                    f"Received instead: learning_rate={learning_rate!r}"
                )
            self._learning_rate_value = self._checked_lr(learning_rate, positive=True)

    # ------------------------------------------------------------------ learning rate
    def _checked_lr(self, value, positive: bool = False) -> float:
        """Validate a float learning rate; return it rounded to the lr dtype (as a float).

        The constructor asks for a positive rate (a zero rate trains nothing: almost surely
        a mistake); the setter, used by LearningRateScheduler, also accepts 0 as Keras does
        (a schedule may anneal to 0).
        """
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise ValueError(
                f"{type(self).__name__} expected a float learning rate. "
                f"Received: learning_rate={value!r}"
            )
        largest = float(np.finfo(self._lr_dtype).max)  # a larger rate would round to inf
        if not math.isfinite(float(value)) or value < 0 or (positive and value == 0) \
                or value > largest:
            kind = "positive" if positive else "non-negative"
            raise ValueError(
                f"{type(self).__name__} expected a finite, {kind} learning rate (at most "
                f"{largest:.4g} in {self._lr_dtype}). Received: learning_rate={value!r}"
            )
        return float(self._lr_dtype.type(value))

    @property
    def learning_rate(self) -> np.floating:
        """The learning rate of the next step, as a NumPy scalar.

        For a float rate this is the stored value in `backend.floatx()` at construction
        (0.01 reads back as float32 0.009999999776); for a schedule it is
        ``schedule(iterations)``; for a callable, ``callable()``.
        """
        return self._current_learning_rate()

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if isinstance(value, LearningRateSchedule) or (callable(value) and not _is_float(value)):
            self._learning_rate_value = value
            return
        if isinstance(self._learning_rate_value, LearningRateSchedule):
            raise TypeError(
                "This optimizer was created with a `LearningRateSchedule` object as its "
                "`learning_rate` constructor argument, hence its learning rate is not "
                "settable. If you need the learning rate to be settable, you should "
                "instantiate the optimizer with a float `learning_rate` argument."
            )
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value[()]
        self._learning_rate_value = self._checked_lr(value)

    def _current_learning_rate(self) -> np.floating:
        lr = self._learning_rate_value
        if isinstance(lr, LearningRateSchedule):
            return lr(self._iterations)
        if callable(lr):
            value = lr()
            if isinstance(value, (np.ndarray, np.generic)):
                return np.asarray(value)[()]
            return _keras_cast(value, self._lr_dtype)
        return self._lr_dtype.type(lr)

    # ------------------------------------------------------------------ iterations
    @property
    def iterations(self) -> int:
        """Number of steps applied so far (Keras' int64 `iterations` variable)."""
        return self._iterations

    @iterations.setter
    def iterations(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(
                f"`iterations` must be a non-negative int. Received: iterations={value!r}"
            )
        self._iterations = int(value)

    # ------------------------------------------------------------------ building
    def build(self, var_list: Sequence[np.ndarray], var_names: Sequence[str] | None = None
              ) -> None:
        """Register the variables (in order) and create their slots.

        Args:
            var_list: the trainable NumPy arrays, in the model's order.
            var_names: optional names used for slot names (Keras uses the variable path);
                default "variable_0", "variable_1", ...
        """
        paths = [getattr(v, "path", None) for v in var_list]  # Keras Variables name their slots
        var_list = [as_weight(v) for v in var_list]  # a Variable: the weight array it views
        for v in var_list:
            self._check_variable(v)
        names = list(var_names) if var_names is not None else [
            p if isinstance(p, str) else f"variable_{i}" for i, p in enumerate(paths)]
        if len(names) != len(var_list):
            raise ValueError(
                f"build expected one name per variable ({len(var_list)}). "
                f"Received: len(var_names)={len(names)}"
            )
        self._trainable_variables = var_list
        self._variable_names = [str(n).replace("/", "_") for n in names]
        self._index = {id(v): i for i, v in enumerate(var_list)}
        self.built = True

    def _check_variable(self, v) -> None:
        if not isinstance(v, np.ndarray) or v.dtype not in (np.float32, np.float64):
            raise TypeError(
                f"{type(self).__name__} updates float32/float64 NumPy arrays in place. "
                f"Received: variable of type {type(v).__name__}"
                + (f" and dtype {v.dtype}" if isinstance(v, np.ndarray) else "")
            )
        if not v.flags.writeable:
            raise ValueError(
                f"{type(self).__name__} updates variables in place, but received a "
                f"read-only array. Received: variable.shape={v.shape}"
            )

    def add_variable_from_reference(self, reference_variable: np.ndarray, name: str,
                                     initializer="zeros") -> np.ndarray:
        """Create one slot with the shape and dtype of `reference_variable`."""
        init = initializers.get(initializer)
        value = np.array(init(reference_variable.shape, dtype=reference_variable.dtype),
                         dtype=reference_variable.dtype, order="C", copy=True)
        if value.shape != reference_variable.shape:
            raise ValueError(
                f"Slot initializer returned shape {value.shape}. Expected: "
                f"{reference_variable.shape}"
            )
        i = self._index[id(reference_variable)]
        self._slots.append(value)
        self._slot_names.append(f"{self._variable_names[i]}_{name}")
        return value

    def add_optimizer_variables(self, var_list, name, initializer="zeros"):
        """Keras' slot creation: for each variable, one slot per name (interleaved).

        Returns one list per name (a single list if `name` is a string).
        """
        names = [name] if isinstance(name, str) else list(name)
        out: tuple[list[np.ndarray], ...] = tuple([] for _ in names)
        for v in var_list:
            for k, slot_name in enumerate(names):
                out[k].append(self.add_variable_from_reference(v, slot_name, initializer))
        return out[0] if isinstance(name, str) else out

    def add_extra_variable(self, value: np.ndarray, name: str) -> np.ndarray:
        """Register an optimizer variable of no model variable (a 0-d array, updated in
        place): it follows the slots in `variables`, as Keras tracks it after them."""
        self._extra_variables.append(value)
        self._extra_names.append(name)
        return value

    def _set_moment_decays(self, beta_1, beta_2, epsilon) -> None:
        """Check and keep the hyper-parameters of the Adam family (Adam, AdamW, Nadam,
        Adamax): β₁, β₂ in [0, 1], ε ≥ 0."""
        cls = type(self).__name__
        _check_unit_interval(cls, "beta_1", beta_1)
        _check_unit_interval(cls, "beta_2", beta_2)
        _check_non_negative(cls, "epsilon", epsilon)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def _var_index(self, variable: np.ndarray) -> int:
        return self._index[id(variable)]

    # ------------------------------------------------------------------ state
    @property
    def variables(self) -> list[np.ndarray]:
        """Keras' `optimizer.variables`: [iteration, learning_rate?, slots..., extras...].

        The iteration and learning rate entries are fresh 0-d arrays (int64 and the lr
        dtype); the slots (and extra variables, such as Nadam's u_product) are the
        optimizer's own arrays (not copies).
        """
        out = [np.array(self._iterations, dtype=np.int64)]
        if _is_float(self._learning_rate_value):
            out.append(np.array(self._learning_rate_value, dtype=self._lr_dtype))
        return out + list(self._slots) + list(self._extra_variables)

    @property
    def variable_names(self) -> list[str]:
        """Names of `variables`, Keras style ("iteration", "learning_rate", "<var>_<slot>")."""
        out = ["iteration"]
        if _is_float(self._learning_rate_value):
            out.append("learning_rate")
        return out + list(self._slot_names) + list(self._extra_names)

    def get_slot_values(self) -> list[np.ndarray]:
        """Copies of the slots, in Keras order (`variables` without iteration/lr)."""
        return [s.copy() for s in self._slots]

    def set_slot_values(self, values: Sequence) -> None:
        """Copy `values` into the slots in place (all checked before any is written)."""
        values = [np.asarray(v) for v in values]
        if len(values) != len(self._slots):
            raise ValueError(
                f"Optimizer {self.name!r} has {len(self._slots)} slots. "
                f"Received: {len(values)} values"
            )
        for name, slot, v in zip(self._slot_names, self._slots, values, strict=True):
            if slot.shape != v.shape:
                raise ValueError(
                    f"Optimizer slot {name!r} has shape {slot.shape}. Received: shape={v.shape}"
                )
        for slot, v in zip(self._slots, values, strict=True):
            slot[...] = v

    def set_weights(self, weights: Sequence) -> None:
        """Assign all of `variables` (iteration, learning_rate?, slots), as Keras does."""
        if not self.built:
            raise ValueError(
                "You are calling `set_weights()` on an optimizer that has not yet been "
                "built. Please call `optimizer.build(trainable_variables)` to create the "
                "optimizer weights before calling `set_weights()`."
            )
        weights = list(weights)
        n_extra = len(self._extra_variables)
        n_head = len(self.variables) - len(self._slots) - n_extra
        if len(weights) != n_head + len(self._slots) + n_extra:
            raise ValueError(
                f"Optimizer {self.name!r} has {n_head + len(self._slots) + n_extra} "
                f"variables. Received: {len(weights)} weights"
            )
        extras = [np.asarray(w) for w in weights[len(weights) - n_extra:]]
        for name, old, w in zip(self._extra_names, self._extra_variables, extras):
            if old.shape != w.shape:
                raise ValueError(f"Optimizer variable {name!r} has shape {old.shape}. "
                                 f"Received: shape={w.shape}")
        self.set_slot_values(weights[n_head:len(weights) - n_extra])
        for old, w in zip(self._extra_variables, extras):
            old[...] = w
        self.iterations = int(np.asarray(weights[0]))
        if n_head == 2:
            self.learning_rate = float(np.asarray(weights[1]))

    def get_weights(self) -> list[np.ndarray]:
        """Copies of `variables`."""
        return [np.array(v, copy=True) for v in self.variables]

    def save_own_variables(self, store) -> None:
        """Keras' format: store[str(i)] = variables[i]."""
        for i, v in enumerate(self.variables):
            store[str(i)] = np.array(v, copy=True)

    def load_own_variables(self, store) -> None:
        """Inverse of `save_own_variables` (skips with a warning on a count mismatch)."""
        n = len(self.variables)
        if len(store.keys()) != n:
            msg = (f"Skipping variable loading for optimizer '{self.name}', because it has "
                   f"{n} variables whereas the saved optimizer has {len(store.keys())} "
                   "variables. ")
            if not self.built:
                msg += "This is likely because the optimizer has not been called/built yet."
            warnings.warn(msg, stacklevel=2)
            return
        self.set_weights([store[str(i)] for i in range(n)])

    # ------------------------------------------------------------------ weight decay
    def exclude_from_weight_decay(self, var_list=None, var_names=None) -> None:
        """Exclude variables (by identity, or by a substring of their build name)."""
        if self.built:
            raise ValueError(
                "`exclude_from_weight_decay()` can only be configured before the optimizer "
                "is built."
            )
        self._exclude_ids = {id(v) for v in var_list} if var_list else set()
        self._exclude_pattern = (re.compile("|".join(set(var_names)))
                                 if var_names else None)

    def _use_weight_decay(self, variable: np.ndarray) -> bool:
        if id(variable) in self._exclude_ids:
            return False
        if self._exclude_pattern is not None:
            name = self._variable_names[self._var_index(variable)]
            if self._exclude_pattern.search(name) is not None:
                return False
        return True

    def _apply_weight_decay(self, variables: list[np.ndarray], learning_rate) -> None:
        if self.weight_decay is None:
            return
        for v in variables:
            if self._use_weight_decay(v):
                lr = _keras_cast(learning_rate, v.dtype)
                wd = _keras_cast(self.weight_decay, v.dtype)
                v -= v * wd * lr

    # ------------------------------------------------------------------ clipping
    def _clip_gradients(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        if self.clipnorm and self.clipnorm > 0:
            return [clip_by_norm(g, self.clipnorm) for g in grads]
        if self.global_clipnorm and self.global_clipnorm > 0:
            return clip_by_global_norm(grads, self.global_clipnorm)
        if self.clipvalue and self.clipvalue > 0:
            return [np.clip(g, _keras_const(-self.clipvalue, g.dtype),
                            _keras_const(self.clipvalue, g.dtype)) for g in grads]
        return grads

    # ------------------------------------------------------------------ applying
    def apply_gradients(self, grads_and_vars: Iterable) -> int:
        """Apply one step to `[(grad, var), ...]`, updating each `var` in place.

        Returns:
            The new `iterations`.
        """
        pairs = list(grads_and_vars)
        if not pairs:
            return self._iterations
        grads, variables = zip(*pairs, strict=True)
        self.apply(list(grads), list(variables))
        return self._iterations

    def apply(self, grads: Sequence, trainable_variables: Sequence | None = None) -> None:
        """Apply one step; `grads` match `trainable_variables` (or the built list)."""
        if len(grads) == 0:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    "When passing `grads` without `variables`, the optimizer must already "
                    "be built on a list of variables. Call `optimizer.build("
                    "trainable_variables)` first."
                )
            if len(grads) != len(self._trainable_variables):
                raise ValueError(
                    "When passing `grads` as a list of gradient arrays, the gradients must "
                    f"match the built variables one-to-one. Received a list of {len(grads)} "
                    f"gradients, but the optimizer is tracking "
                    f"{len(self._trainable_variables)} trainable variables."
                )
            trainable_variables = self._trainable_variables
        else:
            trainable_variables = [as_weight(v) for v in trainable_variables]
            grads = [plain(g) for g in grads]  # a Tensor (scratch.tape): its plain array
            if len(grads) != len(trainable_variables):
                raise ValueError(
                    f"apply expected one gradient per variable. Received: len(grads)="
                    f"{len(grads)}, len(trainable_variables)={len(trainable_variables)}"
                )
            if not self.built:
                self.build(trainable_variables)
            self._check_known(trainable_variables)
        grads, variables = self._filter_empty_gradients(list(grads), list(trainable_variables))
        grads = [self._checked_grad(g, v) for g, v in zip(grads, variables, strict=True)]
        with subnormals_as_zero():  # as TensorFlow's kernels (scratch/_denormals.py)
            self._apply_step(grads, variables)

    def _check_known(self, variables) -> None:
        for v in variables:
            if id(v) not in self._index or self._trainable_variables[
                    self._index[id(v)]] is not v:
                raise ValueError(
                    f"Unknown variable of shape {getattr(v, 'shape', None)}. This "
                    "optimizer can only be called for the variables it was originally "
                    "built with. When working with a new set of variables, you should "
                    "recreate a new optimizer instance."
                )

    def _apply_engine_gradients(self, grads_and_vars: list) -> None:
        """`apply_gradients` for a model's own backward: its gradients already have their
        variables' dtypes and shapes, so the per-gradient checks of user input are skipped
        (about a third of a small model's optimizer time)."""
        variables = [v for _, v in grads_and_vars]
        self._check_known(variables)
        self._apply_step([g for g, _ in grads_and_vars], variables)

    def _apply_step(self, grads: list, variables: list) -> None:
        """Loss scaling, clipping, weight decay and `update_step` on every variable; then
        iterations += 1 (Keras' order)."""
        if self.loss_scale_factor is not None:
            grads = [g / _keras_const(self.loss_scale_factor, g.dtype) for g in grads]
        grads = self._clip_gradients(grads)
        learning_rate = self._current_learning_rate()
        self._apply_weight_decay(variables, learning_rate)
        for g, v in zip(grads, variables, strict=True):
            if not self._fused_update_step(g, v, learning_rate):
                self.update_step(g, v, learning_rate)
        self._iterations += 1

    def _filter_empty_gradients(self, grads, variables):
        kept = [(g, v) for g, v in zip(grads, variables, strict=True) if g is not None]
        if not kept:
            raise ValueError("No gradients provided for any variable.")
        if len(kept) != len(grads):
            missing = [self._variable_names[self._var_index(v)]
                       for g, v in zip(grads, variables, strict=True) if g is None]
            warnings.warn(
                f"Gradients do not exist for variables {missing} when minimizing the loss. "
                "If using `model.compile()`, did you forget to provide a `loss` argument?",
                stacklevel=3,
            )
        return [g for g, _ in kept], [v for _, v in kept]

    def _checked_grad(self, g, v: np.ndarray) -> np.ndarray:
        if isinstance(g, np.ndarray) and g.dtype.kind == "f" and g.dtype != v.dtype:
            raise TypeError(
                f"{type(self).__name__}: a gradient must have its variable's dtype "
                f"{v.dtype}. Received: gradient.dtype={g.dtype} (cast it explicitly)"
            )
        g = np.asanyarray(g, dtype=v.dtype)  # keeps a RowSparseGradient's squares
        if g.shape != v.shape:
            raise ValueError(
                f"{type(self).__name__}: a gradient must have its variable's shape "
                f"{v.shape}. Received: gradient.shape={g.shape}"
            )
        return g

    def update_step(self, gradient: np.ndarray, variable: np.ndarray, learning_rate) -> None:
        """The optimizer's own rule, as Keras writes it: update `variable` (and its slots)
        in place."""
        raise NotImplementedError(f"{type(self).__name__}.update_step")

    def _fused_update_step(self, gradient: np.ndarray, variable: np.ndarray,
                           learning_rate) -> bool:
        """The fast path of `update_step`: the same operations in one Numba pass over the
        arrays (`scratch/_kernels/optimizers.py`), bit for bit. Returns False where no kernel
        applies (the fast paths off, an unusual layout, an option the kernel lacks), and the
        readable `update_step` runs instead. Optimizers with a kernel override it."""
        return False

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        """Keras' optimizer config (same keys and values as `keras.optimizers.X.get_config`)."""
        lr = self._learning_rate_value
        if isinstance(lr, LearningRateSchedule):
            lr = schedules_module.serialize(lr)
        return {
            "name": self.name,
            "learning_rate": lr,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules_module.deserialize(config["learning_rate"])
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, iterations={self._iterations}>"


# ---------------------------------------------------------------------- clipping functions
def clip_by_norm(g: Array, clipnorm: float) -> Array:
    """TF's `clip_by_norm` on one gradient.

    Math:
        ```
        s = Σ g²;  n = √s if s > 0 else s
        g ← (g·c) / max(n, c)
        ```
    Shapes:
        g: any shape; returns the same shape and dtype.
    """
    c = _keras_const(clipnorm, g.dtype)
    l2sum = np.sum(g * g)
    l2norm = np.sqrt(l2sum) if l2sum > 0 else l2sum
    return (g * c) / np.maximum(l2norm, c)


def clip_by_global_norm(grads: list[Array], clipnorm: float) -> list[Array]:
    """Keras' `clip_by_global_norm`.

    Math:
        ```
        n = √(Σ_i Σ g_i²)
        scale = c·min(1/n, 1/c) + (n − n)       (the last term turns inf into NaN)
        g_i ← g_i·scale
        ```
    Shapes:
        grads: arrays of any shapes; returned with the same shapes and dtypes.
    """
    dtype = np.result_type(*grads)
    squared = np.array([np.sum(g * g) for g in grads], dtype=dtype)
    use_norm = np.sqrt(np.sum(squared))
    with np.errstate(divide="ignore", invalid="ignore"):
        scale_for_finite = _keras_const(clipnorm, dtype) * np.minimum(
            dtype.type(1.0) / use_norm, _keras_const(1.0 / clipnorm, dtype))
        scale = scale_for_finite + (use_norm - use_norm)
    return [g * scale.astype(g.dtype) for g in grads]


def _check_unit_interval(cls_name: str, arg: str, value, *, closed_low=True) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not (
        (0 <= value if closed_low else 0 < value) and value <= 1
    ):
        raise ValueError(f"{cls_name} expected `{arg}` in [0, 1]. Received: {arg}={value!r}")


def _check_non_negative(cls_name: str, arg: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not (
        math.isfinite(value) and value >= 0
    ):
        raise ValueError(
            f"{cls_name} expected a finite, non-negative `{arg}`. Received: {arg}={value!r}"
        )

