"""Shared test plumbing: hypothesis profiles, cost classes, and the session's tf.keras.

TensorFlow is imported once per session, only by tests that ask for the `tf_keras`
fixture (unit tests never pay for it). Profiles: `ci` (derandomized, used when CI is set),
`dev` (default locally) and `thorough` (200 random examples); pick one with
HYPOTHESIS_PROFILE=... . Per-test example counts come from the cost-class decorators
`cheap`, `medium` and `expensive` below, scaled by the profile.
"""

from __future__ import annotations

import contextlib
import os

import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

# Course-sized matrices are faster on one BLAS thread, and two threads collapse when another
# process holds a core (scratch/_threads.py has the measurements).
import scratch  # noqa: E402
from scratch._threads import limit_blas_threads  # noqa: E402

limit_blas_threads(1)

_SUPPRESS = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile(
    "ci", parent=settings.get_profile("ci"), deadline=None, suppress_health_check=_SUPPRESS
)
settings.register_profile(
    "dev", derandomize=True, deadline=None, database=None, suppress_health_check=_SUPPRESS
)
settings.register_profile(
    "thorough", deadline=None, max_examples=200, suppress_health_check=_SUPPRESS
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

_SCALE = 10.0 if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else 1.0


def _examples(n: int):
    return settings(max_examples=max(1, int(n * _SCALE)))


cheap = _examples(30)  # elementwise, dense, losses, optimizers
medium = _examples(15)  # conv, pooling
expensive = _examples(8)  # recurrent layers, whole models


@pytest.fixture(scope="session")
def tf_keras():
    """The session's tf.keras (Keras 3 on TensorFlow), configured once."""
    tf = pytest.importorskip("tensorflow")
    try:
        tf.config.threading.set_intra_op_parallelism_threads(2)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already initialised by an earlier import
        pass
    keras = tf.keras
    keras.utils.set_random_seed(0)
    # Keras caches its global dtype policy from floatx() the first time a layer asks for it;
    # fix it now so that a test which sets floatx("float64") first cannot leak float64
    # layers into every later test (order-dependent failures).
    keras.config.set_dtype_policy("float32")
    return keras


@pytest.fixture(scope="session")
def tf():
    return pytest.importorskip("tensorflow")


@contextlib.contextmanager
def floatx(tf_keras, dtype):
    """Both engines' global float type for the block (Keras computes its losses and
    accumulates its metrics in floatx), then float32 again."""
    scratch.set_floatx(dtype)
    tf_keras.backend.set_floatx(dtype)
    try:
        yield
    finally:
        scratch.set_floatx("float32")
        tf_keras.backend.set_floatx("float32")
