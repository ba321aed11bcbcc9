"""Numerical test helpers: the one tolerance table, `assert_close`, `gradcheck` and
`assert_parity`.

The tolerance table below is the only place in the project where parity tolerances are
stated (docs/TESTING.md §The tolerance table). Parity tests name a *kind* of comparison
and a dtype; they never pass tolerances of their own. (Checks against closed-form values,
such as a layer's output for hand-picked weights, state their own exact bounds.)

``atol`` is scale-aware: ``atol = atol_factor * max(1, max|ref|)``, and the reference
(tf.keras, or the readable NumPy oracle) is always the ``desired`` argument.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np

# (rtol, atol_factor) per comparison kind and dtype.
TOLERANCES: dict[str, dict[str, tuple[float, float]]] = {
    "forward": {"float64": (1e-9, 1e-11), "float32": (1e-4, 1e-5)},
    "input_grad": {"float64": (1e-9, 1e-11), "float32": (1e-4, 1e-5)},
    "weight_grad": {"float64": (1e-9, 1e-10), "float32": (1e-4, 1e-4)},
    "weights_after_steps": {"float64": (1e-8, 1e-10), "float32": (1e-4, 1e-5)},
    "loss": {"float64": (1e-10, 1e-12), "float32": (1e-5, 1e-6)},
    "fast_vs_readable": {"float64": (1e-12, 1e-13), "float32": (1e-5, 1e-6)},
    # Whole training runs (fit over several epochs): trajectories drift slowly in float32.
    "training": {"float64": (1e-7, 1e-9), "float32": (1e-3, 1e-5)},
}

# Finite differences (float64 only): central differences along random directions.
GRADCHECK = {"eps": 1e-6, "rtol": 1e-5, "atol": 1e-7}


def tolerance(kind: str, dtype) -> tuple[float, float]:
    """Return (rtol, atol_factor) for a comparison kind and dtype."""
    try:
        return TOLERANCES[kind][np.dtype(dtype).name]
    except KeyError as e:
        raise ValueError(
            f"No tolerance for kind={kind!r}, dtype={np.dtype(dtype).name!r}. "
            f"Known kinds: {sorted(TOLERANCES)}"
        ) from e


class Closeness(NamedTuple):
    """How far an array is from its reference, judged by one kind of the tolerance table.

    ``ok`` is the verdict of `assert_close`; ``max_abs`` is the greatest |actual − ref| and
    ``max_rel`` the greatest |actual − ref| / |ref| (elements that are equal, NaN included,
    count 0; a NaN or ±inf in only one of them counts inf). ``worst_abs`` / ``worst_rel`` are
    the indices of those elements, ``n_bad`` the number of elements outside the tolerance.
    """

    ok: bool
    max_abs: float
    max_rel: float
    n_bad: int
    size: int
    rtol: float
    atol: float
    worst_abs: tuple
    worst_rel: tuple


def closeness(actual, ref, *, kind: str, dtype=None) -> Closeness:
    """Compare `actual` with the reference `ref` under the table's tolerance for `kind`.

    The same judgement as `assert_close` (the tolerance of `kind` and `dtype`, the absolute
    part scaled by max(1, max|ref|), NaN and ±inf in the same places), returned instead of
    raised. Shapes must agree exactly: a ValueError names both otherwise.
    """
    actual = np.asarray(actual)
    ref = np.asarray(ref)
    dtype = np.dtype(dtype if dtype is not None else ref.dtype)
    if actual.shape != ref.shape:
        raise ValueError(f"shape mismatch: {actual.shape} vs reference {ref.shape}.")
    rtol, atol_factor = tolerance(kind, dtype)
    a = actual.astype(np.float64)
    r = ref.astype(np.float64)
    if a.size == 0:
        return Closeness(True, 0.0, 0.0, 0, 0, rtol, atol_factor, (), ())
    scale = max(1.0, float(np.max(np.abs(r[np.isfinite(r)]), initial=0.0)))
    atol = atol_factor * scale
    bad = ~np.isclose(a, r, rtol=rtol, atol=atol, equal_nan=True)
    with np.errstate(invalid="ignore"):  # inf − inf, inf / inf: counted as inf
        abs_err = np.array(np.abs(a - r))
        abs_err[~np.isfinite(abs_err)] = np.inf
        abs_err[(a == r) | (np.isnan(a) & np.isnan(r))] = 0.0
        rel_err = np.array(abs_err / np.maximum(np.abs(r), np.finfo(np.float64).tiny))
    rel_err[abs_err == 0.0] = 0.0
    ia = tuple(int(i) for i in np.unravel_index(np.argmax(abs_err), a.shape))
    ir = tuple(int(i) for i in np.unravel_index(np.argmax(rel_err), a.shape))
    return Closeness(not bad.any(), float(abs_err[ia]), float(rel_err[ir]), int(bad.sum()),
                     int(a.size), rtol, atol, ia, ir)


def assert_close(actual, ref, *, kind: str, dtype=None, msg: str = "") -> None:
    """Assert `actual` matches the reference `ref` within the table's tolerance.

    Shapes must agree exactly. The failure message reports the number of mismatches and the
    index of the worst absolute and relative error (torch.testing style), plus `msg`.
    """
    actual = np.asarray(actual)
    ref = np.asarray(ref)
    dtype = np.dtype(dtype if dtype is not None else ref.dtype)
    if actual.shape != ref.shape:
        raise AssertionError(f"shape mismatch: {actual.shape} vs reference {ref.shape}. {msg}")
    c = closeness(actual, ref, kind=kind, dtype=dtype)
    if not c.ok:
        ia, ir = c.worst_abs, c.worst_rel
        raise AssertionError(
            f"{kind} ({dtype.name}) mismatch: {c.n_bad}/{c.size} elements "
            f"({100 * c.n_bad / c.size:.1f}%) outside rtol={c.rtol}, atol={c.atol:.3g}.\n"
            f"  greatest abs diff {c.max_abs:.3g} at {ia} "
            f"(actual {np.float64(actual[ia])!r}, ref {np.float64(ref[ia])!r})\n"
            f"  greatest rel diff {c.max_rel:.3g} at {ir}\n  {msg}"
        )


def gradcheck(
    fn: Callable[[Mapping[str, np.ndarray]], np.ndarray],
    inputs: Mapping[str, np.ndarray],
    grads: Callable[[np.ndarray], Mapping[str, np.ndarray]],
    *,
    seed: int = 0,
    n_directions: int = 3,
) -> None:
    """Finite-difference check of an analytic vector-Jacobian product, in float64.

    Args:
        fn: maps a dict of float64 arrays (inputs and parameters) to one output array.
        inputs: the point at which to check, as a dict of float64 arrays.
        grads: a callable `vjp(v) -> {name: dL/d(name)}` for the cotangent v
            (L = Σ v ⊙ fn(inputs)); every name in `inputs` must be present.
        seed: seeds the cotangent and the directions.

    For each of `n_directions` random unit directions u (one block per input), compares the
    central difference (vᵀf(θ+εu) − vᵀf(θ−εu)) / 2ε with Σ⟨vjp(v)[name], u[name]⟩, and then
    each input separately, so a failure names the tensor whose gradient is wrong.
    """
    eps, rtol, atol = GRADCHECK["eps"], GRADCHECK["rtol"], GRADCHECK["atol"]
    rng = np.random.default_rng(seed)
    point = {k: np.asarray(v, dtype=np.float64) for k, v in inputs.items()}
    y = np.asarray(fn(point))
    v = rng.standard_normal(y.shape)
    analytic = grads(v)
    missing = set(point) - set(analytic)
    if missing:
        raise AssertionError(f"gradcheck: vjp returned no gradient for {sorted(missing)}")

    def directional(name_u: dict[str, np.ndarray]) -> tuple[float, float]:
        plus = {k: point[k] + eps * name_u.get(k, 0.0) for k in point}
        minus = {k: point[k] - eps * name_u.get(k, 0.0) for k in point}
        numeric = (np.sum(v * fn(plus)) - np.sum(v * fn(minus))) / (2 * eps)
        exact = sum(float(np.sum(np.asarray(analytic[k]) * u)) for k, u in name_u.items())
        return float(numeric), exact

    for names in [list(point)] * n_directions + [[k] for k in point]:
        u = {k: rng.standard_normal(point[k].shape) for k in names if point[k].size}
        norm = np.sqrt(sum(float(np.sum(x * x)) for x in u.values())) or 1.0
        u = {k: x / norm for k, x in u.items()}
        numeric, exact = directional(u)
        if not np.isclose(exact, numeric, rtol=rtol, atol=atol):
            raise AssertionError(
                f"gradcheck failed along {names}: analytic {exact!r} vs "
                f"finite difference {numeric!r} (rtol={rtol}, atol={atol})"
            )


def assert_parity(model, x, y=None, *, steps: int = 3, **kwargs):
    """Assert that a model computes what tf.keras computes, layer by layer and step by step.

    Runs `keras_ref.compare(model, x, y, steps=steps, **kwargs)` (a scratch model, a tf.keras
    model or a `.keras` path; `sample_weight=`, `compile=`, `seed=` as there) and raises
    AssertionError when a row is outside its tolerance, with the first divergence (which
    layer, which quantity, which step) and the whole report as the message. Returns the
    `ParityReport` otherwise.

    Needs TensorFlow: keras_ref is imported here, on the first call, so `import scratch`
    never imports it.

        def test_my_model_matches_tf_keras():
            model = build_my_model()             # compiled: the loss drives the gradients
            assert_parity(model, x_batch, y_batch, steps=3)
    """
    from keras_ref.compare import compare

    report = compare(model, x, y, steps=steps, **kwargs)
    first = report.first_divergence
    if first is not None:
        raise AssertionError(f"scratch and tf.keras diverge. First divergence: "
                             f"{first.describe()}\n\n{report}")
    return report
