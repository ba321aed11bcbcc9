"""Measure which parity claims hold on which CPU tier: the README's tier column.

    python benchmarks/parity_by_tier.py            # every tier at or below this machine's
    python benchmarks/parity_by_tier.py --here     # this process' tier only (JSON)

Each tier runs in its own process with NumPy's dispatch, Numba's target and OpenBLAS' kernels
forced down (`scratch.cpu_tier.forced_env`). Differences are counted in ulps (units in the
last place of the dtype): 0 means bit-identical. Rows:

* optimizers and schedules against tf.keras, float32, 25 steps on continuous gradients;
* NumPy's exp / log / tanh against the C library's (what Numba's kernels call), 10⁵ values;
* the cross-entropies' Numba twins against their readable NumPy code (value and gradient);
* sigmoid and tanh activations, Dense forward, against tf.keras (NumPy/BLAS vs Eigen).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def ulps(a, b) -> int:
    """The largest distance in ulps between two arrays of one float dtype (NaNs equal)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    width = {4: np.int32, 8: np.int64}[a.itemsize]
    ia, ib = a.view(width).astype(np.int64), b.view(width).astype(np.int64)
    # map the sign-magnitude bit patterns onto one ordered integer line
    ia = np.where(ia < 0, np.iinfo(width).min - ia, ia)
    ib = np.where(ib < 0, np.iinfo(width).min - ib, ib)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    d = np.where(same, 0, np.abs(ia - ib))
    return int(d.max(initial=0))


def _optimizer_rows(tf) -> dict[str, int]:
    from scratch import optimizers
    from scratch.optimizers import schedules

    keras = tf.keras

    def pair(name, make):
        return name, make(optimizers, schedules), make(keras.optimizers,
                                                        keras.optimizers.schedules)

    cases = [
        pair("Adam", lambda o, s: o.Adam(0.01)),
        pair("AdamW amsgrad", lambda o, s: o.AdamW(0.01, amsgrad=True)),
        pair("SGD nesterov + ExponentialDecay", lambda o, s: o.SGD(
            s.ExponentialDecay(0.1, 3, 0.7), momentum=0.9, nesterov=True)),
        pair("RMSprop centered + CosineDecay", lambda o, s: o.RMSprop(
            s.CosineDecay(0.01, 20, alpha=0.1), centered=True, momentum=0.5)),
        pair("Adagrad + PolynomialDecay", lambda o, s: o.Adagrad(
            s.PolynomialDecay(0.05, 20, power=1.7))),
    ]
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal((25, 7, 5)).astype(np.float32),
             rng.standard_normal((25, 5)).astype(np.float32)]
    start = [rng.standard_normal((7, 5)).astype(np.float32), np.zeros(5, np.float32)]
    rows = {}
    for name, ours, theirs in cases:
        w = [s.copy() for s in start]
        kw = [tf.Variable(s) for s in start]
        for t in range(25):
            ours.apply_gradients([(g[t], v) for g, v in zip(grads, w)])
            theirs.apply_gradients([(tf.constant(g[t]), v) for g, v in zip(grads, kw)])
        rows[f"{name}: weights after 25 steps"] = max(
            ulps(a, b.numpy()) for a, b in zip(w, kw))
    steps = range(200)
    for name, ours, theirs in [
        pair("ExponentialDecay", lambda o, s: s.ExponentialDecay(0.1, 7, 0.93)),
        pair("PolynomialDecay", lambda o, s: s.PolynomialDecay(0.1, 150, power=2.3)),
        pair("CosineDecay", lambda o, s: s.CosineDecay(0.1, 150, alpha=0.05)),
    ]:
        got = np.array([ours(s) for s in steps])
        want = np.array([np.asarray(theirs(s)) for s in steps])
        rows[f"{name}: 200 steps"] = ulps(got, want)
    return rows


def _numpy_rows() -> dict[str, int]:
    from numba import njit

    @njit
    def c_library(x, u, e, l, t):
        for i in range(x.size):
            e[i] = np.exp(x[i])
            l[i] = np.log(u[i])
            t[i] = np.tanh(x[i])

    rows = {}
    for dtype in ("float32", "float64"):
        x = (np.random.default_rng(1).standard_normal(100_000) * 10).astype(dtype)
        u = np.abs(x) + x.dtype.type(1e-3)
        e, l, t = np.empty_like(x), np.empty_like(x), np.empty_like(x)
        c_library(x, u, e, l, t)
        rows[f"NumPy exp vs C library ({dtype})"] = ulps(np.exp(x), e)
        rows[f"NumPy log vs C library ({dtype})"] = ulps(np.log(u), l)
        rows[f"NumPy tanh vs C library ({dtype})"] = ulps(np.tanh(x), t)
    return rows


def _fast_vs_readable_rows() -> dict[str, int]:
    from scratch import losses

    rows = {}
    rng = np.random.default_rng(2)
    for dtype in ("float32", "float64"):
        z = (rng.standard_normal((64, 10)) * 5).astype(dtype)
        y = rng.integers(0, 10, 64)
        fast = losses.SparseCategoricalCrossentropy(from_logits=True)
        readable = losses.SparseCategoricalCrossentropy(from_logits=True)
        readable.fast_path = False
        (v1, g1), (v2, g2) = fast.value_and_grad(y, z), readable.value_and_grad(y, z)
        rows[f"SCCE on logits, Numba vs NumPy ({dtype})"] = max(
            ulps(np.asarray(v1), np.asarray(v2)), ulps(g1, g2))
    return rows


def _activation_rows(tf) -> dict[str, int]:
    import scratch

    rows = {}
    x = (np.random.default_rng(3).standard_normal(100_000) * 5).astype(np.float32)
    for name in ("sigmoid", "tanh"):
        ours = np.asarray(scratch.activations.get(name)(x))
        theirs = tf.keras.activations.get(name)(tf.constant(x)).numpy()
        rows[f"{name} vs tf.keras (float32)"] = ulps(ours, theirs)
    layer = scratch.layers.Dense(64)
    layer.build((None, 300))
    klayer = tf.keras.layers.Dense(64)
    klayer.build((None, 300))
    klayer.set_weights(layer.get_weights())
    xs = np.random.default_rng(4).standard_normal((128, 300)).astype(np.float32)
    ours, theirs = layer.forward(xs), klayer(xs).numpy()
    relative = float(np.max(np.abs(ours - theirs)) / max(1.0, np.max(np.abs(theirs))))
    rows["Dense(64) forward vs tf.keras (float32), relative, not ulps"] = f"{relative:.1e}"
    return rows


def measure_here() -> dict:
    import tensorflow as tf

    from scratch import cpu_tier
    from scratch._threads import limit_blas_threads

    limit_blas_threads(1)
    rows = {**_optimizer_rows(tf), **_numpy_rows(), **_fast_vs_readable_rows(),
            **_activation_rows(tf)}
    return {"tier": cpu_tier.numpy_tier(), "describe": cpu_tier.describe(), "rows": rows}


def main() -> int:
    if "--here" in sys.argv:
        print(json.dumps(measure_here()))
        return 0
    from scratch import cpu_tier

    tiers = [t for t in cpu_tier.TIERS if t <= cpu_tier.numpy_tier()][::-1]
    results = []
    for tier in tiers:
        env = {**os.environ, **cpu_tier.forced_env(tier)}
        out = subprocess.run([sys.executable, __file__, "--here"], env=env, check=True,
                             capture_output=True, text=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"# {tier}: {results[-1]['describe']}")
    print("\nmax difference in ulps (0 = bit-identical)\n")
    print("| what | " + " | ".join(r["tier"] for r in results) + " |")
    print("|---|" + "---|" * len(results))
    for row in results[0]["rows"]:
        print(f"| {row} | " + " | ".join(str(r["rows"][row]) for r in results) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
