"""Subnormal numbers read and written as zero while the engine works, as TensorFlow does.

A float32 below 2⁻¹²⁶ ≈ 1.18e-38 in magnitude (2⁻¹⁰²² in float64) is *subnormal*. TensorFlow
runs its CPU kernels with two modes of the processor switched on: flush-to-zero (a subnormal
result becomes 0) and denormals-are-zero (a subnormal input is read as 0). In tf.keras,
`tf.constant(1e-39) * 0.5` is 0, and so is 1e-39 + 0.

Two reasons for scratch to do the same while it trains, evaluates and predicts:

* **The same numbers.** Without the modes, a value that TensorFlow makes 0 stays a tiny
  number in scratch, and the two engines part in the last bits wherever one appears.
* **Speed.** x86 processors compute with subnormals in microcode, 10–100× slower than with
  normal numbers. They come up in ordinary training: an input pixel that is 0 in every image
  gives its Dense weights a gradient of exactly 0, and Adam's first moment of those weights
  then decays by β₁ = 0.9 a step until it is subnormal. In the course's Lecture 24 network on
  the digits (28×28), 22 % of the first kernel's moments were subnormal after 16 epochs, and
  an epoch took 2.6× as long as before (docs/PERFORMANCE.md §Subnormal numbers).

`subnormals_as_zero()` switches both modes on in the calling thread for a block and restores
the thread's previous modes after it (nested blocks cost one thread-local counter). The
model's entry points (`fit`, `evaluate`, `predict`, `train_on_batch`, `test_on_batch`,
`predict_on_batch`) run inside one. The engine's own worker threads (convolution, pooling and
recurrent chunks) run each task in the modes of the thread that handed it over
(`thread_modes`, `in_modes`): every chunk of a call is then computed alike, whichever thread
takes it, inside the engine (modes on, as TensorFlow's pool threads) and outside it (a layer
called on its own: modes off). Outside those calls (NumPy code of the user's, a layer called
on its own) nothing changes.

One gap is OpenBLAS'. Its own worker threads take the modes they were started with (the
process' default, off) and ignore the caller's: a matrix product on two BLAS threads inside
a block flushes the rows the calling thread computes and not the others' (measured:
1,024 of 2,048 rows of a product of subnormal inputs). The engine runs large training steps
on two BLAS threads (`scratch._threads`), so there a product whose inputs or result are
subnormal can keep tiny numbers (below 2⁻¹²⁶) in part of its rows, where TensorFlow has 0;
the next operation on the engine's thread reads them as 0 again (DAZ). One BLAS thread
(`scratch._threads.limit_blas_threads(1)`) has no gap
(docs/PERFORMANCE.md §Subnormal numbers).

x86-64 only (the MXCSR register, `scratch._kernels.cpu_mode`); elsewhere the block changes
nothing and subnormals are computed as the processor computes them.
"""

from __future__ import annotations

import functools
import platform
import threading
from collections.abc import Callable
from typing import TypeVar

import numpy as np

__all__ = ["subnormals_as_zero", "supported", "thread_modes", "in_modes"]

# MXCSR bits: FTZ (flush results to zero) and DAZ (read inputs as zero).
FLUSH_TO_ZERO = 0x8000
DENORMALS_ARE_ZERO = 0x0040
_BOTH = np.uint32(FLUSH_TO_ZERO | DENORMALS_ARE_ZERO)

_THIS_THREAD = threading.local()
T = TypeVar("T")


@functools.cache
def supported() -> bool:
    """Whether this machine's processor modes can be switched (x86-64)."""
    return platform.machine().lower() in ("x86_64", "amd64")


@functools.cache
def _registers():
    """(get, set) of this thread's MXCSR, compiled on first use."""
    from ._kernels import load

    module = load("cpu_mode")
    return module.get_mxcsr, module.set_mxcsr


def thread_modes() -> int:
    """The calling thread's FTZ and DAZ bits (0 where they cannot be switched): what a worker
    thread takes on for the task this thread hands it (`in_modes`)."""
    return int(_registers()[0]() & _BOTH) if supported() else 0


def in_modes(modes: int, fn: Callable[..., T], *args) -> T:
    """fn(*args) with this thread's FTZ and DAZ bits set to `modes` (from `thread_modes` of
    the thread that hands the task over), and this thread's own modes restored after."""
    if not supported():
        return fn(*args)
    get, set_ = _registers()
    saved = get()
    wanted = np.uint32((saved & ~_BOTH) | modes)
    if wanted == saved:
        return fn(*args)
    set_(wanted)
    try:
        return fn(*args)
    finally:
        set_(saved)


class subnormals_as_zero:  # noqa: N801 (used as a context manager, like contextlib's)
    """`with subnormals_as_zero(): ...`: FTZ and DAZ on in this thread for the block."""

    __slots__ = ("_saved",)

    def __enter__(self) -> None:
        depth = getattr(_THIS_THREAD, "depth", 0)
        _THIS_THREAD.depth = depth + 1
        self._saved = None
        if depth == 0 and supported():
            get, set_ = _registers()
            self._saved = get()
            set_(np.uint32(self._saved | _BOTH))

    def __exit__(self, *exc) -> None:
        _THIS_THREAD.depth -= 1
        if self._saved is not None:
            _registers()[1](self._saved)
