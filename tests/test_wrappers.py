"""TimeDistributed and Bidirectional: parity with tf.keras (outputs, masks, dx, initial-state
and weight gradients, configs; tests/parity.py), finite differences, fast == readable, Keras'
weight order and seeds, training with Adam, and files (.keras, .weights.h5, keras_ref) for a
model with every layer of this issue's set.

The recurrent cases come from tests/parity_rnn.py's `draw_rnn_case` (the same configuration
drives both engines); Bidirectional runs two such RNNs, each with its own dropout masks,
injected on both sides as parity_rnn does for one."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import keras_ref
import scratch
from scratch.layers import (
    GRU,
    LSTM,
    BatchNormalization,
    Bidirectional,
    Conv2D,
    Conv2DTranspose,
    Dense,
    Dropout,
    Embedding,
    GaussianDropout,
    GaussianNoise,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    Input,
    Permute,
    RepeatVector,
    Reshape,
    SimpleRNN,
    TimeDistributed,
)
from scratch.models import Model, Sequential
from scratch.testing import assert_close
from tests.conftest import expensive, floatx, medium
from tests.parity import check_layer
from tests.parity_rnn import RnnCase, cell_dropout_masks, draw_rnn_case, inject_masks, n_states
from tests.test_rnn_training import fit_both, long_distance_data

RNNS = {"SimpleRNN": SimpleRNN, "GRU": GRU, "LSTM": LSTM}


# ----------------------------------------------------------------------------- TimeDistributed
@st.composite
def distributed_cases(draw):
    """A wrapped layer (Dense on (N, T, [A,] D) or Conv2D on (N, T, H, W, C)), its input,
    with or without a mask."""
    inner = draw(st.sampled_from(["dense", "dense_rank4", "conv2d"]))
    N, T = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    if inner == "conv2d":
        shape = (N, T, draw(st.integers(2, 4)), draw(st.integers(2, 4)), draw(st.integers(1, 2)))
    elif inner == "dense_rank4":
        shape = (N, T, draw(st.integers(1, 3)), draw(st.integers(1, 4)))
    else:
        shape = (N, T, draw(st.integers(1, 4)))
    return inner, shape, draw(st.booleans()), draw(st.integers(0, 2**16))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@medium
@given(case=distributed_cases())
@example(case=("dense", (1, 1, 1), True, 0))
def test_time_distributed_parity(tf_keras, tf, dtype, case):
    """Dense and Conv2D take the fast path (one call on the N·T samples), checked against
    the per-step loop by the harness; the mask passes through."""
    inner, shape, masked, seed = case
    rng = np.random.default_rng(seed)
    layer = Conv2D(2, 2, activation="tanh", dtype=dtype) if inner == "conv2d" else \
        Dense(3, activation="tanh", dtype=dtype)
    x = rng.standard_normal(shape).astype(dtype)
    mask = rng.random(shape[:2]) > 0.3 if masked else None
    check_layer(TimeDistributed(layer), x, keras=tf_keras, tf=tf, rng=rng,
                call_kwargs={"mask": mask} if masked else {}, gradcheck=dtype == "float64",
                msg=f"{inner} {shape}")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_time_distributed_batch_norm_and_dropout_step_by_step(tf_keras, tf, dtype):
    """As Keras 3: one call per time step, so BatchNormalization normalizes each step with
    its own batch statistics and updates the moving averages T times, and a Dropout draws T
    masks, (s, k) … (s, k + T − 1), the same as tf.keras'."""
    rng = np.random.default_rng(3)
    x = (2 * rng.standard_normal((4, 3, 5)) + 1).astype(dtype)
    layer = TimeDistributed(BatchNormalization(momentum=0.8, dtype=dtype))
    check_layer(layer, x, keras=tf_keras, tf=tf, rng=rng, gradcheck=dtype == "float64")
    ours = TimeDistributed(BatchNormalization(momentum=0.8, dtype=dtype))
    theirs = tf_keras.layers.TimeDistributed.from_config(ours.get_config())
    ours(x, training=True)
    theirs(x, training=True)
    for name, a, b in zip(ours.weight_names, ours.get_weights(), theirs.get_weights(),
                          strict=True):
        assert_close(a, b, kind="forward", dtype=dtype, msg=f"{name} after one call")
    dropout = TimeDistributed(Dropout(0.4, seed=9, dtype=dtype))

    def restart(layer):
        layer.layer.seed_generator = scratch.random.SeedGenerator(9)

    checked = check_layer(dropout, x, keras=tf_keras, tf=tf, rng=rng, exact=True,
                          before_call=restart)
    kept = checked.ours.outputs[0] != 0
    assert not all(np.array_equal(kept[:, 0], kept[:, t]) for t in range(1, 3))


def test_time_distributed_passes_each_step_its_mask(tf_keras, tf):
    """A wrapped layer that takes a mask (GlobalAveragePooling1D over an inner time axis)
    gets mask[:, t], as Keras passes it."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 4, 2))
    mask = rng.random((2, 3, 4)) > 0.4
    mask[:, :, 0] = True
    check_layer(TimeDistributed(GlobalAveragePooling1D(dtype="float64")), x, keras=tf_keras,
                tf=tf, rng=rng, call_kwargs={"mask": mask}, gradcheck=True)


def test_time_distributed_weights_errors_and_integers():
    dense = Dense(2)
    layer = TimeDistributed(dense)
    y = layer(np.zeros((2, 3, 4), "float32"))
    assert y.shape == (2, 3, 2) and layer.get_weights()[0] is not dense.params["kernel"]
    assert layer.params["kernel"] is dense.params["kernel"]  # the same arrays
    layer.trainable = False
    assert not dense.trainable and layer.trainable_weights == []
    with pytest.raises(ValueError, match="at least 3 dimensions"):
        TimeDistributed(Dense(2))(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="Layer` instance"):
        TimeDistributed("dense")
    with pytest.raises(ValueError, match="incompatible with the input shape"):
        TimeDistributed(Dense(2))(np.zeros((2, 3, 4), "float32"), mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match="layer's dtype"):
        TimeDistributed(Dense(2), dtype="float64")
    ids = TimeDistributed(Embedding(10, 3))(np.array([[[1, 2], [3, 0]]]))
    assert ids.shape == (1, 2, 2, 3)


# ----------------------------------------------------------------------------- Bidirectional
class BiCase:
    """One Bidirectional case: the wrapped RNN's case, the merge mode, and its inputs."""

    def __init__(self, rnn: RnnCase, merge_mode):
        self.rnn, self.merge_mode = rnn, merge_mode

    def __repr__(self) -> str:
        return f"Bidirectional({self.rnn!r}, merge_mode={self.merge_mode!r})"


def _bidirectional(case: BiCase):
    """The scratch layer (built, weights from the case's seed), its inputs, the dropout
    injections and the tf.keras twin."""
    rnn, dt = case.rnn, case.rnn.dtype
    config = {k: v for k, v in rnn.config.items() if k != "zero_output_for_mask"}
    layer = Bidirectional(RNNS[rnn.layer](**config, dtype=dt), merge_mode=case.merge_mode)
    N, T, D, M = rnn.N, rnn.T, rnn.D, rnn.config["units"]
    layer.build((N, T, D))
    rng = np.random.default_rng(rnn.seed)
    layer.set_weights([(rng.standard_normal(w.shape) / np.sqrt(max(w.shape[0], M)))
                       .astype(dt) for w in layer.get_weights()])
    x = rng.standard_normal((N, T, D)).astype(dt)
    call_kwargs = {}
    if rnn.use_initial_state:
        call_kwargs["initial_state"] = [rng.standard_normal((N, M)).astype(dt)
                                        for _ in range(2 * n_states(rnn.layer))]
    if rnn.use_mask:
        mask = rng.random((N, T)) > 0.35
        mask[0, 0] = False
        call_kwargs["mask"] = mask
    drops = [cell_dropout_masks(rnn, rng) for _ in range(2)]  # each direction its own

    def before_call(layer):
        for sub, masks in zip((layer.forward_layer, layer.backward_layer), drops):
            inject_masks(sub.cell, masks)

    def before_keras_call(klayer):
        for sub, masks in zip((klayer.forward_layer, klayer.backward_layer), drops):
            inject_masks(sub.cell, masks, keras=True)

    return layer, x, call_kwargs, before_call, before_keras_call


def _keras_twin(tf_keras, layer):
    """tf.keras' Bidirectional from scratch's config; the cuDNN attempt is skipped (it
    crashes on per-gate dropout masks, see tests/parity_rnn.py; the numbers are the same)."""
    klayer = tf_keras.layers.Bidirectional.from_config(layer.get_config())
    if hasattr(klayer.forward_layer, "use_cudnn"):
        klayer.forward_layer.use_cudnn = klayer.backward_layer.use_cudnn = False
    return klayer


@st.composite
def bidirectional_cases(draw, dtype):
    kind = draw(st.sampled_from(sorted(RNNS)))
    rnn = draw(draw_rnn_case(kind, dtype))
    return BiCase(rnn._replace(config={k: v for k, v in rnn.config.items()
                                       if k != "go_backwards"}),
                  draw(st.sampled_from(["concat", "sum", "ave", "mul", None])))


EDGE = BiCase(RnnCase("LSTM", {"units": 1, "return_sequences": True, "return_state": True,
                               "dropout": 0.5, "recurrent_dropout": 0.5}, 1, 1, 1, True, True,
                      True, 3, "float64"), None)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@expensive
@given(data=st.data())
@example(data=None)
def test_bidirectional_parity(tf_keras, tf, dtype, data):
    case = BiCase(EDGE.rnn._replace(dtype=dtype), None) if data is None else data.draw(
        bidirectional_cases(dtype))
    layer, x, call_kwargs, before, before_keras = _bidirectional(case)
    check_layer(layer, x, keras=tf_keras, tf=tf, keras_layer=_keras_twin(tf_keras, layer),
                call_kwargs=call_kwargs, training=case.rnn.training, before_call=before,
                before_keras_call=before_keras, gradcheck=dtype == "float64",
                seed=case.rnn.seed % 1000, msg=repr(case))


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul", None])
def test_bidirectional_every_merge_with_everything_at_once(tf_keras, tf, merge_mode):
    config = {"units": 3, "return_sequences": True, "return_state": True, "dropout": 0.3,
              "recurrent_dropout": 0.2}
    for dtype in ("float64", "float32"):
        case = BiCase(RnnCase("LSTM", config, 3, 4, 2, True, True, True, 5, dtype), merge_mode)
        layer, x, call_kwargs, before, before_keras = _bidirectional(case)
        check_layer(layer, x, keras=tf_keras, tf=tf, keras_layer=_keras_twin(tf_keras, layer),
                    call_kwargs=call_kwargs, before_call=before, before_keras_call=before_keras,
                    msg=repr(case))


def test_bidirectional_layers_names_weights_and_errors():
    lstm = LSTM(4, name="enc")
    layer = Bidirectional(lstm)
    assert (layer.forward_layer.name, layer.backward_layer.name) == ("forward_enc",
                                                                    "backward_enc")
    assert layer.backward_layer.go_backwards and not layer.forward_layer.go_backwards
    assert layer.forward_layer is not lstm
    layer.build((None, 5, 3))
    assert list(layer.params) == [f"{d}_enc/{w}" for d in ("forward", "backward")
                                  for w in ("kernel", "recurrent_kernel", "bias")]
    assert layer.compute_output_shape((None, 5, 3)) == (None, 8)
    assert layer.params["forward_enc/kernel"] is layer.forward_layer.params["kernel"]
    layer.trainable = False
    assert not layer.forward_layer.cell.trainable and layer.trainable_weights == []
    with pytest.raises(ValueError, match="Invalid merge mode"):
        Bidirectional(LSTM(2), merge_mode="max")
    with pytest.raises(ValueError, match="recurrent layer"):
        Bidirectional(Dense(2))
    with pytest.raises(ValueError, match="different `go_backwards`"):
        Bidirectional(LSTM(2), backward_layer=LSTM(2))
    with pytest.raises(ValueError, match='"return_sequences"'):
        Bidirectional(LSTM(2), backward_layer=LSTM(2, go_backwards=True,
                                                   return_sequences=True))
    with pytest.raises(ValueError, match="expected 4 initial states"):
        Bidirectional(LSTM(2))(np.zeros((1, 3, 2), "float32"),
                               initial_state=[np.zeros((1, 2), "float32")] * 2)


def test_bidirectional_custom_backward_layer(tf_keras, tf):
    rng = np.random.default_rng(6)
    layer = Bidirectional(GRU(3, return_sequences=True, dtype="float64"),
                          backward_layer=GRU(3, go_backwards=True, return_sequences=True,
                                             activation="relu", dtype="float64"))
    x = rng.standard_normal((2, 4, 3))
    checked = check_layer(layer, x, keras=tf_keras, tf=tf, rng=rng, gradcheck=True)
    assert checked.ours.outputs[0].shape == (2, 4, 6)
    assert checked.keras_layer.backward_layer.activation.__name__ == "relu"


def test_bidirectional_graph_backprops_into_symbolic_initial_states():
    """bi(x, initial_state=[h_f, h_b]) on Inputs is recorded as a call on [x, h_f, h_b], as
    an RNN's; the model's backward returns the states' gradients, equal to the layer's."""
    rng = np.random.default_rng(7)
    x, h_f, h_b = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 5)), \
        rng.standard_normal((2, 5))
    i, hf, hb = Input((4, 3), dtype="float64"), Input((5,), dtype="float64"), \
        Input((5,), dtype="float64")
    bi = Bidirectional(GRU(5, return_sequences=True, dtype="float64"), merge_mode="sum")
    model = Model([i, hf, hb], bi(i, initial_state=[hf, hb]))
    y = model.forward([x, h_f, h_b])
    dy = rng.standard_normal(y.shape)
    dx, dh_f, dh_b = model.backward(dy)
    np.testing.assert_array_equal(bi(x, initial_state=[h_f, h_b]), y)
    np.testing.assert_array_equal(bi.backward(dy), dx)
    np.testing.assert_array_equal(bi.initial_state_grads[0], dh_f)
    np.testing.assert_array_equal(bi.initial_state_grads[1], dh_b)


def test_same_seed_same_initial_weights(tf_keras):
    """Bidirectional copies its layer twice from the config, as Keras: the copies draw
    their initializers' seeds from Python's `random` in Keras' order."""
    def build(k):
        return k.Sequential([k.Input((5, 3)),
                             k.layers.Bidirectional(k.layers.LSTM(4, return_sequences=True)),
                             k.layers.TimeDistributed(k.layers.Dense(2))])

    tf_keras.utils.set_random_seed(12)
    kmodel = build(tf_keras)
    scratch.utils.set_random_seed(12)
    model = build(scratch)
    for w, ours in zip(kmodel.weights, model.get_weights(), strict=True):
        if "recurrent_kernel" in w.path:  # Orthogonal: the QR's last bits (docs/RANDOMNESS.md)
            assert_close(ours, w.numpy(), kind="forward", dtype="float32", msg=w.path)
        else:
            np.testing.assert_array_equal(ours, w.numpy(), err_msg=w.path)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bidirectional_lstm_fit_matches(tf_keras, dtype):
    """Lecture 48's long-distance model made bidirectional: Bidirectional(LSTM,
    return_sequences) → GlobalMaxPooling1D → Dense(sigmoid), Adam, 2 epochs from identical
    weights: the history and every weight within the `training` tolerance."""
    with floatx(tf_keras, dtype):
        scratch.utils.set_random_seed(51)
        x, y = long_distance_data(n=160, T=6, dtype=dtype)
        model = Sequential([Input((6, 1)), Bidirectional(LSTM(4, return_sequences=True)),
                            GlobalMaxPooling1D(), Dense(1, activation="sigmoid")])
        fit_both(tf_keras, model, "binary_crossentropy", 0.01, x, y, dtype,
                 metrics=["accuracy"])


# ----------------------------------------------------------------------------- files
def _every_layer_model():
    """A functional model with every layer of the set (issue 17): noise, Bidirectional with
    initial states, TimeDistributed, Permute, RepeatVector, Conv2DTranspose."""
    i, h, c = Input((6, 4)), Input((3,)), Input((3,))
    x = GaussianNoise(0.1, seed=3)(i)
    x = Bidirectional(LSTM(3, return_sequences=True), merge_mode="ave")(
        x, initial_state=[h, c, h, c])
    x = TimeDistributed(Dense(2))(x)
    x = Permute((2, 1))(x)
    x = Bidirectional(GRU(2))(x)
    x = RepeatVector(5)(x)
    x = Reshape((5, 4, 1))(x)
    x = Conv2DTranspose(2, 3, strides=2, padding="same", output_padding=1)(x)
    x = GaussianDropout(0.2, seed=4)(x)
    return Model([i, h, c], x)


def test_files_and_keras_ref_round_trip(tf_keras, tmp_path):
    """.keras and .weights.h5 both ways (scratch ⇄ tf.keras), and keras_ref: the weights
    bitwise, the predictions within the forward tolerance (tf.keras computes them)."""
    rng = np.random.default_rng(8)
    model = _every_layer_model()
    model.set_weights([rng.standard_normal(w.shape).astype("float32") / 2
                       for w in model.get_weights()])
    xs = [rng.standard_normal(s).astype("float32") for s in ((2, 6, 4), (2, 3), (2, 3))]
    y = model.predict(xs, verbose=0)

    def same_weights(other, what):
        for a, b in zip(model.get_weights(), other.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b, err_msg=what)

    model.save(tmp_path / "m.keras")
    model.save_weights(tmp_path / "m.weights.h5")
    back = scratch.models.load_model(tmp_path / "m.keras")
    same_weights(back, "scratch .keras")
    np.testing.assert_array_equal(back.predict(xs, verbose=0), y)
    kmodel = tf_keras.models.load_model(tmp_path / "m.keras")
    same_weights(kmodel, "tf.keras loading scratch's .keras")
    assert_close(y, kmodel.predict(xs, verbose=0), kind="forward", dtype="float32")
    kmodel.save(tmp_path / "k.keras")
    kmodel.save_weights(tmp_path / "k.weights.h5")
    same_weights(scratch.models.load_model(tmp_path / "k.keras"), "tf.keras' .keras")
    fresh = _every_layer_model()
    fresh.load_weights(tmp_path / "k.weights.h5")
    same_weights(fresh, "tf.keras' .weights.h5")
    kfresh = keras_ref.to_keras(_every_layer_model())
    kfresh.load_weights(tmp_path / "m.weights.h5")
    same_weights(kfresh, "scratch's .weights.h5 in tf.keras")
    same_weights(keras_ref.to_keras(model), "to_keras")
    same_weights(keras_ref.from_keras(kmodel), "from_keras")


def test_parity_report_of_a_model_with_the_wrappers(tf_keras):
    """keras_ref.compare over a masked text model: Embedding(mask_zero) → Bidirectional →
    TimeDistributed(Dropout) → TimeDistributed(Dense) → GlobalAveragePooling1D: the mask reaches
    both directions and the pooling, the wrappers' inner seed generators are paired, and no
    row diverges over two SGD steps (SGD: Keras' Adam treats an Embedding's sparse gradient
    differently, tests/test_rnn_training.py)."""
    rng = np.random.default_rng(9)
    ids = rng.integers(1, 12, (8, 5))
    ids[:3, :2] = 0  # padded steps
    model = Sequential([Input((5,), dtype="int64"), Embedding(12, 3, mask_zero=True),
                        Bidirectional(SimpleRNN(3, return_sequences=True, dropout=0.2)),
                        TimeDistributed(Dropout(0.3)), TimeDistributed(Dense(2)),
                        GlobalAveragePooling1D(), Dense(1)])
    model.compile(scratch.optimizers.SGD(0.1), "mse")
    y = rng.standard_normal((8, 1)).astype("float32")
    report = keras_ref.compare(model, ids, y, steps=2)
    assert report.first_divergence is None, str(report)
