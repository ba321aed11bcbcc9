"""BLAS thread control: see which BLAS runs the matmuls, and pin how many threads it uses.

Every GEMM in scratch (Dense, im2col convolutions, the recurrent layers' input projections)
goes through NumPy's BLAS, and Numba kernels that call ``np.dot`` go through SciPy's own copy
of OpenBLAS, with its own thread pool. Both default to one thread per core. On the 2-core
machines this project runs on, that default is a trap when the machine is shared
(docs/PERFORMANCE.md §BLAS threads): OpenBLAS splits each GEMM between its threads and
waits for the slowest, so when another process holds one core, a small matmul now and then
waits a whole scheduler time slice (tens of ms) instead of finishing in 0.1 ms. One thread is
then both faster on average and far more predictable.

Measured here (2-vCPU AMD EPYC, OpenBLAS 0.3.31 Haswell kernel, NumPy 2.4; the "busy" column
is the same run with a ``while True: pass`` process holding one core; milliseconds per call):

    matmul                          threads   quiet median   busy median   busy mean (max)
    32×784 @ 784×128 float32              1          0.100         0.101       0.22 (8)
    32×784 @ 784×128 float32              2          0.078         0.103       3.18 (60)
    1024×1024 @ 1024×1024 float32         1           25.8          25.2       25.4 (28)
    1024×1024 @ 1024×1024 float32         2           16.0          30.9       33.8 (52)
    1024×1024 @ 1024×1024 float64         1           54.3          57.1       57.9 (76)
    1024×1024 @ 1024×1024 float64         2           30.1          59.2       59.4 (70)

With two threads and a busy core, 177 of 2000 small matmuls took more than 1 ms (the worst
60 ms), against 52 of 2000 with one thread: the mean small matmul became 14× slower.

Recommendation:
    * Tests, CI and anything that runs beside other work (TensorFlow in the same process,
      other processes on the machine): one BLAS thread, ``limit_blas_threads(1)``.
    * Training loops on course-sized models (batch 32, a few hundred units): one thread; the
      second thread gains at most 1.3× on a quiet machine and loses 14× on a busy one. The
      engine's "auto" policy (below) takes the second thread only for large steps and only
      while no other process holds a core, which it reads from /proc/stat as it goes.
    * Large GEMMs (about 1024² and up) on an otherwise idle machine: two threads, 1.6–1.8×
      faster; use ``with blas_threads(2): ...`` around that work only.
    * Benchmarks log ``describe_blas()`` next to their numbers; a kernel other than Haswell
      (``OPENBLAS_CORETYPE`` set to an older core) makes GEMMs 1.5–5× slower.

Importing this module changes nothing: threads are limited only when asked (it takes the
first reading of the machine's load, a read of /proc/stat).
threadpoolctl limits only the libraries already loaded, so every function here first loads
NumPy's and SciPy's BLAS (``scipy.linalg``), which a Numba ``np.dot`` would load later anyway.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from threadpoolctl import ThreadpoolController, threadpool_limits

__all__ = ["blas_info", "blas_threads", "describe_blas", "limit_blas_threads"]

_BLAS_NAMES = {"openblas": "OpenBLAS", "mkl": "MKL", "blis": "BLIS", "flexiblas": "FlexiBLAS"}
_INFO_KEYS = ("internal_api", "version", "num_threads", "architecture", "prefix", "filepath")


def _load_blas() -> None:
    """Load NumPy's and SciPy's BLAS so that threadpoolctl can see (and limit) both."""
    import numpy  # noqa: F401
    import scipy.linalg  # noqa: F401


def _check_threads(n) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(
            f"The number of BLAS threads expected a positive integer. Received: n={n!r}"
        )
    return n


def _owner(filepath: str | None) -> str | None:
    """Which package ships a BLAS library, read from its path (numpy.libs/, scipy.libs/)."""
    path = (filepath or "").replace("\\", "/").lower()
    for package in ("numpy", "scipy"):
        if f"/{package}.libs/" in path or f"/{package}/" in path:
            return package
    return None


def blas_info() -> list[dict[str, Any]]:
    """Describe every BLAS library loaded in this process (after loading NumPy's and SciPy's).

    Returns:
        One dict per library, from threadpoolctl, with keys ``internal_api`` ("openblas",
        "mkl", ...), ``version``, ``num_threads`` (the current limit), ``architecture`` (the
        BLAS kernel chosen for this CPU, e.g. "Haswell"; None where the library does not say),
        ``prefix``, ``filepath`` and ``owner`` ("numpy", "scipy" or None).
    """
    _load_blas()
    infos = []
    for lib in ThreadpoolController().info():
        if lib.get("user_api") != "blas":
            continue
        info = {key: lib.get(key) for key in _INFO_KEYS}
        info["owner"] = _owner(info["filepath"])
        infos.append(info)
    return infos


def describe_blas() -> str:
    """One line for logs and benchmark headers.

    Example: ``"OpenBLAS 0.3.31.188.0, Haswell kernel, 1 thread (numpy); OpenBLAS 0.3.30,
    Haswell kernel, 1 thread (scipy)"``.
    """
    parts = []
    for lib in blas_info():
        api = lib["internal_api"] or "unknown BLAS"
        text = f"{_BLAS_NAMES.get(api, api)} {lib['version'] or '(version unknown)'}"
        if lib["architecture"]:
            text += f", {lib['architecture']} kernel"
        n = lib["num_threads"]
        text += f", {n} thread{'' if n == 1 else 's'}"
        if lib["owner"]:
            text += f" ({lib['owner']})"
        parts.append(text)
    return "; ".join(parts) if parts else "no BLAS library loaded"


@contextlib.contextmanager
def blas_threads(n: int) -> Iterator[None]:
    """Use at most `n` BLAS threads inside the ``with`` block, then restore the previous limits.

    Args:
        n: positive number of threads for every loaded BLAS library (NumPy's and SciPy's).

    Raises:
        ValueError: if `n` is not a positive integer.
    """
    n = _check_threads(n)
    _load_blas()
    with threadpool_limits(limits=n, user_api="blas"):
        yield


def limit_blas_threads(n: int):
    """Use at most `n` BLAS threads from now on, for the rest of the process.

    Args:
        n: positive number of threads for every loaded BLAS library (NumPy's and SciPy's).

    Returns:
        threadpoolctl's limiter; its ``restore_original_limits()`` undoes the change.

    Raises:
        ValueError: if `n` is not a positive integer.
    """
    n = _check_threads(n)
    _load_blas()
    return threadpool_limits(limits=n, user_api="blas")


# ----------------------------------------------------------------------------- engine policy
# How many BLAS threads scratch uses inside fit / evaluate / predict / train_on_batch:
# "auto" (default) picks by the size of the work and the machine's load, an int fixes it,
# None leaves the process' own setting alone. Measured here (table above): small GEMMs
# gain a little from a second thread on an idle machine and collapse on two when another
# process holds a core; large ones gain up to 1.6×. "auto" therefore uses two threads (where
# the machine has them) when parameters × batch size reaches `AUTO_TWO_THREADS_WORK` *and*
# other processes leave a core free (`spare_core`), and one otherwise. The Lecture 69 GAN's
# discriminator step (5.3e5 parameters × 32) sits just above the threshold: its three
# train_on_batch calls are about 1.2× faster on two threads of an idle machine.
#
# The load is re-read while a fit runs (every `SPARE_CORE_WINDOW` seconds at most), so a
# process that starts beside a long fit costs at most one window of slow steps.
# One consequence to know: two BLAS threads split a float32 GEMM differently from one, so
# the last bits of float32 results can differ between a step taken on an idle machine and
# one taken on a busy one. `set_engine_blas_threads(1)` (or any fixed number) gives the
# same bits run after run.
AUTO_TWO_THREADS_WORK = 2**24
SPARE_CORE_WINDOW = 0.25  # seconds between two readings of the machine's load
SPARE_CORE_LOAD = 0.3  # cores other processes may use on average, the second one still free
_ENGINE_THREADS: int | str | None = "auto"
_CONTROLLERS: list | None = None


def set_engine_blas_threads(n: int | str | None) -> None:
    """Set the training loop's BLAS threads: "auto", a positive int, or None (untouched)."""
    global _ENGINE_THREADS
    _ENGINE_THREADS = n if n is None or n == "auto" else _check_threads(n)


def engine_blas_threads(work: int = 0) -> int | None:
    """The number of BLAS threads the engine uses for `work` (parameters × batch size)."""
    if _ENGINE_THREADS != "auto":
        return _ENGINE_THREADS
    if _cpu_count() < 2 or work < AUTO_TWO_THREADS_WORK:
        return 1
    return 2 if spare_core() else 1


class _Load:
    """The last reading of the machine's load: when, CPU seconds the whole machine had
    spent busy (steal included), CPU seconds this process had used, and the verdict."""

    time: float | None = None
    busy: float = 0.0
    own: float = 0.0
    spare: bool = False


def _busy_seconds() -> float | None:
    """CPU seconds the cores this process may run on (its affinity) have spent not idle since
    boot: Linux's /proc/stat per-core lines, user + nice + system + irq + softirq + steal (the
    hypervisor's time elsewhere); None where unknown."""
    try:
        with open("/proc/stat", "rb") as f:
            return _busy_ticks(f.read(), _allowed_cpus()) / _clock_ticks()
    except (OSError, ValueError):
        return None


def _busy_ticks(stat: bytes, cpus: frozenset | None) -> int:
    """Busy clock ticks of the cores `cpus` (all where None) in a /proc/stat text."""
    total = 0
    for line in stat.splitlines():
        if line[:3] != b"cpu" or not line[3:4].isdigit():
            continue  # the first line sums every core; other lines are not cores
        fields = line.split()
        if cpus is not None and int(fields[0][3:]) not in cpus:
            continue
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[1:9])
        total += user + nice + system + irq + softirq + steal
    return total


@functools.lru_cache(maxsize=1)
def _allowed_cpus() -> frozenset | None:
    """The cores this process may run on (`os.sched_getaffinity`), None where unknown."""
    try:
        return frozenset(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


@functools.lru_cache(maxsize=1)
def _clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def spare_core() -> bool:
    """Whether other processes left a second core free over the last `SPARE_CORE_WINDOW`.

    Other processes' CPU time is the busy time of the cores this process may run on minus
    this process' own (every thread of it: BLAS, TensorFlow in the same process); a core
    counts as free when they used at most `cores − 2 + SPARE_CORE_LOAD` cores on average.
    The reading is kept for a window (a call costs a clock read; a new reading about 35 µs).
    Where the load cannot be read (no /proc/stat), True: the size of the work alone decides,
    as before.
    The first reading is taken when this module loads.
    """
    now = time.monotonic()
    if _Load.time is not None and now - _Load.time < SPARE_CORE_WINDOW:
        return _Load.spare
    busy, own = _busy_seconds(), time.process_time()
    if busy is None:
        return True
    if _Load.time is not None:
        others = (busy - _Load.busy) - (own - _Load.own)
        _Load.spare = others <= (_cpu_count() - 2 + SPARE_CORE_LOAD) * (now - _Load.time)
    _Load.time, _Load.busy, _Load.own = now, busy, own
    return _Load.spare


@functools.lru_cache(maxsize=1)
def _cpu_count() -> int:
    """The cores this process may use (its affinity where known), read once (~10 µs)."""
    cpus = _allowed_cpus()
    return len(cpus) if cpus else (os.cpu_count() or 1)


def _blas_controllers() -> list:
    """threadpoolctl's controllers of the loaded BLAS libraries, found once."""
    global _CONTROLLERS
    if _CONTROLLERS is None:
        _load_blas()
        _CONTROLLERS = [lib for lib in ThreadpoolController().lib_controllers
                        if lib.user_api == "blas"]
    return _CONTROLLERS


class _BlasLimits:
    """Sets the loaded BLAS libraries' thread limits, remembering each library's own limit
    the first time it changes, and puts them back on `restore()`.

    Reads each library's current limit and sets only the ones that differ: about 3 µs per
    library when nothing changes, against 20 µs for threadpoolctl's `limit()` and 1.7 ms for a
    fresh `threadpool_limits`, so it is cheap enough for every `train_on_batch` and every
    recurrent layer call.
    """

    def __init__(self) -> None:
        self._before: list[tuple[Any, int]] = []

    def set(self, n: int) -> None:
        for lib in _blas_controllers():
            current = lib.get_num_threads()
            if current != n:
                if not any(lib is seen for seen, _ in self._before):
                    self._before.append((lib, current))
                lib.set_num_threads(n)

    def restore(self) -> None:
        for lib, before in reversed(self._before):
            lib.set_num_threads(before)
        self._before = []


# ----------------------------------------------------------------------------- open scopes
# A BLAS library has one thread limit for the whole process, while scopes open and close in
# any order: nested calls in one thread (a callback's `predict` inside `fit`, a recurrent
# layer's one-thread scope inside a step) and fits running side by side in several threads.
# Each scope restoring "the limits it saw when it opened" breaks as soon as two threads
# interleave: a small fit in one thread, a large one in another, and the process is left on
# the small one's thread count after both return. So the open scopes are kept in one list
# for the process, and the limit follows that list:
#   * the first scope to open remembers the process' own limits (`_PROCESS_LIMITS`);
#   * while scopes are open, BLAS runs on the fewest threads any of them asks for: fits
#     side by side already keep several cores busy, and a nested small step wants one;
#   * the last scope to close puts the process' own limits back.
# Measured here (NumPy's OpenBLAS 0.3.31, SciPy's 0.3.30): OpenBLAS honours a new limit only
# from the thread that last changed it while that thread lives. In a process whose main
# thread set a limit, fits in other threads cannot change it and run on that setting.
_OPEN_SCOPES: list[_Scope] = []  # every scope entered and not yet left, in any thread
_OPEN_SCOPES_LOCK = threading.Lock()
_PROCESS_LIMITS = _BlasLimits()
_THIS_THREAD = threading.local()  # .engine_scopes: this thread's engine scopes, innermost last


def _apply_open_scopes() -> None:
    """Set the BLAS limits the open scopes call for (the caller holds the lock)."""
    if _OPEN_SCOPES:
        _PROCESS_LIMITS.set(min([scope.threads for scope in _OPEN_SCOPES]))
    else:
        _PROCESS_LIMITS.restore()


class _Scope:
    """A ``with`` block that asks for `threads` BLAS threads (see "open scopes" above)."""

    def __init__(self, threads: int) -> None:
        self.threads = threads

    def __enter__(self) -> _Scope:
        with _OPEN_SCOPES_LOCK:
            _OPEN_SCOPES.append(self)
            _apply_open_scopes()
        return self

    def __exit__(self, *exc) -> None:
        with _OPEN_SCOPES_LOCK:
            _OPEN_SCOPES.remove(self)
            _apply_open_scopes()

    def ask_for(self, threads: int) -> None:
        """Change the number of threads this open scope asks for."""
        with _OPEN_SCOPES_LOCK:
            self.threads = threads
            _apply_open_scopes()


def scoped_blas_threads(n: int) -> contextlib.AbstractContextManager:
    """Run the ``with`` block on `n` BLAS threads (fewer if another open scope asks for
    fewer); the process' own limits come back when the last open scope closes."""
    return _Scope(_check_threads(n))


class _EngineScope(_Scope):
    """The training loop's BLAS scope for a step of `work`: asks for
    `engine_blas_threads(work)` threads, and follows the machine's load on `refresh()`."""

    def __init__(self, work: int) -> None:
        super().__init__(engine_blas_threads(work))
        self.work = work

    def refresh(self) -> None:
        n = engine_blas_threads(self.work)
        if n != self.threads:
            self.ask_for(n)

    def __enter__(self) -> _EngineScope:
        super().__enter__()
        if not hasattr(_THIS_THREAD, "engine_scopes"):  # this thread's first engine scope
            _THIS_THREAD.engine_scopes = []
        _THIS_THREAD.engine_scopes.append(self)
        return self

    def __exit__(self, *exc) -> None:
        _THIS_THREAD.engine_scopes.remove(self)
        super().__exit__(*exc)


def engine_threads(work: int = 0) -> contextlib.AbstractContextManager:
    """The training loop's BLAS scope (see `engine_blas_threads`), restored afterwards."""
    if _ENGINE_THREADS is None:
        return contextlib.nullcontext()
    return _EngineScope(work)


def refresh_engine_threads() -> None:
    """Between two steps of a loop: follow the machine's load in this thread's innermost
    engine scope (a clock read while the load's reading is recent)."""
    if _ENGINE_THREADS == "auto":
        scopes = getattr(_THIS_THREAD, "engine_scopes", None)
        if scopes:
            scopes[-1].refresh()


spare_core()  # the first reading, so that the first step already has a window behind it
