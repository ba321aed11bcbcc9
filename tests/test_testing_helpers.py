"""Unit tests for scratch/testing.py: the tolerance table, `assert_close` and `gradcheck`.

Every other test trusts these helpers, so each check here is shown to fail as well as pass.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratch import testing
from scratch.testing import (
    GRADCHECK,
    TOLERANCES,
    assert_close,
    closeness,
    gradcheck,
    tolerance,
)

from conftest import cheap

pytestmark = pytest.mark.unit

KINDS = sorted(TOLERANCES)
DTYPES = ["float32", "float64"]


# ---------------------------------------------------------------------------------------------
# The tolerance table


def test_every_kind_has_both_dtypes():
    for kind, by_dtype in TOLERANCES.items():
        assert set(by_dtype) == set(DTYPES), kind


def test_tolerances_are_positive_and_float64_is_tighter():
    for kind, by_dtype in TOLERANCES.items():
        for dtype, (rtol, atol_factor) in by_dtype.items():
            assert 0 < rtol < 1e-2 and 0 < atol_factor < 1e-2, (kind, dtype)
        r32, a32 = by_dtype["float32"]
        r64, a64 = by_dtype["float64"]
        assert r64 < r32 and a64 < a32, kind


def test_tolerance_accepts_any_dtype_spelling():
    assert tolerance("forward", np.float32) == TOLERANCES["forward"]["float32"]
    assert tolerance("forward", np.dtype("float64")) == TOLERANCES["forward"]["float64"]
    assert tolerance("loss", "float64") == TOLERANCES["loss"]["float64"]


def test_unknown_kind_is_an_error_naming_the_known_kinds():
    with pytest.raises(ValueError, match="kind='fwd'") as info:
        tolerance("fwd", "float32")
    assert "forward" in str(info.value)
    with pytest.raises(ValueError, match="Known kinds"):
        assert_close(np.ones(3), np.ones(3), kind="fwd")


def test_unknown_dtype_is_an_error():
    with pytest.raises(ValueError, match="float16"):
        tolerance("forward", "float16")
    x = np.ones(3, np.float16)
    with pytest.raises(ValueError, match="float16"):
        assert_close(x, x, kind="forward")


def test_gradcheck_settings_are_float64_sized():
    assert 1e-8 <= GRADCHECK["eps"] <= 1e-4
    assert 0 < GRADCHECK["rtol"] <= 1e-3 and 0 < GRADCHECK["atol"] <= 1e-5


# ---------------------------------------------------------------------------------------------
# assert_close


@cheap
@given(
    kind=st.sampled_from(KINDS),
    dtype=st.sampled_from(DTYPES),
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple),
    scale=st.sampled_from([1e-3, 1.0, 1e3]),
    seed=st.integers(0, 2**32 - 1),
)
def test_assert_close_passes_within_and_fails_outside_the_tolerance(
    kind, dtype, shape, scale, seed
):
    rng = np.random.default_rng(seed)
    ref = np.asarray(scale * rng.standard_normal(shape)).astype(dtype)
    rtol, atol_factor = tolerance(kind, dtype)
    atol = atol_factor * max(1.0, float(np.max(np.abs(ref), initial=0.0)))
    bound = atol + rtol * np.abs(ref.astype(np.float64))

    assert_close(ref.copy(), ref, kind=kind)
    # Half the allowed error everywhere passes ...
    inside = ref.astype(np.float64) + 0.5 * bound * rng.choice([-1.0, 1.0], size=shape)
    assert_close(inside, ref, kind=kind, dtype=dtype)
    # ... twice the allowed error at one element fails, and the message names that element.
    outside = ref.astype(np.float64)
    index = tuple(int(rng.integers(n)) for n in shape)
    outside[index] += 2.0 * bound[index]
    with pytest.raises(AssertionError, match="greatest abs diff") as info:
        assert_close(outside, ref, kind=kind, dtype=dtype)
    assert f"at {index}" in str(info.value)
    assert f"1/{ref.size} elements" in str(info.value)


def test_failure_reports_count_indices_and_message():
    ref = np.ones((3, 4))
    actual = ref.copy()
    actual[1, 2] += 0.5  # the greatest absolute error
    actual[2, 3] = 1.0 + 1e-6  # a smaller one, also out of the float64 tolerance
    with pytest.raises(AssertionError) as info:
        assert_close(actual, ref, kind="forward", msg="dense layer 3")
    text = str(info.value)
    assert "forward (float64) mismatch: 2/12 elements" in text
    assert "greatest abs diff 0.5 at (1, 2)" in text
    assert "greatest rel diff 0.5 at (1, 2)" in text
    assert "dense layer 3" in text


def test_closeness_returns_what_assert_close_judges():
    """The parity report's judgement: the verdict and the worst differences, as data."""
    ref = np.array([1.0, 2.0, np.nan, np.inf])
    same = closeness(ref.copy(), ref, kind="forward")
    assert same.ok and same.max_abs == 0.0 and same.max_rel == 0.0  # equal NaN, inf: 0
    actual = ref.copy()
    actual[1] = 2.5
    c = closeness(actual, ref, kind="forward")
    assert not c.ok and c.n_bad == 1 and c.size == 4
    assert (c.max_abs, c.max_rel, c.worst_abs, c.worst_rel) == (0.5, 0.25, (1,), (1,))
    assert (c.rtol, c.atol) == (TOLERANCES["forward"]["float64"][0],
                                TOLERANCES["forward"]["float64"][1] * 2.0)
    with pytest.raises(AssertionError, match="greatest abs diff 0.5 at \\(1,\\)"):
        assert_close(actual, ref, kind="forward")
    actual[2] = 0.0  # a NaN on one side only
    assert closeness(actual, ref, kind="forward").max_abs == np.inf
    with pytest.raises(ValueError, match="shape mismatch"):
        closeness(np.ones(2), np.ones(3), kind="forward")


def test_scalar_mismatch_is_reported_like_any_other():
    # Losses are 0-d: a mismatch must be an AssertionError with the usual report.
    assert_close(np.float64(0.25), np.float64(0.25), kind="loss")
    with pytest.raises(AssertionError, match=r"loss \(float64\) mismatch: 1/1 elements"):
        assert_close(np.float64(1.5), np.float64(1.0), kind="loss")
    with pytest.raises(AssertionError, match=r"greatest abs diff 0.5 at \(\)"):
        assert_close(np.array(1.5, np.float32), np.array(1.0, np.float32), kind="loss")


def test_relative_and_absolute_worst_can_differ():
    ref = np.array([100.0, 1e-3, 5.0])
    actual = np.array([100.1, 2e-3, 5.0])  # worst absolute: index 0; worst relative: index 1
    with pytest.raises(AssertionError) as info:
        assert_close(actual, ref, kind="forward")
    assert "greatest abs diff" in str(info.value) and "at (0,)" in str(info.value)
    assert re.search(r"greatest rel diff 1 at \(1,\)", str(info.value))


def test_atol_scales_with_the_reference_magnitude():
    # float32 forward: atol = 1e-5 * max(1, max|ref|). An error of 5e-3 at a zero of the
    # reference is noise next to 1000, and a real error next to 1.
    assert_close(np.array([1000.0, 5e-3]), np.array([1000.0, 0.0]), kind="forward", dtype="float32")
    with pytest.raises(AssertionError, match=r"atol=1e-05"):
        assert_close(np.array([1.0, 5e-3]), np.array([1.0, 0.0]), kind="forward", dtype="float32")
    # Scale never drops below 1: small references still get the full atol_factor.
    assert_close(np.array([5e-6]), np.array([0.0]), kind="forward", dtype="float32")


def test_dtype_defaults_to_the_reference_dtype():
    ref32 = np.array([1.0, 2.0], np.float32)
    actual = np.array([1.0 + 1e-6, 2.0])
    assert_close(actual, ref32, kind="forward")  # float32 tolerance
    with pytest.raises(AssertionError, match=r"\(float64\)"):
        assert_close(actual, ref32.astype(np.float64), kind="forward")


def test_shape_mismatch_is_reported_even_when_broadcastable():
    with pytest.raises(AssertionError, match=r"shape mismatch: \(3, 1\) vs reference \(3,\)"):
        assert_close(np.ones((3, 1)), np.ones(3), kind="forward")
    with pytest.raises(AssertionError, match="shape mismatch"):
        assert_close(np.float64(1.0), np.ones(1), kind="loss")


def test_nan_and_inf_must_match():
    ref = np.array([np.nan, np.inf, 1.0])
    assert_close(ref.copy(), ref, kind="forward")
    with pytest.raises(AssertionError):
        assert_close(np.array([0.0, np.inf, 1.0]), ref, kind="forward")
    with pytest.raises(AssertionError):
        assert_close(np.array([np.nan, -np.inf, 1.0]), ref, kind="forward")
    with pytest.raises(AssertionError):
        assert_close(np.array([1.0, 2.0]), np.array([1.0, np.nan]), kind="forward")


def test_empty_arrays_pass_when_shapes_agree():
    assert_close(np.zeros((0, 3)), np.zeros((0, 3)), kind="forward")
    with pytest.raises(AssertionError, match="shape mismatch"):
        assert_close(np.zeros((0, 3)), np.zeros((3, 0)), kind="forward")


# ---------------------------------------------------------------------------------------------
# gradcheck on y = tanh(x W + b)


def _dense_tanh(p):
    return np.tanh(p["x"] @ p["W"] + p["b"])


def _dense_tanh_vjp(p, wrong=None):
    """The vector-Jacobian product of `_dense_tanh`, optionally with a planted mistake."""

    def vjp(v):
        y = _dense_tanh(p)
        dz = v * (1.0 - y**2)
        grads = {"x": dz @ p["W"].T, "W": p["x"].T @ dz, "b": dz.sum(axis=0)}
        if wrong == "transposed_W":
            grads["W"] = grads["W"].T
        elif wrong == "sign_b":
            grads["b"] = -grads["b"]
        elif wrong == "no_activation_x":  # forgot tanh' in dx
            grads["x"] = v @ p["W"].T
        elif wrong == "missing_b":
            del grads["b"]
        return grads

    return vjp


def _point(seed, n=4, units=3):
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((n, units)),
        "W": rng.standard_normal((units, units)) / np.sqrt(units),  # square: .T has its shape
        "b": rng.standard_normal(units),
    }


@cheap
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 5), check_seed=st.integers(0, 100))
def test_gradcheck_passes_a_correct_gradient(seed, n, check_seed):
    p = _point(seed, n=n)
    gradcheck(_dense_tanh, p, _dense_tanh_vjp(p), seed=check_seed)


@pytest.mark.parametrize(
    "wrong, name",
    [("transposed_W", "W"), ("sign_b", "b"), ("no_activation_x", "x")],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradcheck_catches_a_wrong_gradient_and_names_it(wrong, name, seed):
    p = _point(seed)
    with pytest.raises(AssertionError, match=re.escape(f"gradcheck failed along ['{name}']")):
        # The joint directions would fail first; n_directions=0 goes straight to the per-input
        # checks, so the message must name the tensor whose gradient is wrong.
        gradcheck(_dense_tanh, p, _dense_tanh_vjp(p, wrong), n_directions=0)
    with pytest.raises(AssertionError, match="gradcheck failed"):
        gradcheck(_dense_tanh, p, _dense_tanh_vjp(p, wrong))


def test_gradcheck_requires_every_gradient():
    p = _point(0)
    with pytest.raises(AssertionError, match=r"no gradient for \['b'\]"):
        gradcheck(_dense_tanh, p, _dense_tanh_vjp(p, "missing_b"))


def test_gradcheck_works_in_float64_even_for_float32_inputs():
    p = {k: a.astype(np.float32) for k, a in _point(3).items()}
    seen = []

    def fn(q):
        seen.extend(a.dtype for a in q.values())
        return _dense_tanh(q)

    gradcheck(fn, p, _dense_tanh_vjp({k: a.astype(np.float64) for k, a in p.items()}))
    assert set(seen) == {np.dtype(np.float64)}


def test_module_exports():
    assert {"TOLERANCES", "GRADCHECK", "tolerance", "assert_close", "gradcheck"} <= set(
        vars(testing)
    )
