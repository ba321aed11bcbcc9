"""Global numeric settings, mirroring `keras.config` / `keras.backend`.

* ``floatx()`` is the default dtype of every new layer's weights and outputs
  ("float32", as in Keras). ``set_floatx("float64")`` switches the engine to
  float64 end to end; a layer's own ``dtype=`` argument overrides it.
* ``epsilon()`` is Keras' fuzz factor 1e-7 (used by the clipped cross-entropies).
* ``fast_paths(enabled)`` is the one switch of every fast path (Numba kernels, im2col, fused
  updates, the training step's shortcuts). ``fast_paths(False)`` runs the readable NumPy code
  that mirrors the course's equations everywhere, so a debugger steps through them::

      with scratch.backend.fast_paths(False):    # for the block
          model.fit(x, y)
      scratch.backend.fast_paths(False)          # from now on

  ``SCRATCH_FAST_PATHS=0`` in the environment starts a process with them off. A layer or
  loss whose own ``fast_path`` attribute is True or False follows it instead
  (None, the default, follows the switch). Both paths give the same numbers: each fast path
  has a test against its readable twin (tests/test_fast_paths.py and the layer tests).
"""

from __future__ import annotations

import os

import numpy as np

_FLOATX = "float32"
# SCRATCH_FAST_PATHS=0 in the environment starts with the fast paths off.
_FAST_PATHS = os.environ.get("SCRATCH_FAST_PATHS", "1") != "0"
_EPSILON = 1e-7
_FLOAT_DTYPES = ("float32", "float64")
# The same two as NumPy dtypes, for the fast paths' `array.dtype in FLOAT_DTYPES` tests (a
# comparison with a string would parse it on every call).
FLOAT_DTYPES = (np.dtype("float32"), np.dtype("float64"))


def same_layout(*arrays: np.ndarray) -> bool:
    """Whether every array has the first one's dtype and shape and is C-contiguous: what the
    fast paths' one-pass kernels need (a plain loop: it runs for every activation and every
    optimizer variable of every step)."""
    first = arrays[0]
    for a in arrays:
        if a.dtype != first.dtype or a.shape != first.shape or not a.flags.c_contiguous:
            return False
    return True


class fast_paths:
    """Turn every fast path on or off: a setter, and a context manager that restores the
    previous value on exit (see the module docstring)."""

    def __init__(self, enabled: bool) -> None:
        global _FAST_PATHS
        if not isinstance(enabled, (bool, np.bool_)):
            raise TypeError(f"`enabled` must be True or False. Received: enabled={enabled!r}")
        self._previous = _FAST_PATHS
        _FAST_PATHS = bool(enabled)

    def __enter__(self) -> fast_paths:
        return self

    def __exit__(self, *exc_info) -> None:
        global _FAST_PATHS
        _FAST_PATHS = self._previous


def fast_paths_enabled() -> bool:
    """Whether the fast paths are on (the global switch)."""
    return _FAST_PATHS


def use_fast_path(owner=None) -> bool:
    """Whether `owner` (a layer, a loss, or None) takes its fast path: its own `fast_path`
    attribute when that is True or False, else the global switch."""
    own = getattr(owner, "fast_path", None)
    return _FAST_PATHS if own is None else bool(own)


def keras_cast(value, dtype) -> np.floating:
    """`ops.cast(value, dtype)` as TensorFlow does it for a hyper-parameter.

    A Python float becomes a float32 tensor first, then is cast: float64(float32(value)).
    Python ints convert exactly. NumPy scalars/arrays are cast directly. (The optimizers,
    the schedules and `random.uniform`'s limits all go through it.)
    """
    if isinstance(value, np.generic) and value.dtype == dtype:
        return value  # already a scalar of that dtype (the usual learning rate)
    dtype = np.dtype(dtype)
    if isinstance(value, (np.ndarray, np.generic)):
        return np.asarray(value).astype(dtype)[()]
    if isinstance(value, float):
        return dtype.type(np.float32(value))
    return dtype.type(value)


def clear_session(free_memory: bool = True) -> None:
    """Keras' `keras.backend.clear_session()`: forget the global state of the process.

    What that means here, as in Keras: the automatic names start again (the next `Dense` is
    "dense" again: `utils.naming.reset_uids`), and the global generator of the unseeded random
    draws is dropped (the next one is made from Python's `random`; `set_random_seed`'s global
    seed, which fit's shuffling uses, stays). floatx() and the fast-path switch are settings,
    not state, and stay too. With `free_memory`, Python's garbage collector runs, as in Keras.
    """
    import gc

    from .random import forget_global_seed_generator
    from .utils.naming import reset_uids

    reset_uids()
    forget_global_seed_generator()
    if free_memory:
        gc.collect()


def floatx() -> str:
    """The default float dtype as a string ("float32" unless changed)."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Set the default float dtype ("float32" or "float64")."""
    global _FLOATX
    value = standardize_dtype(value)
    _FLOATX = value


def epsilon() -> float:
    return _EPSILON


def set_epsilon(value: float) -> None:
    global _EPSILON
    _EPSILON = float(value)


# "float32", np.float32 and np.dtype("float32") (and the same for float64) -> the name
_FLOAT_NAMES = {spelling: name for name in ("float32", "float64")
                for spelling in (name, np.dtype(name), np.dtype(name).type)}


def standardize_dtype(dtype) -> str:
    """Return "float32"/"float64" for any spelling of those dtypes (None -> floatx()).

    Raises:
        ValueError: for any other dtype; scratch computes in float32 or float64 only.
    """
    if dtype is None:
        return _FLOATX
    try:
        name = _FLOAT_NAMES.get(dtype)  # the usual spellings, without NumPy's `dtype.name`
    except TypeError:  # unhashable (a structured dtype's field list): NumPy says below
        name = None
    if name is not None:
        return name
    name = np.dtype(dtype).name
    if name not in _FLOAT_DTYPES:
        raise ValueError(
            f"scratch computes in float32 or float64. Received: dtype={dtype!r}"
        )
    return name


def mean(x: np.ndarray, axis=None) -> np.ndarray:
    """`np.mean(x, axis)` for float arrays, bit for bit, without its Python layers.

    np.mean sums with `np.add.reduce` (pairwise) and divides by the count as an intp, which
    for float32 rounds the float64 quotient back to float32; that double rounding equals the
    float32 quotient (a 53-bit intermediate is more than 2·24 + 2 bits), so dividing by the
    count in x's dtype gives the same bits, in a fraction of np.mean's time on a small array
    (docs/PERFORMANCE.md §Call overhead).
    Integer, empty or non-float input goes to np.mean itself.
    """
    if x.dtype.kind != "f" or x.dtype.itemsize < 4 or x.size == 0:
        return np.mean(x, axis=axis)
    if axis is None:
        count = x.size
    else:
        axes = axis if isinstance(axis, tuple) else (axis,)
        count = 1
        for a in axes:
            count *= x.shape[a]
    return np.add.reduce(x, axis=axis) / x.dtype.type(count)
