"""The machine's limits and the work of a workload: how close a benchmark row gets to the roof.

Two limits, measured in the same run as the benchmarks (`measure`), on one and on two threads:

* the **GEMM roof**: NumPy's float32 matrix product (`n`×`n` by `n`×`n`, 2n³ FLOPs), the
  fastest dense arithmetic this machine's BLAS reaches; the best of a few tries, because a
  shared machine only ever slows a try down;
* the **memory bandwidth**: a large copy (`np.copyto`, read + write, STREAM's "copy") and a
  large add (`np.add(b, c, out=a)`, two reads and a write, STREAM's "add") on arrays far
  larger than the caches; two threads each take half the arrays (NumPy releases the GIL).
  The better of the two is the bandwidth roof.

And the work of a workload, counted from the model (`model_gemms`, `model_flops`) or by hand
(`dense_macs`, `conv_macs`, `recurrent_macs`), and those products timed alone
(`gemm_runner`: the floor under any engine that computes the workload by GEMMs):

* FLOPs = 2 × the multiply-adds of the matrix products and convolutions (Dense, Conv1D/2D,
  the input and recurrent products of SimpleRNN/GRU/LSTM); elementwise work (activations,
  gates, normalization, pooling), losses and optimizer updates are not counted, so the
  figure is a lower bound of what the engine computes;
* a training step adds the backward products: the weight gradients of trainable layers
  (as many multiply-adds as the forward), the input gradient of each layer whose input
  needs one (the same again; not the first layer's, whose input is data), and a recurrent
  layer's gradient through time (its recurrent product again);
* memory-bound rows count bytes instead (`pool_bytes`): what the operation must read and
  write at the least.

A row's GFLOP/s (or GB/s) is its work over its time; "% of roof" divides that by the one- and
two-thread roofs. The module is NumPy and threadpoolctl only (through scratch._threads), so a
smoke test can run it at tiny sizes.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Roof", "measure", "load_or_measure", "dense_macs", "conv_macs", "recurrent_macs",
           "layer_gemms", "model_gemms", "model_flops", "gemm_flops", "gemm_runner",
           "pool_bytes", "achieved", "fmt_rate"]


# ----------------------------------------------------------------------------- the roof
@dataclass
class Roof:
    """Measured limits: GFLOP/s of float32 GEMM and GB/s of memory, per thread count."""

    gemm_gflops: dict[int, float]
    bandwidth_gbs: dict[int, float]
    gemm_n: int = 0
    bandwidth_mb: float = 0.0
    details: dict = field(default_factory=dict)  # copy and add separately, per thread count

    def to_dict(self) -> dict:
        d = asdict(self)
        d["gemm_gflops"] = {str(k): v for k, v in self.gemm_gflops.items()}
        d["bandwidth_gbs"] = {str(k): v for k, v in self.bandwidth_gbs.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Roof:
        return cls(gemm_gflops={int(k): float(v) for k, v in d["gemm_gflops"].items()},
                   bandwidth_gbs={int(k): float(v) for k, v in d["bandwidth_gbs"].items()},
                   gemm_n=int(d.get("gemm_n", 0)), bandwidth_mb=float(d.get("bandwidth_mb", 0)),
                   details=dict(d.get("details", {})))

    def describe(self) -> str:
        g = ", ".join(f"{v:.0f} on {k} thread{'s' * (k > 1)}"
                      for k, v in sorted(self.gemm_gflops.items()))
        b = ", ".join(f"{v:.1f} on {k}" for k, v in sorted(self.bandwidth_gbs.items()))
        return (f"roof: float32 GEMM ({self.gemm_n}³) {g} GFLOP/s; memory {b} GB/s "
                f"(best of copy and add, {self.bandwidth_mb:.0f} MB per array)")


def _best_seconds(fn: Callable[[], object], tries: int) -> float:
    best = math.inf
    for _ in range(tries):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def gemm_gflops(n: int, threads: int, tries: int = 3) -> float:
    """float32 `n`×`n` GEMM speed on `threads` BLAS threads (best of `tries`)."""
    from scratch import _threads

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), np.float32)
    with _threads.blas_threads(threads):
        np.matmul(a, b, out=c)  # first touch, BLAS' threads started
        seconds = _best_seconds(lambda: np.matmul(a, b, out=c), tries)
    return 2.0 * n ** 3 / seconds / 1e9


def bandwidth_gbs(megabytes: float, threads: int, tries: int = 3) -> dict[str, float]:
    """GB/s of a copy (2 × bytes moved) and an add (3 ×) over arrays of `megabytes` each,
    the arrays split in `threads` contiguous parts run in a thread pool (best of `tries`)."""
    size = max(1024, int(megabytes * 1e6) // 4)
    a = np.ones(size, np.float32)
    b = np.full(size, 2.0, np.float32)
    c = np.empty(size, np.float32)
    bounds = np.linspace(0, size, threads + 1).astype(int)
    parts = [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        def run(op):
            if threads == 1:
                op(parts[0])
            else:
                list(pool.map(op, parts))

        def copy(s):
            np.copyto(c[s], a[s])

        def add(s):
            np.add(a[s], b[s], out=c[s])

        run(copy), run(add)  # first touch
        t_copy = _best_seconds(lambda: run(copy), tries)
        t_add = _best_seconds(lambda: run(add), tries)
    return {"copy": 2 * a.nbytes / t_copy / 1e9, "add": 3 * a.nbytes / t_add / 1e9}


def measure(gemm_n: int = 2048, bandwidth_mb: float = 256, threads=(1, 2),
            tries: int = 3) -> Roof:
    """The roof of this machine now: GEMM and bandwidth on each of `threads` (those above
    the machine's CPU count are left out). Takes about 3 s at the default sizes."""
    threads = [t for t in threads if t <= (os.cpu_count() or 1)] or [1]
    gemm, bw, details = {}, {}, {}
    for t in threads:
        gemm[t] = gemm_gflops(gemm_n, t, tries)
        parts = bandwidth_gbs(bandwidth_mb, t, tries)
        details[str(t)] = parts
        bw[t] = max(parts.values())
    return Roof(gemm, bw, gemm_n=gemm_n, bandwidth_mb=bandwidth_mb, details=details)


def load_or_measure(path: str | os.PathLike | None, **kwargs) -> Roof:
    """The roof saved at `path` by `benchmarks/run.py` for this run, else measured now."""
    if path and Path(path).exists():
        return Roof.from_dict(json.loads(Path(path).read_text()))
    return measure(**kwargs)


# ----------------------------------------------------------------------------- the work
def dense_macs(rows: int, d_in: int, d_out: int) -> int:
    """Multiply-adds of `x @ W` for `rows` rows (batch × any leading axes)."""
    return rows * d_in * d_out


def conv_macs(batch: int, out_positions: int, window: int, c_in: int, c_out: int,
              groups: int = 1) -> int:
    """Multiply-adds of a convolution: every output position (Ho·Wo, or Lo in 1-D) of every
    image takes `window` (kh·kw) taps of c_in / groups channels for each of c_out filters."""
    return batch * out_positions * window * (c_in // groups) * c_out


def recurrent_macs(batch: int, steps: int, d_in: int, units: int, gates: int) -> tuple[int, int]:
    """(input-product, recurrent-product) multiply-adds of a recurrent layer over `steps`:
    x_t W (d_in × gates·units) and h_{t-1} U (units × gates·units) at every step. gates:
    1 for SimpleRNN, 3 for GRU, 4 for LSTM."""
    g = gates * units
    return batch * steps * d_in * g, batch * steps * units * g


Gemm = tuple[int, int, int]  # (m, k, n): an (m × k) by (k × n) matrix product, m·k·n multiply-adds


@dataclass
class LayerGemms:
    """The matrix products of one layer call, as an im2col + BLAS engine runs them."""

    forward: list = field(default_factory=list)
    input_grad: list = field(default_factory=list)  # dL/dinput (when the input needs one)
    weight_grad: list = field(default_factory=list)  # dL/dweights (when the layer learns)
    internal: list = field(default_factory=list)  # what the backward always needs (BPTT)


def layer_gemms(layer, in_shape: tuple, out_shape: tuple, batch: int) -> LayerGemms:
    """The matrix products of one call of a scratch layer on a batch of `batch` (shapes from
    the symbolic graph, batch axis None): a Dense layer's on its rows; a convolution's on its
    im2col matrix (rows = output positions, columns = kh·kw·C/g taps), one per group; a
    recurrent layer's input product of all steps at once and its recurrent product per step."""
    from scratch.layers import GRU, LSTM, Conv1D, Conv2D, Dense, SimpleRNN

    def rows(shape):
        return batch * math.prod(d for d in shape[1:-1])

    if isinstance(layer, Dense):
        r, i, o = rows(in_shape), in_shape[-1], layer.units
        return LayerGemms([(r, i, o)], [(r, o, i)], [(i, r, o)])
    if isinstance(layer, (Conv1D, Conv2D)):
        kernel = layer.params["kernel"]
        groups = getattr(layer, "groups", 1)
        m = batch * math.prod(out_shape[1:-1])
        k, n = math.prod(kernel.shape[:-2]) * (in_shape[-1] // groups), kernel.shape[-1] // groups
        return LayerGemms([(m, k, n)] * groups, [(m, n, k)] * groups, [(k, m, n)] * groups)
    if isinstance(layer, (SimpleRNN, GRU, LSTM)):
        gates = {SimpleRNN: 1, GRU: 3, LSTM: 4}[type(layer)]
        steps, d, units = in_shape[1], in_shape[2], layer.units
        g, nt = gates * units, batch * steps
        return LayerGemms([(nt, d, g)] + [(batch, units, g)] * steps, [(nt, g, d)],
                          [(d, nt, g), (units, nt, g)], [(batch, g, units)] * steps)
    return LayerGemms()


def _graph_gemms(model, batch: int, training: bool, input_needs_grad: bool,
                 trainable: bool) -> list:
    from scratch.layers import InputLayer
    from scratch.models import Model

    out: list = []
    needs_grad: dict[int, bool] = {}  # id(KerasTensor) → whether backward must reach it
    for node in model._nodes:
        layer = node.layer
        if isinstance(layer, InputLayer):
            for t in node.outputs:
                needs_grad[id(t)] = input_needs_grad
            continue
        in_grad = any(needs_grad.get(id(t), False) for t in node.inputs)
        learns = trainable and layer.trainable and bool(getattr(layer, "params", None))
        if isinstance(layer, Model):
            learns = trainable and layer.trainable
            out += _graph_gemms(layer, batch, training, in_grad, learns)
        else:
            w = layer_gemms(layer, node.inputs[0].shape, node.outputs[0].shape, batch)
            out += w.forward
            if training and (in_grad or learns):
                out += (w.input_grad if in_grad else []) + (w.weight_grad if learns else [])
                out += w.internal
        for t in node.outputs:
            needs_grad[id(t)] = in_grad or learns
    return out


def model_gemms(model, batch: int, training: bool = True,
                input_needs_grad: bool = False) -> list[Gemm]:
    """The matrix products (m, k, n) of one forward pass of a built scratch model on a batch
    of `batch`, or of one training step with `training`, in graph order (the backward's
    after the forward's of each layer; the order does not matter to their time). Nested
    models (a GAN's combined model) count with their own trainable flags; a frozen model
    still passes gradients through to what feeds it. `input_needs_grad`: the model's input
    gradient is wanted too (a model that another one feeds, counted alone)."""
    return _graph_gemms(model, batch, training, input_needs_grad=input_needs_grad,
                        trainable=model.trainable)


def model_flops(model, batch: int, training: bool = True,
                input_needs_grad: bool = False) -> int:
    """FLOPs (2 × multiply-adds) of one forward pass of a built scratch model on a batch of
    `batch`, or of one training step (forward and backward) with `training`: those of its
    matrix products (`model_gemms`), counted as the module docstring says."""
    return gemm_flops(model_gemms(model, batch, training, input_needs_grad))


def gemm_flops(shapes: list[Gemm]) -> int:
    """2 · Σ m·k·n."""
    return 2 * sum(m * k * n for m, k, n in shapes)


def gemm_runner(shapes: list[Gemm], dtype=np.float32, rng=None) -> Callable[[], None]:
    """A function that runs the matrix products `shapes` (random operands of `dtype` made
    once, outputs written in place) one after the other: how long a workload's products alone take
    on this machine's BLAS, the floor under any engine that computes them by GEMM. Equal
    shapes share their operands (a recurrent layer's T step products), so a long sequence
    stays within its step's cache footprint, as the real loop does."""
    rng = np.random.default_rng(0) if rng is None else rng
    operands: dict[Gemm, tuple] = {}
    for m, k, n in shapes:
        if (m, k, n) not in operands:
            operands[m, k, n] = (rng.standard_normal((m, k)).astype(dtype),
                                 rng.standard_normal((k, n)).astype(dtype),
                                 np.empty((m, n), dtype))
    calls = [operands[shape] for shape in shapes]

    def run() -> None:
        for a, b, out in calls:
            np.matmul(a, b, out=out)
    return run


def pool_bytes(x_shape: tuple, y_shape: tuple, itemsize: int = 4,
               backward: bool = True) -> int:
    """Least bytes a pooling must move: the forward reads x and writes y; the backward reads
    dy and x's winners (x again) and writes dx."""
    x, y = math.prod(x_shape) * itemsize, math.prod(y_shape) * itemsize
    return x + y + ((y + x + x) if backward else 0)


# ----------------------------------------------------------------------------- a row's rate
def achieved(work: float | None, seconds: float | None, kind: str, roof: Roof | None) -> dict:
    """{"rate": GFLOP/s or GB/s, "unit": ..., "roof_pct": {threads: % of the roof}}."""
    unit = "GFLOP/s" if kind == "flops" else "GB/s"
    if not work or not seconds:
        return {"rate": None, "unit": unit, "roof_pct": {}}
    rate = work / seconds / 1e9
    limits = {} if roof is None else (roof.gemm_gflops if kind == "flops" else roof.bandwidth_gbs)
    return {"rate": rate, "unit": unit,
            "roof_pct": {str(t): 100.0 * rate / v for t, v in sorted(limits.items()) if v}}


def fmt_rate(rate: float | None) -> str:
    if rate is None:
        return "n/a"
    if rate >= 10:
        return f"{rate:.0f}"
    if rate >= 0.1:
        return f"{rate:.2f}"
    return f"{rate:.1e}"
