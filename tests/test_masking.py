"""Masking end to end: Embedding(mask_zero=True) → SimpleRNN/GRU/LSTM(return_sequences=True)
→ GlobalMaxPooling1D / GlobalAveragePooling1D → Dense, and a masked per-step loss
(Embedding → RNN → Dense on every step). Outputs, output masks, losses and the gradient of
every trainable weight match tf.keras in float64 and float32; one train_on_batch step too.

Keras 3.15 facts checked here: masked steps carry the previous state and output (zeros before
the first valid step); GlobalAveragePooling1D averages the valid steps only; GlobalMaxPooling1D
ignores the mask (it warns and takes the max over every step); Dense passes the mask on, so a
per-step loss averages over the valid steps only.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import keras_ref
import scratch
from scratch.layers import Dense, Input
from scratch.layers.embedding import Embedding
from scratch.layers.pooling import GlobalAveragePooling1D, GlobalMaxPooling1D
from scratch.layers.recurrent import GRU, LSTM, SimpleRNN
from scratch.models import Model
from scratch.testing import assert_close
from tests.conftest import expensive, floatx

RNNS = {"SimpleRNN": SimpleRNN, "GRU": GRU, "GRU_v1": GRU, "LSTM": LSTM}


@st.composite
def masking_cases(draw, heads=("gmax", "gavg")):
    return dict(
        rnn=draw(st.sampled_from(sorted(RNNS))),
        head=draw(st.sampled_from(heads)),
        N=draw(st.integers(1, 4)), T=draw(st.integers(1, 6)), V=draw(st.integers(2, 8)),
        D=draw(st.integers(1, 4)), M=draw(st.integers(1, 4)),
        go_backwards=draw(st.integers(0, 4)) == 0,
        padding=draw(st.sampled_from(["pre", "post", "anywhere"])),
        dtype=draw(st.sampled_from(["float64", "float32"])),
        seed=draw(st.integers(0, 2**16)),
    )


def _ids(rng, case):
    """Ids with zeros (padding) but at least one valid step per sample."""
    N, T, V = case["N"], case["T"], case["V"]
    ids = rng.integers(1, V, (N, T))
    lengths = rng.integers(1, T + 1, N)
    for n, L in enumerate(lengths):
        if case["padding"] == "pre":
            ids[n, :T - L] = 0
        elif case["padding"] == "post":
            ids[n, L:] = 0
        else:
            ids[n, rng.permutation(T)[:T - L]] = 0
    return ids.astype("int32")


def _build(case):
    i = Input(shape=(case["T"],), dtype="int32")
    x = Embedding(case["V"], case["D"], mask_zero=True)(i)
    kw = dict(return_sequences=True, go_backwards=case["go_backwards"])
    if case["rnn"] == "GRU_v1":
        kw["reset_after"] = False
    x = RNNS[case["rnn"]](case["M"], **kw)(x)
    head = case["head"]
    if head == "gmax":
        x = GlobalMaxPooling1D()(x)
        out, loss = Dense(1, activation="sigmoid")(x), "binary_crossentropy"
    elif head == "gavg":
        x = GlobalAveragePooling1D()(x)
        out, loss = Dense(2)(x), "mse"
    elif head == "seq_mse":
        out, loss = Dense(2)(x), "mse"
    else:
        out, loss = Dense(3, activation="softmax")(x), "sparse_categorical_crossentropy"
    return Model(i, out), loss


def _targets(rng, case, dtype):
    N, T = case["N"], case["T"]
    head = case["head"]
    if head == "gmax":
        return rng.integers(0, 2, (N, 1)).astype(dtype)
    if head == "gavg":
        return rng.standard_normal((N, 2)).astype(dtype)
    if head == "seq_mse":
        return rng.standard_normal((N, T, 2)).astype(dtype)
    return rng.integers(0, 3, (N, T)).astype(dtype)


def _randomize(model, rng, dtype):
    weights = []
    for w in model.get_weights():
        scale = 1.0 / np.sqrt(w.shape[0]) if w.ndim > 1 else 0.5
        weights.append((rng.standard_normal(w.shape) * scale).astype(dtype))
    model.set_weights(weights)


def _scratch_grads(model, loss_name, ids, y):
    model.compile(optimizer=scratch.optimizers.SGD(0.01), loss=loss_name)  # no step is taken
    y_pred = model.forward(ids, training=True)
    loss, dys, flags = model._compute_loss([y], [y_pred], [None], training=True)
    model.backward(dys[0], from_logits=flags)
    grads = {id(w): g for g, w in model.grads_and_vars()}
    return y_pred, float(loss), [grads[id(w)] for w in model.trainable_weights]


@expensive
@given(masking_cases())
@example(dict(rnn="LSTM", head="gmax", N=2, T=5, V=6, D=3, M=2, go_backwards=False,
              padding="pre", dtype="float64", seed=57))
@example(dict(rnn="GRU", head="gavg", N=3, T=4, V=5, D=2, M=3, go_backwards=True,
              padding="anywhere", dtype="float32", seed=1))
def test_masked_pooling_model_gradients_match(tf_keras, tf, case):
    """Embedding(mask_zero) → RNN(return_sequences) → global pooling → Dense."""
    _check_gradients(tf_keras, tf, case)


@expensive
@given(masking_cases(heads=("seq_mse", "seq_sparse_ce")))
@example(dict(rnn="SimpleRNN", head="seq_sparse_ce", N=2, T=4, V=5, D=2, M=2,
              go_backwards=False, padding="post", dtype="float64", seed=2))
@example(dict(rnn="GRU_v1", head="seq_mse", N=2, T=3, V=4, D=2, M=2, go_backwards=False,
              padding="anywhere", dtype="float32", seed=3))
def test_masked_sequence_loss_gradients_match(tf_keras, tf, case):
    """Embedding(mask_zero) → RNN(return_sequences) → Dense on every step → masked loss.

    Needs Dense to pass the mask on (Keras 3: `Dense.supports_masking = True`), so that the
    loss averages over the valid steps only.
    """
    _check_gradients(tf_keras, tf, case)


def _check_gradients(tf_keras, tf, case):
    dtype = case["dtype"]
    rng = np.random.default_rng(case["seed"])
    with floatx(tf_keras, dtype), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # GlobalMaxPooling1D drops the mask
        model, loss_name = _build(case)
        _randomize(model, rng, dtype)
        kmodel = keras_ref.to_keras(model)
        ids, y = _ids(rng, case), _targets(rng, case, dtype)
        y_pred, loss, grads = _scratch_grads(model, loss_name, ids, y)
        kloss_fn = {"binary_crossentropy": tf_keras.losses.BinaryCrossentropy,
                    "mse": tf_keras.losses.MeanSquaredError,
                    "sparse_categorical_crossentropy":
                        tf_keras.losses.SparseCategoricalCrossentropy}[loss_name]()
        with tf.GradientTape() as tape:
            ky = kmodel(tf.constant(ids), training=True)
            kloss = kloss_fn(tf.constant(y), ky)  # Keras reads the mask attached to ky
        kgrads = tape.gradient(kloss, kmodel.trainable_weights)
    msg = str(case)
    assert y_pred.dtype == dtype
    assert_close(y_pred, ky.numpy(), kind="forward", dtype=dtype, msg=msg)
    kmask = getattr(ky, "_keras_mask", None)
    mask = model.output_masks[0]
    assert (mask is None) == (kmask is None), msg
    if kmask is not None:
        np.testing.assert_array_equal(mask, kmask.numpy(), err_msg=msg)
    assert_close(loss, float(kloss), kind="loss", dtype=dtype, msg=msg)
    assert len(grads) == len(kgrads)
    for w, g, kg in zip(model.weight_names, grads, kgrads, strict=True):
        assert g.dtype == dtype
        assert_close(g, tf.convert_to_tensor(kg).numpy(), kind="weight_grad", dtype=dtype,
                     msg=f"{w}: {msg}")


def test_padding_does_not_change_the_prediction():
    """With mask_zero, zeros (pre, post or inside) leave LSTM + GlobalAveragePooling1D
    unchanged; without it, they change the prediction."""
    def build(mask_zero):
        scratch.utils.set_random_seed(0)
        i = Input(shape=(None,), dtype="int32")
        x = Embedding(10, 3, mask_zero=mask_zero)(i)
        x = LSTM(4, return_sequences=True)(x)
        return Model(i, GlobalAveragePooling1D()(x))

    masked, unmasked = build(True), build(False)
    short = np.array([[3, 1, 4]])
    for padded in ([[0, 0, 3, 1, 4]], [[3, 1, 4, 0]], [[3, 0, 1, 0, 4]]):
        assert_close(masked.predict(np.array(padded), verbose=0),
                     masked.predict(short, verbose=0), kind="forward", dtype="float32")
        assert not np.allclose(unmasked.predict(np.array(padded), verbose=0),
                               unmasked.predict(short, verbose=0))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("head", ["gavg", "seq_sparse_ce"])
def test_masked_train_on_batch_matches(tf_keras, head, dtype):
    """Two SGD-with-momentum steps through the compiled loss (mask included) in both engines
    (Adam on an Embedding is covered in tests/test_embedding.py)."""
    case = dict(rnn="LSTM", head=head, N=4, T=5, V=7, D=3, M=4, go_backwards=False,
                padding="anywhere", dtype=dtype, seed=11)
    rng = np.random.default_rng(case["seed"])
    with floatx(tf_keras, dtype):
        model, loss_name = _build(case)
        _randomize(model, rng, dtype)
        kmodel = keras_ref.to_keras(model)
        model.compile(optimizer=scratch.optimizers.SGD(0.1, momentum=0.9), loss=loss_name)
        kmodel.compile(optimizer=tf_keras.optimizers.SGD(0.1, momentum=0.9), loss=loss_name)
        ids, y = _ids(rng, case), _targets(rng, case, dtype)
        for _ in range(2):
            loss = model.train_on_batch(ids, y)
            kloss = kmodel.train_on_batch(ids, y)
            assert_close(loss, kloss, kind="loss", dtype=dtype)
        for name, a, b in zip(model.weight_names, model.get_weights(), kmodel.get_weights(),
                                 strict=True):
            assert_close(a, b, kind="weights_after_steps", dtype=dtype, msg=name)
