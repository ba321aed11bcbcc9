"""How the cost grows with the work: time against batch size, width and sequence length.

    python benchmarks/scaling.py                  # Dense, Conv2D, LSTM; both engines (~3 min)
    python benchmarks/scaling.py --layers lstm --xla
    python benchmarks/scaling.py --tiny --no-tf   # a few tiny points (what the smoke test runs)

For each layer, one axis at a time moves while the others stay at the base size:

| layer  | batch                 | width                           | length                      |
|--------|-----------------------|---------------------------------|-----------------------------|
| Dense  | rows of x (base 128)  | d_in = units (base 256)         | T of an (N, T, d) input (1) |
| Conv2D | images (base 32)      | channels in = filters (base 32) | image side, 3×3 'same' (32) |
| LSTM   | sequences (base 64)   | units (base 128), 32 features   | time steps (base 28)        |

Each point times one layer's forward and backward (dL/dx and the weight gradients for a
given cotangent), as `bench_cnn.py`'s Conv2D row does: scratch's `forward` + `backward`
against tf.keras' layer (the same weights) under `tf.GradientTape` in a `tf.function`, and
with ``--xla`` the same function with ``jit_compile=True``. A point is the median of
`--repeats` repeats, each the mean of enough calls to last `--min-time` seconds; scratch's
process uses one BLAS thread (its convolution splits large batches over two threads itself,
the engine's policy); tf.keras its own threads. FLOPs are counted as in `roof.py`, so the
JSON also gives each point's GFLOP/s.

Writes ``OUT/scaling.png`` (a 3 × 3 grid of log-log plots: rows are the layers, columns the
axes; the dotted gray line is the time at a constant GFLOP/s, through scratch's middle point,
so a curve parallel to it costs in proportion to the work and one below it gets more
efficient with size) and ``OUT/scaling.json``. Machines
are shared and noisy: read the slopes and the gap between the lines, not single points.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
if importlib.util.find_spec("scratch") is None:  # a checkout that was not `pip install -e`d
    sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))  # roof, record

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
from roof import conv_macs, dense_macs, recurrent_macs  # noqa: E402

AXES = ("batch", "width", "length")
LAYERS = ("dense", "conv2d", "lstm")
BASE = {"dense": {"batch": 128, "width": 256, "length": 1},
        "conv2d": {"batch": 32, "width": 32, "length": 32},
        "lstm": {"batch": 64, "width": 128, "length": 28}}
SWEEP = {"dense": {"batch": [16, 32, 64, 128, 256, 512, 1024],
                   "width": [32, 64, 128, 256, 512, 1024],
                   "length": [1, 4, 16, 64]},
         "conv2d": {"batch": [4, 8, 16, 32, 64, 128],
                    "width": [8, 16, 32, 64, 128],
                    "length": [8, 16, 32, 64]},
         "lstm": {"batch": [8, 16, 32, 64, 128, 256],
                  "width": [16, 32, 64, 128, 256, 512],
                  "length": [8, 16, 28, 64, 128]}}
TINY_BASE = {"dense": {"batch": 4, "width": 8, "length": 1},
             "conv2d": {"batch": 2, "width": 2, "length": 4},
             "lstm": {"batch": 2, "width": 4, "length": 3}}
TINY_SWEEP = {layer: {axis: [v, 2 * v] for axis, v in base.items()}
              for layer, base in TINY_BASE.items()}
LSTM_FEATURES, TINY_LSTM_FEATURES = 32, 3


# ----------------------------------------------------------------------------- one point
def point_shape(layer: str, size: dict, features: int) -> tuple:
    """Input shape of a point (channels-last)."""
    n, w, t = size["batch"], size["width"], size["length"]
    if layer == "dense":
        return (n, w) if t == 1 else (n, t, w)
    if layer == "conv2d":
        return (n, t, t, w)
    return (n, t, features)


def point_flops(layer: str, size: dict, features: int) -> int:
    """FLOPs of forward + backward (input and weight gradients): 3 × the forward's products
    for Dense and Conv2D; for the LSTM the forward's two products, then dx (input product),
    dW and dU (both) and the gradient through time (recurrent product)."""
    n, w, t = size["batch"], size["width"], size["length"]
    if layer == "dense":
        return 2 * 3 * dense_macs(n * t, w, w)
    if layer == "conv2d":
        return 2 * 3 * conv_macs(n, t * t, 9, w, w)
    x_part, h_part = recurrent_macs(n, t, features, w, 4)
    return 2 * 3 * (x_part + h_part)


def make_layer(keras, layer: str, width: int):
    if layer == "dense":
        return keras.layers.Dense(width)
    if layer == "conv2d":
        return keras.layers.Conv2D(width, (3, 3), padding="same")
    return keras.layers.LSTM(width)


def point_functions(layer: str, size: dict, features: int, tf, xla: bool, rng):
    """(scratch, tf.keras, tf.keras XLA) functions of one point (None where not timed)."""
    import scratch

    x = rng.standard_normal(point_shape(layer, size, features)).astype(np.float32)
    s_layer = make_layer(scratch, layer, size["width"])
    s_layer.build(x.shape)
    dy = rng.standard_normal(s_layer.compute_output_shape(x.shape)).astype(np.float32)

    def s_fn():
        s_layer.forward(x, training=True)
        s_layer.backward(dy)

    if tf is None:
        return s_fn, None, None
    k_layer = make_layer(tf.keras, layer, size["width"])
    k_layer.build(x.shape)
    k_layer.set_weights(s_layer.get_weights())
    xt, dyt = tf.constant(x), tf.constant(dy)

    def body(a, g):
        with tf.GradientTape() as tape:
            tape.watch(a)
            y = k_layer(a, training=True)
        return tape.gradient(y, [a] + k_layer.trainable_weights, output_gradients=g)

    plain = tf.function(body, autograph=False)
    fast = tf.function(body, autograph=False, jit_compile=True) if xla else None
    return (s_fn, lambda: [v.numpy() for v in plain(xt, dyt)],
            fast and (lambda: [v.numpy() for v in fast(xt, dyt)]))


def time_point(fns: list[Callable | None], repeats: int, min_time: float) -> list:
    """Median seconds per call of each function; each repeat runs enough calls to last
    `min_time` (counted once, in the warm-up); the repeats alternate the engines."""
    counts = []
    for fn in fns:
        if fn is None:
            counts.append(0)
            continue
        fn(), fn()  # traces, compilations, first touch
        t0 = time.perf_counter()
        fn()
        once = max(time.perf_counter() - t0, 1e-7)
        counts.append(max(1, min(1000, int(min_time / once))))
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, k, ts in zip(fns, counts, times):
            if fn is None:
                continue
            t0 = time.perf_counter()
            for _ in range(k):
                fn()
            ts.append((time.perf_counter() - t0) / k)
    return [statistics.median(ts) if ts else None for ts in times]


# ----------------------------------------------------------------------------- the sweep
def run(layers=LAYERS, axes=AXES, tiny: bool = False, use_tf: bool = True, xla: bool = False,
        repeats: int = 3, min_time: float = 0.05, verbose: bool = True) -> list[dict]:
    """Every point of the sweep: dicts with the layer, axis, value, size, flops and the
    seconds of each engine (None where not timed)."""
    from scratch import _threads

    _threads.limit_blas_threads(1)
    tf = None
    if use_tf and importlib.util.find_spec("tensorflow") is not None:
        import tensorflow as tf
    base, sweep = (TINY_BASE, TINY_SWEEP) if tiny else (BASE, SWEEP)
    features = TINY_LSTM_FEATURES if tiny else LSTM_FEATURES
    rng = np.random.default_rng(0)
    points = []
    for layer in layers:
        for axis in axes:
            for value in sweep[layer][axis]:
                size = {**base[layer], axis: value}
                fns = point_functions(layer, size, features, tf, xla and tf is not None, rng)
                t_s, t_k, t_x = time_point(list(fns), repeats, min_time)
                flops = point_flops(layer, size, features)
                p = {"layer": layer, "axis": axis, "value": value, "size": size,
                     "input_shape": list(point_shape(layer, size, features)), "flops": flops,
                     "scratch": t_s, "tf": t_k, "tf_xla": t_x}
                points.append(p)
                if verbose:
                    def ms(t):
                        return "—" if t is None else f"{t * 1e3:.3f} ms"
                    gf = flops / t_s / 1e9
                    print(f"{layer:<7} {axis:<7} {value:>5}  scratch {ms(t_s):>12} "
                          f"({gf:6.1f} GFLOP/s)  tf.keras {ms(t_k):>12}"
                          + (f"  XLA {ms(t_x):>12}" if xla else ""), flush=True)
    return points


def plot(points: list[dict], path: Path, title: str = "") -> Path | None:
    """The 3 × 3 log-log grid (layers × axes) of the points; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import NullFormatter
    except ImportError:
        return None
    layers = [layer for layer in LAYERS if any(p["layer"] == layer for p in points)]
    axes = [a for a in AXES if any(p["axis"] == a for p in points)]
    fig, grid = plt.subplots(len(layers), len(axes), figsize=(4 * len(axes), 3.2 * len(layers)),
                             squeeze=False)
    labels = {"batch": "batch size", "width": "width (units / channels)",
              "length": "length (steps, image side)"}
    styles = {"scratch": ("o-", "scratch"), "tf": ("s--", "tf.keras"),
              "tf_xla": ("^:", "tf.keras XLA")}
    for i, layer in enumerate(layers):
        for j, axis in enumerate(axes):
            ax = grid[i][j]
            pts = [p for p in points if p["layer"] == layer and p["axis"] == axis]
            for key, (style, label) in styles.items():
                xy = [(p["value"], p[key]) for p in pts if p[key]]
                if xy:
                    ax.plot(*zip(*xy), style, label=label, markersize=4)
            # the time scratch would take at its middle point's GFLOP/s: the work's own slope
            mid = pts[len(pts) // 2]
            if mid["scratch"]:
                ax.plot([p["value"] for p in pts],
                        [p["flops"] * mid["scratch"] / mid["flops"] for p in pts],
                        color="gray", linestyle=":", linewidth=1, label="∝ FLOPs")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xticks([p["value"] for p in pts])
            ax.set_xticklabels([str(p["value"]) for p in pts])
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.yaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel(labels[axis], fontsize=8)
            ax.set_ylabel("seconds (fwd + bwd)", fontsize=8)
            ax.set_title(f"{layer}: {axis}", fontsize=9)
            ax.tick_params(labelsize=7)
            ax.grid(True, which="both", alpha=0.3)
            if i == 0 and j == 0:
                ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", nargs="+", default=list(LAYERS), choices=LAYERS)
    p.add_argument("--axes", nargs="+", default=list(AXES), choices=AXES)
    p.add_argument("--out", default="out", help="folder of scaling.png and scaling.json")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--min-time", type=float, default=0.05,
                   help="seconds each repeat of a point lasts at least")
    p.add_argument("--tiny", action="store_true", help="two tiny points per axis (a smoke test)")
    p.add_argument("--no-tf", action="store_true", help="scratch alone")
    p.add_argument("--xla", action="store_true", help="also tf.keras with jit_compile=True")
    args = p.parse_args(argv)
    if args.repeats < 1 or args.min_time < 0:
        p.error(f"--repeats expected a positive integer and --min-time a non-negative number. "
                f"Received: {args.repeats}, {args.min_time}")
    import record

    t0 = time.perf_counter()
    points = run(args.layers, args.axes, args.tiny, not args.no_tf, args.xla, args.repeats,
                 args.min_time)
    machine = record.machine_info()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = {"machine": machine, "points": points, "repeats": args.repeats,
            "min_time": args.min_time, "tiny": args.tiny, "blas_threads": 1}
    (out / "scaling.json").write_text(json.dumps(data, indent=1))
    png = plot(points, out / "scaling.png",
               f"forward + backward of one layer: {machine['cpu_model']}, "
               f"{machine['cpu_count']} CPUs")
    plotted = f" and {png}" if png else " (no matplotlib: no plot)"
    print(f"\nwrote {out / 'scaling.json'}{plotted} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
