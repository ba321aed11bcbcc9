"""The same bits on every CPU tier: `scalar_math` and `cpu_tier` (docs/PORTABILITY.md).

* `scalar_math.pow` / `cos` give tf.pow's / tf.cos' bits on one-element float32 and float64
  tensors, the subnormal range included (TensorFlow flushes it to zero), where `np.power` and
  `np.cos` do not on every tier.
* Run under each tier at or below this machine's in subprocesses (`cpu_tier.forced_env`),
  the optimizers' and schedules' numbers stay bit-identical, while NumPy's own `np.power`
  and `np.exp` move: the tier switch works, and the engine does not follow it.
* `cpu_tier.numpy_exp_log_is_c_library` says truthfully, on this tier, whether NumPy's exp
  and log are the C library's (what Numba's kernels call): the claim the fast-vs-readable
  tests rest on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from numba import njit

from scratch import cpu_tier, scalar_math

BETAS = [0.9, 0.999, 0.99, 0.5, 0.87, 0.993, 0.1, 0.9999]
# Exponents 1..1199 reach float32's subnormal range for β = 0.9 (t ≥ 829) and 0.5, 0.1.
STEPS = np.arange(1, 1200)
ANGLES = np.linspace(0.0, np.pi, 701)



@pytest.mark.parity
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pow_and_cos_are_tensorflows_bits(tf, dtype):
    dt = np.dtype(dtype).type
    for beta in BETAS:
        b = dt(np.float32(beta))
        ours = np.array([scalar_math.pow(b, dt(t)) for t in STEPS])
        theirs = np.array([tf.pow(tf.constant(b), tf.constant(dt(t))).numpy() for t in STEPS])
        assert ours.dtype == theirs.dtype == dtype
        assert np.array_equal(ours, theirs), f"β={beta}: {np.sum(ours != theirs)} differ"
    x = ANGLES.astype(dtype)
    ours = np.array([scalar_math.cos(v) for v in x])
    theirs = np.array([tf.cos(tf.constant(v)).numpy() for v in x])
    assert np.array_equal(ours, theirs), f"cos: {np.sum(ours != theirs)} differ"


def test_pow_flushes_subnormals_and_keeps_the_dtype():
    tiny = np.finfo(np.float32).tiny
    assert scalar_math.pow(np.float32(0.9), np.float32(900)) == 0  # 1.4e-41 is subnormal
    assert scalar_math.pow(np.float32(0.9), np.float32(800)) > tiny
    assert scalar_math.pow(np.float32(tiny / 4), np.float32(0.5)) == 0  # subnormal in: 0
    assert scalar_math.pow(np.float32(2), np.float32(200)) == np.inf
    assert type(scalar_math.pow(np.float32(0.9), np.float32(2))) is np.float32
    assert type(scalar_math.cos(np.float64(1.0))) is np.float64
    assert scalar_math.pow(np.float64(0.5), 3) == 0.125
    with pytest.raises(TypeError, match="Received"):
        scalar_math.pow(np.float16(0.5), np.float16(2))


_PROBE = """
import json, numpy as np
from scratch import optimizers, scalar_math, cpu_tier
from scratch.optimizers import schedules
b = np.float32(0.9)
w = [np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)]
opts = [optimizers.Adam(0.01), optimizers.RMSprop(schedules.ExponentialDecay(0.1, 3, 0.7)),
        optimizers.SGD(schedules.CosineDecay(0.1, 7), momentum=0.9, nesterov=True)]
weights = []
for opt in opts:
    v = [a.copy() for a in w]
    for k in range(12):
        opt.apply_gradients([(v[0] * np.float32(0.3) - np.float32(0.01 * k), v[0])])
    weights.append(v[0].tobytes().hex())
print(json.dumps({
    "tier": cpu_tier.numpy_tier(),
    "engine": [scalar_math.pow(b, np.float32(t)).tobytes().hex() for t in range(1, 400)]
              + [scalar_math.cos(np.float32(x)).tobytes().hex() for x in np.linspace(0, 3, 99)]
              + weights,
    # float32 power moves from v3 to v4, exp from v2 to v3: together they change per tier
    "numpy": np.power(b, np.arange(1, 400, dtype=np.float32)).tobytes().hex()
             + np.exp(np.linspace(-9, 9, 999, dtype=np.float32)).tobytes().hex(),
}))
"""


def _probe(env_extra: dict) -> dict:
    env = {**os.environ, **env_extra}
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True,
                         text=True, check=True, timeout=300)
    return json.loads(out.stdout)


@pytest.mark.skipif(cpu_tier.numpy_tier() not in cpu_tier.TIERS,
                    reason="the tiers are x86-64's")
def test_engine_bits_do_not_follow_numpys_dispatch_tier():
    """On an AVX-512 machine three processes, on AVX2 two (under `make test-tiers`' forced
    x86-64-v2, only that one: the native run compares them all)."""
    native = cpu_tier.numpy_tier()
    tiers = [native, *cpu_tier.lower_tiers()]
    runs = {tier: _probe(cpu_tier.forced_env(tier)) for tier in tiers}
    assert [run["tier"] for run in runs.values()] == tiers  # the switch works
    numpy_bits = [run["numpy"] for run in runs.values()]
    assert len(set(numpy_bits)) == len(numpy_bits)  # and NumPy's own bits follow it
    for tier, run in runs.items():
        assert run["engine"] == runs[native]["engine"], f"{tier} differs from {native}"


def test_forced_env_only_goes_down():
    with pytest.raises(ValueError, match="Received: tier='x86-64-v9'"):
        cpu_tier.forced_env("x86-64-v9")
    env = cpu_tier.forced_env("x86-64-v2")
    assert env["NUMBA_CPU_NAME"] == "x86-64-v2" and env["OPENBLAS_CORETYPE"] == "Nehalem"


@njit(cache=True)
def _c_exp_log(x, u, out_exp, out_log):
    for i in range(x.size):
        out_exp[i] = np.exp(x[i])
        out_log[i] = np.log(u[i])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cpu_tier_knows_whether_numpys_exp_log_are_the_c_librarys(dtype):
    x = (np.random.default_rng(0).standard_normal(20001) * 20).astype(dtype)
    u = np.abs(x) + x.dtype.type(1e-3)  # in x's dtype (Numba would widen `+ 1` to float64)
    e, l = np.empty_like(x), np.empty_like(x)
    _c_exp_log(x, u, e, l)
    same = np.array_equal(e, np.exp(x)) and np.array_equal(l, np.log(u))
    assert same == cpu_tier.numpy_exp_log_is_c_library(dtype), cpu_tier.describe()


def test_describe_names_the_tier_and_numbas_target():
    text = cpu_tier.describe()
    assert text.startswith("NumPy dispatch ") and "Numba target " in text
    assert cpu_tier.numpy_tier() in text and cpu_tier.numba_target() in text


def test_without_a_c_library_the_fallback_is_within_one_ulp(monkeypatch):
    """Where no C library opens, pow and cos come from Python's float64 `math`, rounded:
    the docstring's "within 1 ulp of the C library" claim, measured here."""
    b = np.float32(0.87)
    with_c = [scalar_math.pow(b, np.float32(t)) for t in STEPS[:600]]
    with_c += [scalar_math.cos(np.float32(x)) for x in ANGLES]
    monkeypatch.setattr(scalar_math, "_c_function", lambda name, dtype: None)
    fallback = [scalar_math.pow(b, np.float32(t)) for t in STEPS[:600]]
    fallback += [scalar_math.cos(np.float32(x)) for x in ANGLES]
    gap = np.abs(np.array(with_c).view(np.int32).astype(np.int64)
                 - np.array(fallback).view(np.int32).astype(np.int64))
    assert gap.max() <= 1
