"""Fast path of the recurrent layers (`scratch.layers.recurrent`): its entry points.

`rnn_forward` / `rnn_backward` here have the signatures of the readable BPTT driver
(`scratch.layers.recurrent.rnn.rnn_forward` / `rnn_backward`) and compute the same numbers
for SimpleRNNCell, GRUCell (both variants) and LSTMCell; a test checks fast == readable.
`supports` says which cells and dropout masks they cover.

The fast path has three parts, one module each:

* this module: the entry points, which road each cell takes, and the batch split: big batches
  can run in chunks on a thread pool (`set_threads`), with BLAS on one thread;
* `recurrent_numpy.py`: the NumPy part, gate-major time loops with one GEMM for the input
  projection of all steps (its docstring explains what makes them fast);
* `recurrent_numba.py`: the Numba part, each step's gate math of the standard LSTM cell
  (σ gates, tanh) and of the standard reset-after GRU cell without a mask as one call
  (`_lstm_fusable`, `_gru_fusable`).
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, NamedTuple

import numpy as np

from .. import activations
from .._denormals import in_modes, thread_modes
from ..typing import Array
from .recurrent_numpy import (
    gru_backward,
    gru_forward,
    lstm_backward,
    lstm_forward,
    simple_rnn_backward,
    simple_rnn_forward,
)

__all__ = ["supports", "rnn_forward", "rnn_backward", "set_threads", "get_threads"]


# ----------------------------------------------------------------------------- which road
def supports(cell, dropout) -> bool:
    """Whether the fast path covers this cell and these dropout masks."""
    from ..layers.recurrent import GRUCell, LSTMCell, SimpleRNNCell
    if type(cell) not in (SimpleRNNCell, GRUCell, LSTMCell):
        return False
    return dropout is None or dropout.recurrent is None


def _lstm_fusable(cell, mask) -> bool:
    """Whether an LSTM runs each step's gate math as one Numba call (`recurrent_numba`): the
    standard cell (σ gates, tanh) without a time mask. Any other LSTM runs the readable gate
    equations on the NumPy part's blocks."""
    return (mask is None and activations.serialize(cell.recurrent_activation) == "sigmoid"
            and activations.serialize(cell.activation) == "tanh")


def _gru_fusable(cell, mask) -> bool:
    """Whether a GRU runs each step's gate math as one Numba call (`recurrent_numba`): the
    reset-after cell (Keras' default) with σ gates and tanh, without a time mask."""
    return (mask is None and cell.reset_after
            and activations.serialize(cell.recurrent_activation) == "sigmoid"
            and activations.serialize(cell.activation) == "tanh")


def _lstm_forward(cell, x, states, go_backwards, mask, zero_output, dropout):
    return lstm_forward(cell, x, states, go_backwards, mask, zero_output, dropout,
                        fused=_lstm_fusable(cell, mask))


def _gru_forward(cell, x, states, go_backwards, mask, zero_output, dropout):
    return gru_forward(cell, x, states, go_backwards, mask, zero_output, dropout,
                       fused=_gru_fusable(cell, mask))


_FORWARD = {"SimpleRNNCell": simple_rnn_forward, "GRUCell": _gru_forward,
            "LSTMCell": _lstm_forward}
_BACKWARD = {"simple_rnn": simple_rnn_backward, "gru": gru_backward, "lstm": lstm_backward}


# ----------------------------------------------------------------------------- batch split
# Batch parallelism: the sequences of a batch never interact, so the batch can be cut into
# chunks that run the whole time loop (forward or BPTT) in parallel threads; NumPy and BLAS
# release the GIL. By default (`_THREADS` None) a big batch is cut in two halves, by its
# shapes alone, and the engine's thread policy (`scratch._threads.engine_blas_threads`, as for
# the convolutions) runs them on two threads while another core is free, one after the other
# otherwise: the numbers never depend on the threads or the machine's load. An LSTM(128) train
# step on 128×28×28 took 13.8 ms on two threads against 22.5 ms on one (docs/PERFORMANCE.md
# §Recurrent batch split). `set_threads(n)` fixes n chunks on n threads instead.
_THREADS: int | None = None
_POOLS: dict[int, Any] = {}
MIN_ROWS_PER_THREAD = 16
MIN_WORK_PER_STEP = 2 ** 14  # N · G · M: below this a step is Python overhead, not math
SPLIT_WORK = 2 ** 24  # N · T · the cell's weights: from here the default cuts the batch in two
SPLIT_MIN_ROWS = 64  # ... into halves of at least this many rows (smaller GEMMs lost: 32 rows
#                      ran an LSTM(128) forward 1.4× slower in two halves)


def set_threads(n: int | None) -> None:
    """Run the fast path of big batches in `n` chunks on `n` threads; None (the default):
    two chunks for big batches, on the engine's threads.

    Each thread takes a contiguous chunk of the batch through the whole sequence, so the
    results are those of one chunk up to the summation order of the weight gradients
    (chunks' gradients are added). Pair it with one BLAS thread
    (`scratch._threads.limit_blas_threads(1)`) to avoid oversubscribing the cores.

    Raises:
        ValueError: if `n` is neither None nor a positive integer.
    """
    global _THREADS
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"set_threads expected a positive integer or None. Received: n={n!r}")
    _THREADS = n


def get_threads() -> int | None:
    return _THREADS


def _pool(n: int):
    if n not in _POOLS:
        from concurrent.futures import ThreadPoolExecutor

        _POOLS[n] = ThreadPoolExecutor(max_workers=n, thread_name_prefix="scratch-rnn")
    return _POOLS[n]


def _cell_work(cell, N: int, T: int) -> int:
    """Multiply-adds of a pass, about: N · T · the cell's weights."""
    return N * T * sum(w.size for w in cell.params.values())


def _chunk_count(cell, N: int, work: int) -> int:
    """How many chunks the batch is cut into: from the shapes (N, the pass' `work`, see
    `_cell_work`) and `set_threads` only."""
    if N * cell.params["recurrent_kernel"].shape[1] < MIN_WORK_PER_STEP:
        return 1
    if _THREADS is not None:
        return max(1, min(_THREADS, N // MIN_ROWS_PER_THREAD))
    return 2 if N >= 2 * SPLIT_MIN_ROWS and work >= SPLIT_WORK else 1


def _run(jobs: list, fn, work: int) -> list:
    """fn(job) for every chunk's job, in order: on as many threads as chunks with
    `set_threads`, else on the engine's threads for `work` (two while a core is free)."""
    from .._threads import engine_blas_threads

    threads = len(jobs) if _THREADS is not None else min(len(jobs),
                                                          engine_blas_threads(work) or 1)
    if threads <= 1:
        return [fn(job) for job in jobs]
    # the pool threads compute in this thread's subnormal modes, as one chunk here would
    return list(_pool(threads).map(functools.partial(in_modes, thread_modes(), fn), jobs))


class SplitCache(NamedTuple):
    """The caches of a batch run in chunks (one per thread)."""

    slices: list
    caches: list
    x_shape: tuple


def _split_dropout(dropout, s: slice):
    if dropout is None or dropout.inputs is None:
        return dropout
    chunks: dict[int, Array] = {}
    inputs = tuple(chunks.setdefault(id(m), m[s]) for m in dropout.inputs)
    return type(dropout)(inputs, dropout.recurrent)


SMALL_STEP = 2 ** 18  # m·n·k of a step's product below which OpenBLAS itself uses one thread


def _blas_scope(cell, N: int, chunks: int):
    """The BLAS threads of a recurrent pass: one (a no-op when BLAS already runs on one).

    The per-step GEMMs of a recurrent layer are small (N × M by M × G·M): one BLAS thread is
    fastest for them, and two threads collapse when another process holds a core
    (docs/PERFORMANCE.md §BLAS threads, with an LSTM train step among the measurements). The
    recurrent layers get their parallelism from the batch split (whole batch chunks) instead.

    Except for a batch run whole whose step product is so small that OpenBLAS runs it on one
    thread anyway (m·n·k below 2¹⁸, its own threshold): then the scope is left as the caller
    has it, and the big products before and after the loop (the input projection, dW, dU,
    dx over all T·N rows) get the engine's threads. The course's LSTM(15) over 189 words
    spent 3 ms in them on one thread.
    """
    from .._threads import scoped_blas_threads

    units, gate_columns = cell.params["recurrent_kernel"].shape  # (M, G·M)
    if chunks == 1 and N * units * gate_columns < SMALL_STEP:
        return contextlib.nullcontext()
    return scoped_blas_threads(1)


def _forward_one(cell, x, states, go_backwards, time_mask, zero_output, dropout):
    mask = None
    if time_mask is not None:
        m = np.asarray(time_mask, dtype=bool).T[:, :, None]
        mask = np.ascontiguousarray(m[::-1] if go_backwards else m)
    with np.errstate(over="ignore"):
        return _FORWARD[type(cell).__name__](cell, x, list(states), go_backwards, mask,
                                             zero_output, dropout)


def rnn_forward(cell, x: Array, initial_states: list[Array], *, go_backwards: bool = False,
                time_mask: Array | None = None, zero_output_for_mask: bool = False,
                dropout=None):
    """Fast twin of `scratch.layers.recurrent.rnn.rnn_forward` (same arguments and results).

    Returns:
        (outputs (N, T, M) in processing order, final states, cache).
    """
    N, T = x.shape[:2]
    work = _cell_work(cell, N, T)
    n = _chunk_count(cell, N, work)
    with _blas_scope(cell, N, n):
        return _rnn_forward(cell, x, initial_states, go_backwards, time_mask,
                            zero_output_for_mask, dropout, n, work)


def _rnn_forward(cell, x, initial_states, go_backwards, time_mask, zero_output_for_mask,
                 dropout, n, work):
    N = x.shape[0]
    if n == 1:
        return _forward_one(cell, x, initial_states, go_backwards, time_mask,
                            zero_output_for_mask, dropout)
    bounds = np.linspace(0, N, n + 1).astype(int)
    slices = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    jobs = [(cell, x[s], [st[s] for st in initial_states], go_backwards,
             None if time_mask is None else time_mask[s], zero_output_for_mask,
             _split_dropout(dropout, s)) for s in slices]
    results = _run(jobs, lambda job: _forward_one(*job), work)
    outputs = np.concatenate([r[0] for r in results], axis=0)
    finals = [np.concatenate([r[1][k] for r in results], axis=0)
              for k in range(len(initial_states))]
    return outputs, finals, SplitCache(slices, [r[2] for r in results], x.shape)


def rnn_backward(cell, d_outputs: Array | None, d_final_states: list, cache,
                 need_dx: bool = True):
    """Fast twin of `scratch.layers.recurrent.rnn.rnn_backward`: (dx, d_initial_states, grads).

    With need_dx=False the input gradient is not computed (dx is None).
    """
    split = isinstance(cache, SplitCache)
    with _blas_scope(cell, cache.x_shape[0], len(cache.slices) if split else 1):
        return _rnn_backward(cell, d_outputs, d_final_states, cache, need_dx)


def _rnn_backward(cell, d_outputs, d_final_states, cache, need_dx):
    if not isinstance(cache, SplitCache):
        return _BACKWARD[cache.kind](cell, d_outputs, list(d_final_states), cache, need_dx)
    jobs = [(cell, None if d_outputs is None else d_outputs[s],
             [None if d is None else d[s] for d in d_final_states], chunk_cache, need_dx)
            for s, chunk_cache in zip(cache.slices, cache.caches, strict=True)]
    N, T = cache.x_shape[:2]
    results = _run(jobs, lambda job: _BACKWARD[job[3].kind](*job), _cell_work(cell, N, T))
    dx = np.concatenate([r[0] for r in results], axis=0) if need_dx else None
    d_init = [np.concatenate([r[1][k] for r in results], axis=0)
              for k in range(len(results[0][1]))]
    grads = {name: sum(r[2][name] for r in results[1:]) + results[0][2][name]
             for name in results[0][2]}
    return dx, d_init, grads
