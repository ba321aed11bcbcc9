"""`python -m scratch warmup` (what `make venv` runs): the kernels a workload reaches get
compiled for its dtype, the global state comes back, bad arguments are refused."""

from __future__ import annotations

import numpy as np
import pytest

from scratch import backend
from scratch._kernels import load as load_kernels
from scratch.warmup import WORKLOADS, main, warm_up


def _has_signature(dispatcher, dtype) -> bool:
    """Whether a Numba dispatcher holds a compiled signature whose arrays are of `dtype`."""
    want = str(np.dtype(dtype))
    return any(any(getattr(t, "dtype", None) is not None and str(t.dtype) == want for t in sig)
               for sig in dispatcher.signatures)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_demo_kernels_are_compiled_for_the_dtype(dtype):
    before = backend.floatx()
    seconds = warm_up((dtype,), workloads=["dense"])
    assert seconds > 0
    assert backend.floatx() == before
    # The dense demo's step: Adam's fused update, the fused sparse cross-entropy.
    assert _has_signature(load_kernels("optimizers").adam_update, dtype)
    assert _has_signature(load_kernels("losses").scce_logits_grad, dtype)


def test_every_workload_builds_and_trains():
    warm_up(("float32",))  # all of them: a broken workload raises here
    assert {"dense", "cnn", "text_lstm", "recurrent"} <= set(WORKLOADS)
    assert _has_signature(load_kernels("conv").im2col, "float32")
    assert _has_signature(load_kernels("pooling").max_pool2d_fwd_tiled, "float32")


def test_bad_arguments_are_refused_before_any_work():
    with pytest.raises(ValueError, match="dtypes.*Received"):
        warm_up(("float16",))
    with pytest.raises(ValueError, match="workloads.*Received"):
        warm_up(("float32",), workloads=["nope"])


def test_command_line(capsys):
    assert main(["--dtypes", "float32", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "kernels ready in" in out
