"""The course's convolution functions (Lectures 26–29) against scipy.signal, loop ==
vectorized, the flipped-kernel identity, multi-channel sums, dtypes and errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
from hypothesis import given
from hypothesis import strategies as st

from scratch import convolution as C
from scratch.testing import assert_close
from tests.conftest import cheap

MODES = ("valid", "same", "full")


@st.composite
def signals(draw, ndim):
    mode = draw(st.sampled_from(MODES))
    kernel = tuple(draw(st.integers(1, 5)) for _ in range(ndim))
    size = tuple(draw(st.integers(k if mode == "valid" else 1, 9)) for k in kernel)
    return dict(mode=mode, size=size, kernel=kernel, channels=draw(st.integers(1, 3)),
                filters=draw(st.integers(1, 3)), dtype=draw(st.sampled_from(["float64",
                                                                             "float32"])),
                seed=draw(st.integers(0, 2**16)))


def _arrays(case, channels=False, filters=False):
    rng = np.random.default_rng(case["seed"])
    x_shape = case["size"] + ((case["channels"],) if channels else ())
    k_shape = case["kernel"] + ((case["channels"],) if channels else ()) + (
        (case["filters"],) if filters else ())
    return (rng.standard_normal(x_shape).astype(case["dtype"]),
            rng.standard_normal(k_shape).astype(case["dtype"]))


def _check(actual, ref, case):
    assert actual.dtype == case["dtype"], (actual.dtype, case)
    assert_close(actual, ref.astype(case["dtype"]), kind="forward", dtype=case["dtype"],
                 msg=str(case))


@cheap
@given(signals(1))
def test_1d_matches_scipy(case):
    x, w = _arrays(case)
    mode = case["mode"]
    for method in ("vectorized", "loop"):
        # scipy.signal.correlate puts the odd 'same' cell at the start
        _check(C.correlate1d(x, w, mode, same_split="start", method=method),
               scipy.signal.correlate(x, w, mode), case)
        _check(C.convolve1d(x, w, mode, method=method), scipy.signal.convolve(x, w, mode), case)
    # Keras' split (default): ⌊(K−1)/2⌋ zeros before, i.e. the 'full' output cropped from
    # index (K − 1) − ⌊(K−1)/2⌋
    full = scipy.signal.correlate(x, w, "full")
    start = {"valid": w.size - 1, "same": w.size - 1 - (w.size - 1) // 2, "full": 0}[mode]
    _check(C.correlate1d(x, w, mode), full[start:start + C.output_length(x.size, w.size, mode)],
           case)


@cheap
@given(signals(2))
def test_2d_matches_scipy(case):
    x, w = _arrays(case)
    mode = case["mode"]
    for method in ("vectorized", "loop"):
        _check(C.correlate2d(x, w, mode, method=method),
               scipy.signal.correlate2d(x, w, mode), case)
        _check(C.convolve2d(x, w, mode, method=method), scipy.signal.convolve2d(x, w, mode), case)


@cheap
@given(signals(2))
def test_flipped_kernel_identity(case):
    """Lecture 26: convolve2d(A, w) == correlate2d(A, fliplr(flipud(w))) (valid and full;
    for 'same' the flip also mirrors the padding split)."""
    x, w = _arrays(case)
    flipped = np.fliplr(np.flipud(w))
    split = "start" if case["mode"] == "same" else "end"
    np.testing.assert_array_equal(C.convolve2d(x, w, case["mode"]),
                                  C.correlate2d(x, flipped, case["mode"], same_split=split))
    _check(C.correlate2d(x, w, case["mode"]),
           scipy.signal.convolve2d(x, flipped, case["mode"]) if case["mode"] != "same"
           else C.correlate2d(x, w, case["mode"], method="loop"), case)


@cheap
@given(signals(2), st.booleans())
def test_multichannel_sums_channels(case, stack):
    """Lecture 29: an H×W×C image and a K×K×C kernel give one map (the channel axis is
    summed); a K×K×C×F stack gives F maps."""
    x, w = _arrays(case, channels=True, filters=stack)
    mode = case["mode"]
    kernels = [w[..., f] for f in range(w.shape[-1])] if stack else [w]
    maps = [sum(scipy.signal.correlate2d(x[..., c], k[..., c], mode)
                for c in range(x.shape[-1])) for k in kernels]
    ref = np.stack(maps, axis=-1) if stack else maps[0]
    for method in ("vectorized", "loop"):
        _check(C.correlate2d(x, w, mode, method=method), ref, case)


@cheap
@given(signals(1), st.booleans())
def test_multichannel_1d(case, stack):
    x, w = _arrays(case, channels=True, filters=stack)
    mode = case["mode"]
    kernels = [w[..., f] for f in range(w.shape[-1])] if stack else [w]
    maps = [sum(C.correlate1d(x[:, c], k[:, c], mode) for c in range(x.shape[-1]))
            for k in kernels]
    ref = np.stack(maps, axis=-1) if stack else maps[0]
    for method in ("vectorized", "loop"):
        _check(C.correlate1d(x, w, mode, method=method), ref, case)


def test_lecture_examples():
    np.testing.assert_array_equal(C.correlate1d([1, 2, 3, 4, 5], [1, 2, 3]), [14, 20, 26])
    image = np.arange(25.0).reshape(5, 5)
    assert C.correlate2d(image, np.ones((3, 3)), "valid").shape == (3, 3)   # N − K + 1
    assert C.correlate2d(image, np.ones((3, 3)), "same").shape == (5, 5)    # N
    assert C.correlate2d(image, np.ones((3, 3)), "full").shape == (7, 7)    # N + K − 1
    assert C.padding_amounts(5, 4, "same") == (1, 2)
    assert C.padding_amounts(5, 4, "same", same_split="start") == (2, 1)
    # integers stay exact integers, as in scipy
    assert C.correlate2d(np.ones((3, 3), int), np.ones((2, 2), int)).dtype.kind == "i"


@pytest.mark.parametrize("call, error, match", [
    (lambda: C.correlate1d([1.0, 2.0], [1.0, 2.0, 3.0]), ValueError, "fit inside"),
    (lambda: C.correlate2d(np.ones((3, 3)), np.ones(2)), ValueError, "rank"),
    (lambda: C.correlate2d(np.ones((3, 3, 2)), np.ones((2, 2, 3))), ValueError, "channel"),
    (lambda: C.correlate2d(np.ones((3, 3)), np.ones((2, 2)), "wide"), ValueError, "mode"),
    (lambda: C.correlate1d(np.ones(3), np.ones(2), method="fft"), ValueError, "method"),
    (lambda: C.correlate1d(np.ones(3, np.float32), np.ones(2)), TypeError, "dtype"),
    (lambda: C.correlate2d(np.ones(3), np.ones(2)), ValueError, "2-D image"),
    (lambda: C.correlate1d(np.array(["a"]), np.ones(1)), TypeError, "numbers"),
])
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
