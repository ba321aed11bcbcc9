"""Which CPU tier the engine's arithmetic runs on: NumPy's SIMD dispatch and Numba's target.

NumPy compiles some loops (exp, log, tanh, power, sin, cos, ... in float32 and float64)
several times, for x86-64-v3 (AVX2 + FMA) and x86-64-v4 (AVX-512), and picks one when it is
imported, by the CPU at hand; below v3 it calls the C library. The routines round
differently, so the last bit of `np.exp(x)` can change with the machine (docs/PORTABILITY.md
lists which functions, measured). Numba compiles its kernels for the CPU it runs on but
calls the C library for exp and log, and never reorders floating-point operations (no
fastmath), so its results do not change with the tier.

All three can be forced down on any machine, which is how the tests check the lower tiers
(`forced_env`; NumPy 2.4's names):

    x86-64-v3: NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR"
               NUMBA_CPU_NAME=x86-64-v3  OPENBLAS_CORETYPE=Haswell
    x86-64-v2: NPY_DISABLE_CPU_FEATURES="X86_V3 X86_V4 AVX512_ICL AVX512_SPR"
               NUMBA_CPU_NAME=x86-64-v2  OPENBLAS_CORETYPE=Nehalem

    python -m scratch.cpu_tier x86-64-v2 -- python -m pytest tests    # a command on a tier

    >>> from scratch import cpu_tier
    >>> cpu_tier.describe()        # e.g.
    'NumPy dispatch x86-64-v4 (X86_V3 X86_V4 AVX512_ICL AVX512_SPR), Numba target sapphirerapids'
"""

from __future__ import annotations

import os
import platform
import sys

import numpy as np

__all__ = ["TIERS", "numpy_dispatch", "numpy_tier", "numpy_exp_log_is_c_library",
           "numba_target", "describe", "lower_tiers", "forced_env"]

TIERS = ("x86-64-v2", "x86-64-v3", "x86-64-v4")
# OpenBLAS picks its kernels by CPU too; these cores use no instruction above the tier.
_OPENBLAS_CORES = {"x86-64-v2": "Nehalem", "x86-64-v3": "Haswell"}


def _x86_tier_of(feature: str) -> str:
    """The x86-64 tier a NumPy feature or dispatch target belongs to."""
    if feature.startswith(("AVX512", "X86_V4")):
        return "x86-64-v4"
    if feature in ("X86_V3", "AVX", "AVX2", "FMA3", "F16C", "FMA4", "XOP"):
        return "x86-64-v3"
    return "x86-64-v2"


def _numpy_features() -> tuple[dict[str, bool], list[str], list[str]]:
    """(features found and enabled, baseline, dispatch targets) as NumPy reports them."""
    from numpy._core._multiarray_umath import (
        __cpu_baseline__,
        __cpu_dispatch__,
        __cpu_features__,
    )
    return __cpu_features__, list(__cpu_baseline__), list(__cpu_dispatch__)


def numpy_dispatch() -> list[str]:
    """The dispatch targets NumPy uses on this machine (found, and not disabled by
    NPY_DISABLE_CPU_FEATURES), e.g. ['X86_V3', 'X86_V4', 'AVX512_ICL', 'AVX512_SPR']."""
    features, _, dispatch = _numpy_features()
    return [name for name in dispatch if features.get(name, False)]


def numpy_tier() -> str:
    """'x86-64-v4', 'x86-64-v3' or 'x86-64-v2' for x86-64 (the highest tier NumPy dispatches
    to), else the machine's name (e.g. 'aarch64')."""
    machine = platform.machine().lower()
    if machine not in ("x86_64", "amd64"):
        return machine
    return max([_x86_tier_of(name) for name in numpy_dispatch()], default="x86-64-v2")


def numpy_exp_log_is_c_library(dtype) -> bool:
    """Whether NumPy's exp and log for `dtype` are the C library's (as in Numba's kernels)
    on this machine. Measured on NumPy 2.4 (docs/PORTABILITY.md): float64 exp/log have
    their own routines on x86-64-v4 only; float32 exp/log on x86-64-v3 and v4."""
    tier = numpy_tier()
    if not tier.startswith("x86-64"):
        return False  # not measured: assume NumPy's own SIMD routines
    if np.dtype(dtype) == np.float64:
        return tier < "x86-64-v4"
    return tier < "x86-64-v3"


def numba_target() -> str:
    """The CPU Numba compiles for: NUMBA_CPU_NAME if set, else the host's name."""
    from numba.core import config
    if config.CPU_NAME:
        return config.CPU_NAME
    import llvmlite.binding as llvm
    return llvm.get_host_cpu_name()


def describe() -> str:
    """One line for logs, the demo and benchmark headers."""
    dispatch = " ".join(numpy_dispatch()) or "baseline only"
    return f"NumPy dispatch {numpy_tier()} ({dispatch}), Numba target {numba_target()}"


def lower_tiers() -> list[str]:
    """The x86-64 tiers below this machine's, highest first, which `forced_env` emulates."""
    return [tier for tier in TIERS[::-1] if tier < numpy_tier()]


def forced_env(tier: str) -> dict[str, str]:
    """The environment that makes NumPy, Numba and OpenBLAS compute as on `tier`, a tier at
    or below this machine's (x86-64 only): NumPy's dispatch targets above it disabled."""
    if tier not in TIERS:
        raise ValueError(f"`tier` must be one of {TIERS}. Received: tier={tier!r}")
    native = numpy_tier()
    if native not in TIERS or tier > native:
        raise ValueError(f"This machine computes on {native}; a tier can only be forced "
                         f"down. Received: tier={tier!r}")
    _, _, dispatch = _numpy_features()
    above = [name for name in dispatch if _x86_tier_of(name) > tier]
    env = {"NUMBA_CPU_NAME": tier}
    if above:
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(above)
    if tier in _OPENBLAS_CORES:
        env["OPENBLAS_CORETYPE"] = _OPENBLAS_CORES[tier]
    return env


def main(argv: list[str]) -> int:
    """`python -m scratch.cpu_tier`: print the tier; with `TIER -- COMMAND...`, run COMMAND
    with that tier forced (exit status: the command's)."""
    if not argv:
        print(describe())
        return 0
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m scratch.cpu_tier [TIER -- COMMAND...]   (TIER: "
              + ", ".join(TIERS) + ")", file=sys.stderr)
        return 2
    try:
        env = forced_env(argv[0])
    except ValueError as e:
        print(e, file=sys.stderr)
        return 2
    print(f"== {argv[0]}: " + " ".join(f"{k}={v!r}" for k, v in env.items()), flush=True)
    os.execvpe(argv[2], argv[2:], {**os.environ, **env})


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
