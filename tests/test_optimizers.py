"""Optimizers and learning-rate schedules: bit-exact parity with tf.keras, state and errors.

Parity runs give the same gradients to both engines (no model): Keras updates tf.Variables
through `opt.apply_gradients(zip(grads, vars))`, scratch updates NumPy copies in place.

* float32: weights AND every optimizer variable (iteration, learning_rate, slots, in
  Keras' order) must be bit-identical (np.array_equal) after 10-12 steps.
* The one reduction in the machinery, the L2 norm of clipnorm/global_clipnorm, is summed in
  a different order by Eigen and NumPy (≈1 ulp). Bit-exact runs with those options use
  dyadic gradients k/16 (|k| < 64), whose squares and sums are exact in any order; continuous
  gradients are compared with the "weights_after_steps" tolerance instead.
* float64: tf.Variables in float64 with assert_close(kind="weights_after_steps"); pinned cases
  also check bit-exactness, which proves the float32 detour of Keras' `ops.cast` on Python
  hyper-parameters (SGD momentum, Adam β^t, weight decay, Adagrad's initial accumulator,
  Nadam's β and 0.96 inside its update).
* Ftrl is the exception: its elementwise powers n^p are TensorFlow's vectorized pow (Eigen's,
  about 1 ulp from the correctly rounded value, and not NumPy's), so its runs are compared
  with the "weights_after_steps" tolerance in both dtypes (`INEXACT`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratch import optimizers
from scratch.optimizers import schedules
from scratch.testing import assert_close

from conftest import cheap

NAMES = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Nadam", "Adamax", "Adadelta", "Ftrl"]
# optimizers whose updates go through an elementwise pow (TensorFlow's ≠ NumPy's): tolerance
INEXACT = {"Ftrl"}
# Optimizer-specific options; each set is one configuration family.
OPTIONS = {
    "SGD": [(), ("momentum",), ("momentum", "nesterov")],
    "Adam": [(), ("amsgrad",)],
    "AdamW": [(), ("amsgrad",)],
    "RMSprop": [(), ("momentum",), ("centered",), ("centered", "momentum")],
    "Adagrad": [()],
    "Nadam": [()],
    "Adamax": [()],
    "Adadelta": [()],
    "Ftrl": [(), ("l1_l2",), ("shrinkage", "beta")],
}
# Options of the shared machinery.
EXTRAS = [None, "weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "schedule"]
NORM_CLIPS = ("clipnorm", "global_clipnorm")


@dataclass(frozen=True)
class Case:
    name: str
    config: dict = field(hash=False)
    schedule: tuple | None  # ExponentialDecay(initial, decay_steps, decay_rate, staircase)
    shapes: tuple
    steps: int
    grad_scale: float
    dyadic: bool
    seed: int


def _unit(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_subnormal=False)


def _log10(lo, hi):
    return _unit(lo, hi).map(lambda e: 10.0**e)


@st.composite
def cases(draw, names=tuple(NAMES), extras=tuple(EXTRAS), dyadic=None):
    name = draw(st.sampled_from(names))
    options = draw(st.sampled_from(OPTIONS[name]))
    extra = draw(st.sampled_from(extras))
    config: dict = {"learning_rate": draw(_unit(1e-3, 0.3))}
    if name == "SGD":
        if "momentum" in options:
            config["momentum"] = draw(_unit(0.05, 0.99))
        config["nesterov"] = "nesterov" in options
    elif name in ("Adam", "AdamW"):
        config.update(beta_1=draw(_unit(0.5, 0.99)), beta_2=draw(_unit(0.9, 0.9999)),
                      epsilon=draw(_log10(-8, -2)), amsgrad="amsgrad" in options)
    elif name == "RMSprop":
        config.update(rho=draw(_unit(0.5, 0.99)), epsilon=draw(_log10(-8, -2)),
                      centered="centered" in options)
        if "momentum" in options:
            config["momentum"] = draw(_unit(0.05, 0.95))
    elif name in ("Nadam", "Adamax"):
        config.update(beta_1=draw(_unit(0.5, 0.99)), beta_2=draw(_unit(0.9, 0.9999)),
                      epsilon=draw(_log10(-8, -2)))
    elif name == "Adadelta":
        config.update(rho=draw(_unit(0.5, 0.99)), epsilon=draw(_log10(-8, -2)))
    elif name == "Ftrl":
        config.update(learning_rate_power=-draw(_unit(0.1, 1.0)),
                      initial_accumulator_value=draw(_unit(0.01, 1.0)))
        if "l1_l2" in options:
            config.update(l1_regularization_strength=draw(_unit(0.0, 0.1)),
                          l2_regularization_strength=draw(_unit(0.0, 0.1)))
        if "shrinkage" in options:
            config.update(l2_shrinkage_regularization_strength=draw(_unit(0.0, 0.1)),
                          beta=draw(_unit(0.0, 1.0)))
    else:
        config.update(initial_accumulator_value=draw(_unit(0.0, 1.0)),
                      epsilon=draw(_log10(-8, -2)))
    schedule = None
    if extra == "schedule":
        schedule = (config.pop("learning_rate"), draw(st.integers(1, 10)),
                    draw(_unit(0.3, 0.99)), draw(st.booleans()))
    elif extra == "weight_decay":
        config["weight_decay"] = draw(_unit(1e-4, 0.2))
    elif extra in NORM_CLIPS:
        config[extra] = draw(_unit(0.1, 3.0))
    elif extra == "clipvalue":
        config["clipvalue"] = draw(_unit(0.05, 1.5))
    shapes = tuple(draw(st.lists(st.lists(st.integers(1, 5), max_size=3).map(tuple),
                                 min_size=1, max_size=2)))
    use_dyadic = extra in NORM_CLIPS if dyadic is None else dyadic
    return Case(name, config, schedule, shapes, draw(st.integers(10, 12)),
                draw(st.sampled_from([0.01, 1.0, 10.0])), use_dyadic,
                draw(st.integers(0, 2**32 - 1)))


def _data(case: Case, dtype):
    """Initial weights and per-step gradients, from the case's seed."""
    rng = np.random.default_rng(case.seed)
    init = [np.asarray(rng.standard_normal(s), dtype=dtype) for s in case.shapes]
    grads = []
    for _ in range(case.steps):
        if case.dyadic:
            grads.append([np.asarray(rng.integers(-63, 64, s) / 16, dtype=dtype)
                          for s in case.shapes])
        else:
            grads.append([np.asarray(rng.standard_normal(s) * case.grad_scale, dtype=dtype)
                          for s in case.shapes])
    return init, grads


def _make(module, case: Case):
    config = dict(case.config)
    if case.schedule is not None:
        config["learning_rate"] = module.schedules.ExponentialDecay(*case.schedule)
    return getattr(module, case.name)(**config)


def _run_both(case: Case, dtype, tf_keras, tf):
    init, grads = _data(case, dtype)
    kvars = [tf.Variable(w.copy()) for w in init]
    kopt = _make(tf_keras.optimizers, case)
    svars = [w.copy() for w in init]
    sopt = _make(optimizers, case)
    for step in grads:
        kopt.apply_gradients(zip([tf.constant(g) for g in step], kvars, strict=True))
        sopt.apply_gradients([(g.copy(), v) for g, v in zip(step, svars, strict=True)])
    return svars, sopt, [v.numpy() for v in kvars], kopt


def _describe(a, b) -> str:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return f"shape/dtype {a.shape} {a.dtype} vs Keras {b.shape} {b.dtype}"
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    return f"{int(np.sum(a != b))}/{a.size} elements differ, max|diff|={diff.max():.3g}"


def _assert_bit_exact(svars, sopt, kweights, kopt, msg=""):
    for i, (a, b) in enumerate(zip(svars, kweights, strict=True)):
        assert a.dtype == b.dtype and np.array_equal(a, b), (
            f"weight {i}: {_describe(a, b)}. {msg}")
    kstate = [v.numpy() for v in kopt.variables]
    names = sopt.variable_names
    assert len(sopt.variables) == len(kstate), (
        f"{len(sopt.variables)} optimizer variables ({names}) vs Keras "
        f"{[v.name for v in kopt.variables]}. {msg}")
    for name, a, b in zip(names, sopt.variables, kstate, strict=True):
        assert np.asarray(a).dtype == b.dtype and np.array_equal(a, b), (
            f"optimizer variable {name}: {_describe(a, b)}. {msg}")


def _assert_slot_names_match(sopt, kopt):
    """Same slot kinds in the same order (Keras names tf.Variables 'Variable_0_<slot>')."""
    knames = [v.name for v in kopt.variables]
    snames = sopt.variable_names
    assert len(snames) == len(knames)
    for s, k in zip(snames, knames, strict=True):
        if s == "variable":  # Nadam's u_product: Keras uniquifies the name (variable_19)
            k = k.split("_")[0]
        assert s.split("_", 2)[-1] == k.split("_", 2)[-1], (snames, knames)


# ---------------------------------------------------------------------------------------------
# Parity with tf.keras


@pytest.mark.parity
@cheap
@given(case=cases(names=tuple(n for n in NAMES if n not in INEXACT)))
def test_float32_updates_are_bit_exact(tf_keras, tf, case):
    svars, sopt, kweights, kopt = _run_both(case, np.float32, tf_keras, tf)
    _assert_bit_exact(svars, sopt, kweights, kopt, msg=str(case))
    _assert_slot_names_match(sopt, kopt)
    assert sopt.iterations == case.steps == int(kopt.iterations.numpy())


@pytest.mark.parity
@cheap
@given(case=cases())
def test_float64_updates_match_keras(tf_keras, tf, case):
    svars, sopt, kweights, kopt = _run_both(case, np.float64, tf_keras, tf)
    for a, b in zip(svars, kweights, strict=True):
        assert a.dtype == np.float64
        assert_close(a, b, kind="weights_after_steps", dtype="float64", msg=str(case))
    for name, a, b in zip(sopt.variable_names, sopt.variables,
                          [v.numpy() for v in kopt.variables], strict=True):
        assert_close(a, b, kind="weights_after_steps", dtype=b.dtype if b.dtype.kind == "f"
                     else "float64", msg=f"{name}: {case}")


def _pinned(name, options, extra):
    """A fixed, deliberately unround configuration for one optimizer × option × extra."""
    config: dict = {"learning_rate": 0.037}
    if name == "SGD":
        config.update(momentum=0.83 if "momentum" in options else 0.0,
                      nesterov="nesterov" in options)
    elif name in ("Adam", "AdamW"):
        config.update(beta_1=0.87, beta_2=0.993, epsilon=3e-6, amsgrad="amsgrad" in options)
    elif name == "RMSprop":
        config.update(rho=0.81, epsilon=2e-5, centered="centered" in options,
                      momentum=0.7 if "momentum" in options else 0.0)
    elif name in ("Nadam", "Adamax"):
        config.update(beta_1=0.87, beta_2=0.993, epsilon=3e-6)
    elif name == "Adadelta":
        config.update(learning_rate=0.37, rho=0.83, epsilon=1e-5)
    elif name == "Ftrl":
        config.update(learning_rate_power=-0.6, initial_accumulator_value=0.3)
        if "l1_l2" in options:  # λ₁ large enough that some weights end at exactly 0
            config.update(l1_regularization_strength=1.5, l2_regularization_strength=0.02)
        if "shrinkage" in options:
            config.update(l2_shrinkage_regularization_strength=0.03, beta=0.1)
    else:
        config.update(initial_accumulator_value=0.3, epsilon=1e-5)
    schedule = None
    if extra == "schedule":
        schedule = (config.pop("learning_rate"), 3, 0.77, False)
    elif extra == "weight_decay":
        config["weight_decay"] = 0.031
    elif extra in NORM_CLIPS:
        config[extra] = 0.9
    elif extra == "clipvalue":
        config["clipvalue"] = 0.4
    return Case(name, config, schedule, ((4, 3), ()), 10, 1.0, extra in NORM_CLIPS, 1234)


# Every optimizer with every machinery option, its own options cycling along (so each of
# them appears at least once); float64 is pinned for the options whose Python
# hyper-parameters Keras sends through a float32 `ops.cast`.
PINNED = [(n, OPTIONS[n][i % len(OPTIONS[n])], e, np.float32)
          for n in NAMES if n not in INEXACT for i, e in enumerate(EXTRAS)]
PINNED += [(n, OPTIONS[n][-1], "weight_decay", np.float64) for n in NAMES if n not in INEXACT]


@pytest.mark.parity
@pytest.mark.parametrize(
    "name,options,extra,dtype", PINNED,
    ids=[f"{n}-{'+'.join(o) or 'plain'}-{e}-{d.__name__}" for n, o, e, d in PINNED])
def test_every_option_is_bit_exact(tf_keras, tf, name, options, extra, dtype):
    case = _pinned(name, options, extra)
    svars, sopt, kweights, kopt = _run_both(case, dtype, tf_keras, tf)
    _assert_bit_exact(svars, sopt, kweights, kopt, msg=str(case))


@pytest.mark.parity
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("options", OPTIONS["Ftrl"])
def test_ftrl_matches_keras_within_the_tolerance(tf_keras, tf, options, dtype):
    """Ftrl's n^p is an elementwise pow, rounded by TensorFlow's vectorized kernel, not
    NumPy's: weights and slots within `weights_after_steps`, in both dtypes."""
    case = _pinned("Ftrl", options, "clipvalue")
    svars, sopt, kweights, kopt = _run_both(case, np.dtype(dtype).type, tf_keras, tf)
    for a, b in zip(svars, kweights, strict=True):
        assert_close(a, b, kind="weights_after_steps", dtype=dtype, msg=str(case))
    for name, a, b in zip(sopt.variable_names, sopt.variables,
                          [v.numpy() for v in kopt.variables], strict=True):
        assert np.asarray(a).dtype == b.dtype
        assert_close(a, b, kind="weights_after_steps",
                     dtype=b.dtype if b.dtype.kind == "f" else "float64", msg=name)
    if "l1_l2" in options:  # the L1 step makes small weights exactly 0, as in Keras
        zeros = [np.flatnonzero(a == 0) for a in svars]
        assert any(z.size for z in zeros)
        assert all(np.array_equal(z, np.flatnonzero(b == 0)) for z, b in zip(zeros, kweights))


@pytest.mark.parity
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("clip", NORM_CLIPS)
def test_norm_clipping_with_continuous_gradients(tf_keras, tf, clip, dtype):
    """With continuous data the norm differs by ≈1 ulp (summation order): table tolerance."""
    case = Case("Adam", {"learning_rate": 0.05, clip: 0.8}, None, ((6, 5), (5,), (7,)), 12,
                1.0, False, 99)
    svars, sopt, kweights, kopt = _run_both(case, np.dtype(dtype).type, tf_keras, tf)
    for a, b in zip(svars, kweights, strict=True):
        assert_close(a, b, kind="weights_after_steps", dtype=dtype)
    # The clip is active: without it the weights end elsewhere.
    unclipped = Case("Adam", {"learning_rate": 0.05}, None, case.shapes, 12, 1.0, False, 99)
    free, *_ = _run_both(unclipped, np.dtype(dtype).type, tf_keras, tf)
    assert not np.allclose(free[0], svars[0])


def test_clip_by_norm_and_global_norm_formulas():
    g = np.array([3.0, 4.0], np.float32)  # norm 5
    np.testing.assert_array_equal(optimizers.clip_by_norm(g, 1.0), g / np.float32(5))
    np.testing.assert_array_equal(optimizers.clip_by_norm(g, 10.0), g)
    np.testing.assert_array_equal(optimizers.clip_by_norm(np.zeros(3, np.float32), 1.0),
                                  np.zeros(3, np.float32))
    a, b = np.array([3.0], np.float64), np.array([[4.0]], np.float64)  # global norm 5
    ca, cb = optimizers.clip_by_global_norm([a, b], 2.5)
    np.testing.assert_array_equal(ca, a / 2) and np.testing.assert_array_equal(cb, b / 2)
    same = optimizers.clip_by_global_norm([a, b], 7.0)
    np.testing.assert_array_equal(same[0], a)
    np.testing.assert_array_equal(same[1], b)


# ---------------------------------------------------------------------------------------------
# Learning rate


@pytest.mark.parity
@pytest.mark.parametrize("name,config", [("SGD", {"momentum": 0.9}), ("Adam", {}),
                                         ("RMSprop", {"centered": True})])
def test_learning_rate_setter_mid_training_matches_keras(tf_keras, tf, name, config):
    case = Case(name, {"learning_rate": 0.01, **config}, None, ((3, 4), (4,)), 12, 1.0,
                False, 7)
    init, grads = _data(case, np.float32)
    kvars = [tf.Variable(w.copy()) for w in init]
    svars = [w.copy() for w in init]
    kopt, sopt = _make(tf_keras.optimizers, case), _make(optimizers, case)
    for i, step in enumerate(grads):
        if i == 5:
            kopt.learning_rate = 0.123
            sopt.learning_rate = 0.123
        kopt.apply_gradients(zip([tf.constant(g) for g in step], kvars, strict=True))
        sopt.apply_gradients(list(zip(step, svars, strict=True)))
    _assert_bit_exact(svars, sopt, [v.numpy() for v in kvars], kopt)
    assert sopt.learning_rate == np.float32(0.123)


def test_learning_rate_setter_takes_effect_on_the_next_step():
    w = np.array([1.0, 2.0], np.float32)
    g = np.array([0.5, -0.25], np.float32)
    opt = optimizers.SGD(0.1)
    opt.apply_gradients([(g, w)])
    opt.learning_rate = 0.3
    before = w.copy()
    opt.apply_gradients([(g, w)])
    np.testing.assert_array_equal(w, before - g * np.float32(0.3))


def test_learning_rate_is_stored_in_floatx():
    opt = optimizers.SGD(0.01)
    assert opt.learning_rate.dtype == np.float32
    assert float(opt.learning_rate) == float(np.float32(0.01)) != 0.01
    assert opt.get_config()["learning_rate"] == float(np.float32(0.01))
    assert opt._learning_rate_value == float(np.float32(0.01))


def test_legacy_lr_argument_warns_and_is_used():
    with pytest.warns(DeprecationWarning, match="learning_rate"):
        opt = optimizers.SGD(lr=0.25)
    assert opt.learning_rate == np.float32(0.25)
    with pytest.warns(DeprecationWarning):
        assert optimizers.Adam(lr=0.5).learning_rate == np.float32(0.5)


@pytest.mark.parametrize("bad", [1, True, "0.1", None, -0.1, float("nan"), float("inf"), 1e39])
def test_invalid_learning_rate_in_constructor(bad):
    with pytest.raises(ValueError, match="learning_rate="):
        optimizers.Adam(learning_rate=bad)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), 1e39, "fast", None])
def test_invalid_learning_rate_in_setter(bad):
    opt = optimizers.SGD(0.1)
    with pytest.raises(ValueError, match="Received: learning_rate="):
        opt.learning_rate = bad
    assert opt.learning_rate == np.float32(0.1)


def test_setter_accepts_ints_and_zero_like_keras():
    opt = optimizers.SGD(0.1)
    opt.learning_rate = 2
    assert opt.learning_rate == np.float32(2.0)
    opt.learning_rate = 0.0
    assert opt.learning_rate == 0


def test_schedule_learning_rate_is_not_settable_and_is_evaluated_at_iterations():
    sched = schedules.ExponentialDecay(0.1, 2, 0.5)
    opt = optimizers.SGD(sched)
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        opt.learning_rate = 0.2
    w = np.zeros(3, np.float32)
    g = np.ones(3, np.float32)
    for step in range(4):
        assert opt.learning_rate == sched(step)
        before = w.copy()
        opt.apply_gradients([(g, w)])
        np.testing.assert_array_equal(w, before - g * sched(step))
    assert "learning_rate" not in opt.variable_names


def test_callable_learning_rate():
    opt = optimizers.SGD(lambda: 0.5)
    w = np.ones(2, np.float32)
    opt.apply_gradients([(np.ones(2, np.float32), w)])
    np.testing.assert_array_equal(w, np.full(2, 0.5, np.float32))


# ---------------------------------------------------------------------------------------------
# State: ordering, save/load, resume


def test_slot_order_follows_keras():
    a, b = np.zeros((2, 3), np.float32), np.zeros(3, np.float32)
    opt = optimizers.Adam(amsgrad=True)
    opt.build([a, b], var_names=["dense/kernel", "dense/bias"])
    assert opt.variable_names == [
        "iteration", "learning_rate", "dense_kernel_momentum", "dense_kernel_velocity",
        "dense_bias_momentum", "dense_bias_velocity", "dense_kernel_velocity_hat",
        "dense_bias_velocity_hat"]
    opt = optimizers.RMSprop(momentum=0.5, centered=True)
    opt.build([a, b])
    assert [n.split("_", 2)[-1] for n in opt.variable_names[2:]] == [
        "velocity", "velocity", "momentum", "momentum", "average_gradient",
        "average_gradient"]
    assert optimizers.SGD().variable_names == ["iteration", "learning_rate"]
    for cls, slots in [(optimizers.Nadam, ["momentum", "velocity"]),
                       (optimizers.Adamax, ["momentum", "norm"]),
                       (optimizers.Adadelta, ["accumulated_grad", "accumulated_delta_var"]),
                       (optimizers.Ftrl, ["accumulator", "linear"])]:
        opt = cls()
        opt.build([a, b], var_names=["k", "b"])
        extra = ["variable"] if cls is optimizers.Nadam else []  # Nadam's u_product, last
        assert opt.variable_names == ["iteration", "learning_rate"] + [
            f"{v}_{s}" for v in ("k", "b") for s in slots] + extra
    opt = optimizers.Adagrad(initial_accumulator_value=0.25)
    opt.build([a])
    np.testing.assert_array_equal(opt.get_slot_values()[0], np.full((2, 3), 0.25, np.float32))


@pytest.mark.parametrize("name,config", [("SGD", {"momentum": 0.9, "nesterov": True}),
                                         ("Adam", {"amsgrad": True}), ("AdamW", {}),
                                         ("RMSprop", {"momentum": 0.5, "centered": True}),
                                         ("Adagrad", {}), ("Nadam", {}), ("Adamax", {}),
                                         ("Adadelta", {"learning_rate": 1.0}),
                                         ("Ftrl", {"l1_regularization_strength": 0.01})])
def test_state_round_trip_resumes_identically(name, config):
    case = Case(name, {"learning_rate": 0.02, **config}, None, ((3, 2), (2,)), 12, 1.0,
                False, 5)
    init, grads = _data(case, np.float32)
    ref_vars = [w.copy() for w in init]
    ref = _make(optimizers, case)
    for step in grads:
        ref.apply_gradients(list(zip(step, ref_vars, strict=True)))

    first_vars = [w.copy() for w in init]
    first = _make(optimizers, case)
    for step in grads[:5]:
        first.apply_gradients(list(zip(step, first_vars, strict=True)))
    store: dict = {}
    first.save_own_variables(store)
    assert sorted(store, key=int) == [str(i) for i in range(len(first.variables))]

    resumed_vars = [w.copy() for w in first_vars]
    resumed = _make(optimizers, case)
    resumed.build(resumed_vars)
    resumed.load_own_variables(store)
    assert resumed.iterations == 5
    for step in grads[5:]:
        resumed.apply_gradients(list(zip(step, resumed_vars, strict=True)))
    for a, b in zip(resumed_vars, ref_vars, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(resumed.variables, ref.variables, strict=True):
        np.testing.assert_array_equal(a, b)

    # A fresh optimizer without the state does NOT resume identically (the test can fail).
    fresh_vars = [w.copy() for w in first_vars]
    fresh = _make(optimizers, case)
    for step in grads[5:]:
        fresh.apply_gradients(list(zip(step, fresh_vars, strict=True)))
    assert not all(np.array_equal(a, b) for a, b in zip(fresh_vars, ref_vars, strict=True))


def test_get_and_set_slot_values():
    w = np.ones((2, 2), np.float32)
    opt = optimizers.Adam()
    opt.apply_gradients([(np.full((2, 2), 0.5, np.float32), w)])
    slots = opt.get_slot_values()
    assert [s.shape for s in slots] == [(2, 2), (2, 2)]
    slots[0][...] = 7  # copies: the optimizer is untouched
    assert not np.any(opt.get_slot_values()[0] == 7)
    opt.set_slot_values([np.full((2, 2), 3, np.float32), np.full((2, 2), 4, np.float32)])
    np.testing.assert_array_equal(opt.variables[2], np.full((2, 2), 3, np.float32))
    with pytest.raises(ValueError, match="shape"):
        opt.set_slot_values([np.zeros(3), np.zeros((2, 2))])
    with pytest.raises(ValueError, match="2 slots"):
        opt.set_slot_values([np.zeros((2, 2))])


def test_load_with_wrong_count_warns_and_skips():
    opt = optimizers.Adam()
    opt.build([np.zeros(2, np.float32)])
    with pytest.warns(UserWarning, match="Skipping variable loading"):
        opt.load_own_variables({"0": np.array(3)})
    assert opt.iterations == 0


def test_variables_are_updated_in_place_and_iterations_count():
    w = np.ones(4, np.float64)
    ref = w
    opt = optimizers.RMSprop()
    for _ in range(3):
        opt.apply_gradients([(np.ones(4), w)])
    assert ref is w and opt.iterations == 3 and np.all(w < 1)
    assert opt.variables[0].dtype == np.int64 and opt.variables[2].dtype == np.float64


# ---------------------------------------------------------------------------------------------
# Config, lookup, schedules


@pytest.mark.parity
@pytest.mark.parametrize("name,config", [
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True, "clipnorm": 1.0}),
    ("Adam", {"beta_1": 0.8, "amsgrad": True, "weight_decay": 0.01}),
    ("AdamW", {"global_clipnorm": 2.0}),
    ("RMSprop", {"rho": 0.8, "momentum": 0.1, "centered": True, "clipvalue": 0.5}),
    ("Adagrad", {"initial_accumulator_value": 0.2}),
    ("Nadam", {"beta_1": 0.8, "epsilon": 1e-6}),
    ("Adamax", {"beta_2": 0.99, "clipnorm": 1.0}),
    ("Adadelta", {"rho": 0.9, "learning_rate": 1.0}),
    ("Ftrl", {"learning_rate_power": -0.7, "l1_regularization_strength": 0.1,
              "l2_shrinkage_regularization_strength": 0.2, "beta": 0.3}),
])
def test_get_config_matches_keras_and_round_trips(tf_keras, name, config):
    sopt = getattr(optimizers, name)(**config)
    kopt = getattr(tf_keras.optimizers, name)(**config)
    scfg, kcfg = sopt.get_config(), kopt.get_config()
    scfg.pop("name"), kcfg.pop("name")
    assert scfg == kcfg
    clone = type(sopt).from_config(sopt.get_config())
    assert clone.get_config() == sopt.get_config()
    # scratch reads Keras' serialized optimizer as-is.
    back = optimizers.deserialize(tf_keras.optimizers.serialize(kopt))
    assert type(back) is type(sopt) and back.get_config()["learning_rate"] == scfg[
        "learning_rate"]


@pytest.mark.parity
def test_schedule_in_config_matches_keras(tf_keras):
    sopt = optimizers.Adam(schedules.ExponentialDecay(0.1, 10, 0.9, staircase=True))
    kopt = tf_keras.optimizers.Adam(tf_keras.optimizers.schedules.ExponentialDecay(
        0.1, 10, 0.9, staircase=True))
    assert sopt.get_config()["learning_rate"] == kopt.get_config()["learning_rate"]
    clone = optimizers.Adam.from_config(sopt.get_config())
    assert isinstance(clone._learning_rate_value, schedules.ExponentialDecay)
    assert clone.learning_rate == sopt.learning_rate


def test_get_resolves_names_dicts_and_instances():
    for ident, cls in [("sgd", optimizers.SGD), ("Adam", optimizers.Adam),
                       ("adamw", optimizers.AdamW), ("RMSprop", optimizers.RMSprop),
                       ("adagrad", optimizers.Adagrad), ("nadam", optimizers.Nadam),
                       ("Adamax", optimizers.Adamax), ("adadelta", optimizers.Adadelta),
                       ("ftrl", optimizers.Ftrl)]:
        opt = optimizers.get(ident)
        assert type(opt) is cls and not opt.built
    assert optimizers.get("rmsprop").learning_rate == np.float32(0.001)
    assert optimizers.get("sgd").learning_rate == np.float32(0.01)
    opt = optimizers.SGD(0.3)
    assert optimizers.get(opt) is opt
    assert optimizers.get(None) is None
    d = optimizers.get({"class_name": "SGD", "config": {"learning_rate": 0.5}})
    assert d.learning_rate == np.float32(0.5)
    assert optimizers.get(optimizers.serialize(opt)).get_config()["learning_rate"] == \
        opt.get_config()["learning_rate"]
    with pytest.raises(ValueError, match="nadamax"):
        optimizers.get("nadamax")
    with pytest.raises(ValueError, match="Could not interpret"):
        optimizers.get(3.0)


def test_default_names_follow_keras():
    assert optimizers.RMSprop().name.startswith("rm_sprop")
    assert optimizers.AdamW().name.startswith("adam_w")
    assert optimizers.SGD(name="mine").name == "mine"


@pytest.mark.parity
@cheap
@given(kind=st.sampled_from(["exp", "inv", "piecewise", "poly", "cosine"]),
       initial=_unit(1e-3, 1.0), rate=_unit(0.1, 0.99), decay_steps=st.integers(1, 12),
       flag=st.booleans(), seed=st.integers(0, 2**16))
def test_schedules_match_keras(tf_keras, kind, initial, rate, decay_steps, flag, seed):
    ks = tf_keras.optimizers.schedules
    rng = np.random.default_rng(seed)
    if kind == "exp":
        args = (initial, decay_steps, rate, flag)
        pair = schedules.ExponentialDecay(*args), ks.ExponentialDecay(*args)
    elif kind == "inv":
        args = (initial, decay_steps, rate, flag)
        pair = schedules.InverseTimeDecay(*args), ks.InverseTimeDecay(*args)
    elif kind == "piecewise":
        bounds = sorted(int(b) for b in rng.choice(np.arange(1, 20), 3, replace=False))
        values = [float(v) for v in rng.uniform(1e-3, 1.0, 4)]
        pair = (schedules.PiecewiseConstantDecay(bounds, values),
                ks.PiecewiseConstantDecay(bounds, values))
    elif kind == "poly":
        args = (initial, decay_steps, initial * rate * 0.1, float(rng.uniform(0.5, 3.0)), flag)
        pair = schedules.PolynomialDecay(*args), ks.PolynomialDecay(*args)
    else:
        warm = dict(warmup_target=initial * 2, warmup_steps=int(rng.integers(1, 6))) if flag \
            else {}
        pair = (schedules.CosineDecay(initial, decay_steps, alpha=rate * 0.5, **warm),
                ks.CosineDecay(initial, decay_steps, alpha=rate * 0.5, **warm))
    ours, theirs = pair
    got = np.array([ours(s) for s in range(25)])
    want = np.array([np.asarray(theirs(s)) for s in range(25)])
    assert got.dtype == want.dtype == np.float32
    assert np.array_equal(got, want), _describe(got, want)
    assert ours.get_config() == theirs.get_config()
    assert schedules.deserialize(schedules.serialize(ours)).get_config() == ours.get_config()


def test_schedule_errors():
    with pytest.raises(ValueError, match="decay_steps=0"):
        schedules.ExponentialDecay(0.1, 0, 0.9)
    with pytest.raises(ValueError, match="length"):
        schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="Could not interpret"):
        schedules.deserialize({"class_name": "Nope", "config": {}})


# ---------------------------------------------------------------------------------------------
# Errors and edge cases


def test_none_gradients_are_skipped_with_a_warning():
    a, b = np.ones(2, np.float32), np.ones(3, np.float32)
    opt = optimizers.SGD(0.5)
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        opt.apply_gradients([(np.ones(2, np.float32), a), (None, b)])
    np.testing.assert_array_equal(a, np.full(2, 0.5, np.float32))
    np.testing.assert_array_equal(b, np.ones(3, np.float32))
    with pytest.raises(ValueError, match="No gradients provided"):
        opt.apply_gradients([(None, a), (None, b)])


def test_unknown_variable_after_build_is_an_error():
    opt = optimizers.Adam()
    opt.apply_gradients([(np.ones(2, np.float32), np.ones(2, np.float32))])
    with pytest.raises(ValueError, match="Unknown variable"):
        opt.apply_gradients([(np.ones(2, np.float32), np.ones(2, np.float32))])


def test_gradient_dtype_and_shape_are_checked():
    w = np.ones(3, np.float32)
    with pytest.raises(TypeError, match="float64"):
        optimizers.SGD().apply_gradients([(np.ones(3), w)])
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        optimizers.SGD().apply_gradients([(np.ones(4, np.float32), w)])
    with pytest.raises(TypeError, match="NumPy arrays"):
        optimizers.SGD().apply_gradients([(np.ones(3, np.float32), [1.0, 2.0, 3.0])])
    with pytest.raises(TypeError, match="int64"):
        optimizers.SGD().apply_gradients([(np.ones(3), np.ones(3, np.int64))])


@pytest.mark.parametrize("make,match", [
    (lambda: optimizers.SGD(clipnorm=1.0, clipvalue=1.0), "Only one of"),
    (lambda: optimizers.AdamW(weight_decay=None), "weight_decay=None"),
    (lambda: optimizers.SGD(0.1, 1), "momentum"),
    (lambda: optimizers.SGD(momentum=1.5), "momentum"),
    (lambda: optimizers.Adam(beta_1=1.5), "beta_1=1.5"),
    (lambda: optimizers.RMSprop(rho=-0.1), "rho=-0.1"),
    (lambda: optimizers.Adagrad(epsilon=-1.0), "epsilon=-1.0"),
    (lambda: optimizers.Adam(foo=1), "not recognized"),
    (lambda: optimizers.Adam(use_ema=True), "use_ema=True"),
    (lambda: optimizers.SGD(clipnorm=float("nan")), "clipnorm=nan"),
    (lambda: optimizers.Nadam(beta_2=2.0), "beta_2=2.0"),
    (lambda: optimizers.Adadelta(rho=-0.5), "rho=-0.5"),
    (lambda: optimizers.Ftrl(learning_rate_power=0.5), "learning_rate_power=0.5"),
    (lambda: optimizers.Ftrl(l1_regularization_strength=-1.0), "l1_regularization_strength"),
])
def test_invalid_configuration_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_positional_arguments_follow_keras():
    opt = optimizers.SGD(0.001, 0.9)
    assert opt.learning_rate == np.float32(0.001) and opt.momentum == 0.9
    opt = optimizers.Adam(0.01, 0.8, 0.99, 1e-6, True)
    assert (opt.beta_1, opt.beta_2, opt.epsilon, opt.amsgrad) == (0.8, 0.99, 1e-6, True)
    opt = optimizers.RMSprop(0.01, 0.8, 0.5, 1e-6, True)
    assert (opt.rho, opt.momentum, opt.epsilon, opt.centered) == (0.8, 0.5, 1e-6, True)


def test_decay_argument_is_ignored_with_a_warning():
    with pytest.warns(UserWarning, match="decay"):
        optimizers.SGD(decay=0.1)


def test_weight_decay_exclusion():
    a, b = np.ones(2, np.float32), np.ones(2, np.float32)
    opt = optimizers.SGD(0.5, weight_decay=0.1)
    opt.exclude_from_weight_decay(var_list=[b])
    zero = np.zeros(2, np.float32)
    opt.apply_gradients([(zero, a), (zero.copy(), b)])
    np.testing.assert_array_equal(a, np.full(2, np.float32(1) - np.float32(0.1) *
                                             np.float32(0.5), np.float32))
    np.testing.assert_array_equal(b, np.ones(2, np.float32))
    with pytest.raises(ValueError, match="before the optimizer is built"):
        opt.exclude_from_weight_decay(var_list=[a])


def test_docstrings_state_the_update_equations():
    for cls in (optimizers.SGD, optimizers.Adam, optimizers.AdamW, optimizers.RMSprop,
                optimizers.Adagrad, optimizers.Nadam, optimizers.Adamax, optimizers.Adadelta,
                optimizers.Ftrl):
        assert "Math:" in cls.__doc__ and "Shapes:" in cls.__doc__, cls
    assert "√v + ε" in optimizers.Adam.__doc__
    assert "inside the sqrt" in optimizers.RMSprop.__doc__
    assert "includes the learning rate" in optimizers.SGD.__doc__
    assert math.isclose(optimizers.Adam().epsilon, 1e-7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optimizers.Adam()  # no warning for a plain construction


@pytest.mark.parity
@pytest.mark.parametrize("name", ["Nadam", "Adamax", "Adadelta", "Ftrl"])
def test_new_optimizers_state_in_keras_files_both_ways(tf_keras, tmp_path, name):
    """The optimizer's variables (Nadam's u_product last) go into a `.keras` file in
    Keras' order: tf.keras reads them as they are, and scratch reads tf.keras' file back."""
    import scratch
    from scratch.saving.weights_h5 import optimizer_layout

    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((8, 3)).astype("float32"), rng.standard_normal((8, 2))
    model = scratch.Sequential([scratch.Input((3,)), scratch.layers.Dense(4, activation="tanh"),
                                scratch.layers.Dense(2)])
    model.compile(optimizer=getattr(optimizers, name)(0.05), loss="mse")
    for _ in range(3):
        model.train_on_batch(x, y)
    model.save(str(tmp_path / "m.keras"))
    kmodel = tf_keras.models.load_model(str(tmp_path / "m.keras"))
    ours = optimizer_layout(model).values
    theirs = [np.asarray(v) for v in kmodel.optimizer.variables]
    assert type(kmodel.optimizer).__name__ == name and len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert np.asarray(a).dtype == b.dtype and np.array_equal(a, b)
    kmodel.train_on_batch(x, y)
    kmodel.save(str(tmp_path / "k.keras"))
    back = scratch.models.load_model(str(tmp_path / "k.keras"))
    assert back.optimizer.iterations == 4
    for a, b in zip(optimizer_layout(back).values,
                    [np.asarray(v) for v in kmodel.optimizer.variables], strict=True):
        assert np.array_equal(a, b)
