"""Attention and MultiHeadAttention against tf.keras: outputs, input and weight gradients,
masks (Keras masks, value/key masks, attention_mask, causal, sliding window), dropout with
the same draws, float64 gradchecks, files, keras_ref, seeds and a short Adam fit
(docs/KERAS_NUMERICS.md §Attention)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

import keras_ref
import scratch
from scratch.layers import Dense, Embedding, GlobalAveragePooling1D, Input
from scratch.layers.attention import Attention, masked_softmax_backward, masked_softmax_forward
from scratch.layers.multi_head_attention import MultiHeadAttention
from scratch.models import Model
from scratch.testing import assert_close
from tests.conftest import floatx, medium
from tests.parity import Run, check_layer, compare, keras_vjp

SEED = 5  # the dropout layers' seed in both engines

# tf.keras warns about a softmax over one key (Tv = 1), a case these tests draw on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:You are using a softmax over axis")


def _reseed(seed):
    """Before each scratch call: the dropout generator back to (seed, 0), so that every call
    (fast/readable, gradcheck) draws the first mask, the one tf.keras' first call draws."""
    def before_call(layer):
        if layer.dropout > 0:
            layer.seed_generator.state = (seed, 0)
    return before_call


def _reseed_keras(seed, generator):
    def before_call(klayer):
        state = generator(klayer).state
        state.assign(np.array([seed, 0], dtype=state.dtype))
    return before_call


class _KerasMHA:
    """tf.keras' MultiHeadAttention called the way the harness calls layers, on a list
    [query, value(, key)] (Keras' own signature takes them as arguments)."""

    def __init__(self, klayer):
        self.klayer = klayer

    def __getattr__(self, name):
        return getattr(self.klayer, name)

    def __call__(self, xs, training=None, **kwargs):
        key = xs[2] if len(xs) == 3 else None
        return self.klayer(xs[0], xs[1], key=key, training=training, **kwargs)

    def build(self, shapes):
        self.klayer.build(*shapes)

    def compute_output_shape(self, shapes):
        return self.klayer.compute_output_shape(*shapes)


# ------------------------------------------------------------------------------ Attention
@st.composite
def attention_cases(draw):
    with_key = draw(st.booleans())
    D = draw(st.integers(1, 4))
    return dict(B=draw(st.integers(1, 3)), Tq=draw(st.integers(1, 4)),
                Tv=draw(st.integers(1, 4)), D=D,
                Dv=draw(st.integers(1, 4)) if with_key else D, with_key=with_key,
                use_scale=draw(st.booleans()), score_mode=draw(st.sampled_from(["dot", "concat"])),
                masks=draw(st.booleans()), causal=draw(st.booleans()),
                dropout=draw(st.sampled_from([0.0, 0.4])), scores=draw(st.booleans()),
                dtype=draw(st.sampled_from(["float64", "float32"])),
                seed=draw(st.integers(0, 2**16)))


def _attention_inputs(case, rng):
    dtype = case["dtype"]
    q = rng.standard_normal((case["B"], case["Tq"], case["D"])).astype(dtype)
    v = rng.standard_normal((case["B"], case["Tv"], case["Dv"])).astype(dtype)
    xs = [q, v]
    if case["with_key"]:
        xs.append(rng.standard_normal((case["B"], case["Tv"], case["D"])).astype(dtype))
    kwargs = {}
    if case["masks"]:
        v_mask = rng.random((case["B"], case["Tv"])) < 0.6
        v_mask[:, 0] = True  # every query keeps a key to attend to (Keras' requirement)
        kwargs["mask"] = [rng.random((case["B"], case["Tq"])) < 0.7, v_mask]
    if case["scores"]:
        kwargs["return_attention_scores"] = True
    if case["causal"]:
        kwargs["use_causal_mask"] = True
    return xs, kwargs


@medium
@given(attention_cases())
@example(dict(B=2, Tq=3, Tv=4, D=2, Dv=3, with_key=True, use_scale=True, score_mode="concat",
              masks=True, causal=True, dropout=0.4, scores=True, dtype="float64", seed=1))
@example(dict(B=2, Tq=4, Tv=3, D=3, Dv=3, with_key=False, use_scale=True, score_mode="dot",
              masks=True, causal=False, dropout=0.4, scores=False, dtype="float32", seed=2))
def test_attention_matches_keras(tf_keras, tf, case):
    rng = np.random.default_rng(case["seed"])
    dtype = case["dtype"]
    xs, kwargs = _attention_inputs(case, rng)
    layer = Attention(use_scale=case["use_scale"], score_mode=case["score_mode"],
                      dropout=case["dropout"], seed=SEED, dtype=dtype)
    layer.build([x.shape for x in xs])
    layer.set_weights([rng.uniform(0.5, 1.5, ()).astype(dtype) for _ in layer.weights])
    check_layer(layer, xs, keras=tf_keras, tf=tf, rng=rng, call_kwargs=kwargs,
                before_call=_reseed(SEED),
                before_keras_call=_reseed_keras(SEED, lambda k: k.seed_generator)
                if case["dropout"] else None,
                output_shape=not case["scores"], gradcheck=dtype == "float64", msg=str(case))


# ------------------------------------------------------------------------------ MultiHeadAttention
MASK_KINDS = ["none", "value", "value_key", "attention", "attention_2d", "causal", "window",
              "all"]


@st.composite
def mha_cases(draw):
    with_key = draw(st.booleans())
    Dv = draw(st.integers(1, 4))
    out = draw(st.sampled_from([None, 2, (2, 3)]))
    return dict(B=draw(st.integers(1, 2)), T=draw(st.integers(1, 4)), S=draw(st.integers(1, 4)),
                D=draw(st.integers(1, 4)), Dv=Dv,
                Dk=draw(st.integers(1, 4)) if with_key else Dv, with_key=with_key,
                num_heads=draw(st.integers(1, 3)), key_dim=draw(st.integers(1, 3)),
                value_dim=draw(st.sampled_from([None, 1, 3])), use_bias=draw(st.booleans()),
                output_shape=out, masks=draw(st.sampled_from(MASK_KINDS)),
                dropout=draw(st.sampled_from([0.0, 0.3])), scores=draw(st.booleans()),
                dtype=draw(st.sampled_from(["float64", "float32"])),
                seed=draw(st.integers(0, 2**16)))


def _mha_inputs(case, rng):
    dtype, B, T, S = case["dtype"], case["B"], case["T"], case["S"]
    xs = [rng.standard_normal((B, T, case["D"])).astype(dtype),
          rng.standard_normal((B, S, case["Dv"])).astype(dtype)]
    if case["with_key"]:
        xs.append(rng.standard_normal((B, S, case["Dk"])).astype(dtype))
    kinds, kwargs = case["masks"], {}
    if kinds in ("value", "value_key", "all"):
        m = rng.random((B, S)) < 0.6
        m[:, 0] = True
        kwargs["value_mask"] = m
    if kinds in ("value_key", "all") and case["with_key"]:
        kwargs["key_mask"] = rng.random((B, S)) < 0.8
    if kinds in ("attention", "all"):
        kwargs["attention_mask"] = rng.random((B, T, S)) < 0.6
    if kinds == "attention_2d":
        kwargs["attention_mask"] = (rng.random((T, S)) < 0.6).astype("int32")
    if kinds in ("causal", "all"):
        kwargs["use_causal_mask"] = True
    if case["scores"]:
        kwargs["return_attention_scores"] = True
    return xs, kwargs


def _hits_keras_bias_bug(case) -> bool:
    """tf.keras 3.15 adds a projection's bias (H, 1) along the time axis when the sequence
    has H steps (see test_bias_of_a_size_one_head_follows_the_math)."""
    H = case["num_heads"]
    d_v = case["value_dim"] or case["key_dim"]
    return H > 1 and ((case["key_dim"] == 1 and H in (case["T"], case["S"]))
                      or (d_v == 1 and H == case["S"]))


def _mha(case, **overrides):
    args = dict(num_heads=case["num_heads"], key_dim=case["key_dim"],
                value_dim=case["value_dim"], use_bias=case["use_bias"],
                output_shape=case["output_shape"], dropout=case["dropout"], seed=SEED,
                sliding_window=2 if case["masks"] in ("window", "all") else None,
                dtype=case["dtype"])
    return MultiHeadAttention(**{**args, **overrides})


@medium
@given(mha_cases())
@example(dict(B=2, T=3, S=4, D=3, Dv=2, Dk=4, with_key=True, num_heads=2, key_dim=3,
              value_dim=None, use_bias=True, output_shape=None, masks="all", dropout=0.3,
              scores=True, dtype="float64", seed=1))
@example(dict(B=2, T=4, S=2, D=2, Dv=3, Dk=3, with_key=False, num_heads=3, key_dim=2,
              value_dim=1, use_bias=False, output_shape=(2, 3), masks="window", dropout=0.0,
              scores=False, dtype="float32", seed=2))
def test_multi_head_attention_matches_keras(tf_keras, tf, case):
    assume(not _hits_keras_bias_bug(case))
    rng = np.random.default_rng(case["seed"])
    xs, kwargs = _mha_inputs(case, rng)
    layer = _mha(case)
    layer.build([x.shape for x in xs])
    layer.set_weights([rng.standard_normal(w.shape).astype(case["dtype"])
                       for w in layer.weights])
    klayer = _KerasMHA(tf_keras.layers.MultiHeadAttention.from_config(layer.get_config()))
    check_layer(layer, xs, keras=tf_keras, tf=tf, keras_layer=klayer, rng=rng,
                call_kwargs=kwargs, before_call=_reseed(SEED),
                before_keras_call=_reseed_keras(SEED, lambda k: k._dropout_layer.seed_generator)
                if case["dropout"] else None,
                output_shape=not case["scores"], gradcheck=case["dtype"] == "float64",
                msg=str(case))


def test_bias_of_a_size_one_head_follows_the_math(tf_keras):
    """With key_dim or value_dim 1 and H > 1 heads, a projection's bias (H, 1) squeezes to a
    vector, and tf.keras 3.15's `ops.add` then takes it for a `tf.nn.bias_add` bias: along
    axis 1, the time axis, when the sequence has H steps (NCHW). scratch adds b[h] to head h,
    as the EinsumDense equation says; tf.keras agrees when T ≠ H."""
    rng = np.random.default_rng(0)
    for T, keras_agrees in [(2, False), (3, True)]:
        x = rng.standard_normal((2, T, 4))
        layer = MultiHeadAttention(2, 3, value_dim=1, dtype="float64")
        layer(x, x)
        layer.set_weights([rng.standard_normal(w.shape) for w in layer.weights])
        kernel, bias = layer.params["value/kernel"], layer.params["value/bias"]
        klayer = tf_keras.layers.MultiHeadAttention(2, 3, value_dim=1, dtype="float64")
        klayer.build(x.shape, x.shape)
        klayer.set_weights(layer.get_weights())
        math = np.einsum("btd,dhe->bthe", x, kernel) + bias
        layer(x, x)
        ours = layer._cache.v.transpose(0, 2, 1, 3)  # (B, T, H, 1)
        np.testing.assert_allclose(ours, math, rtol=1e-13, atol=1e-13)
        theirs = klayer.value_dense(x).numpy()
        assert np.allclose(theirs, math, rtol=1e-12, atol=1e-12) == keras_agrees


def test_weight_names_shapes_and_order_are_kerass(tf_keras):
    layer = MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4, output_shape=5, name="mha")
    layer.build([(None, 6, 7), (None, 5, 8), (None, 5, 9)])
    klayer = tf_keras.layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4,
                                                output_shape=5, name="mha")
    klayer.build((None, 6, 7), (None, 5, 8), (None, 5, 9))
    names = [f"mha/{n}" for n in layer.weight_names]
    assert names == [w.path for w in klayer.weights]
    assert [w.shape for w in layer.weights] == [tuple(w.shape) for w in klayer.weights]
    assert names[0] == "mha/query/kernel" and layer.weights[0].shape == (7, 2, 3)
    assert layer.weights[6].shape == (2, 4, 5)


def test_initial_weights_are_kerass_for_the_same_seed(tf_keras):
    """Each projection clones the initializers (an unseeded clone draws a seed) and the
    dropout's SeedGenerator is made between the value and the output projections, as in
    Keras: after the same set_random_seed the initial weights are bit-identical."""
    for dropout in (0.0, 0.2):
        scratch.utils.set_random_seed(11)
        layer = MultiHeadAttention(3, 2, dropout=dropout)
        layer.build([(None, 4, 5), (None, 3, 6)])
        after = scratch.random.make_default_seed()
        tf_keras.utils.set_random_seed(11)
        klayer = tf_keras.layers.MultiHeadAttention(3, 2, dropout=dropout)
        klayer.build((None, 4, 5), (None, 3, 6))
        import random as python_random
        kafter = python_random.randint(1, int(1e9))
        for a, b in zip(layer.get_weights(), klayer.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
        assert after == kafter  # the same number of seeds drawn


# ------------------------------------------------------------------------------ in a model
def _text_model(L, make_input, case):
    """Embedding(mask_zero) → self-attention → (the attention output, GAP → Dense)."""
    dtype = case["dtype"]
    ids = make_input(shape=(case["T"],), dtype="int32")
    x = L.Embedding(7, 4, mask_zero=True, dtype=dtype)(ids)
    if case["layer"] == "mha":
        mha = L.MultiHeadAttention(2, 3, dropout=case["dropout"], seed=SEED, dtype=dtype)
        y = mha(x, x, use_causal_mask=case["causal"],
                return_attention_scores=case["scores"])
        y = y[0] if case["scores"] else y
    else:
        y = L.Attention(use_scale=True, dropout=case["dropout"], seed=SEED, dtype=dtype)(
            [x, x], use_causal_mask=case["causal"])
    out = L.Dense(2, dtype=dtype)(L.GlobalAveragePooling1D(dtype=dtype)(y))
    return ids, [y, out]


MODEL_CASES = [
    dict(layer="mha", T=5, causal=False, scores=False, dropout=0.0, dtype="float64"),
    dict(layer="mha", T=5, causal=True, scores=True, dropout=0.0, dtype="float32"),
    dict(layer="mha", T=4, causal=False, scores=False, dropout=0.3, dtype="float64"),
    dict(layer="attention", T=5, causal=True, scores=False, dropout=0.3, dtype="float32"),
]


def _model_runs(tf_keras, tf, build, dtype, T, rng):
    """Both engines' runs of the same model on ids with padding: outputs, output masks and
    every weight gradient for one random cotangent (training mode)."""
    with floatx(tf_keras, dtype):
        model = Model(*build(scratch.layers, Input))
        kmodel = tf_keras.Model(*build(tf_keras.layers, tf_keras.Input))
        weights = [rng.standard_normal(w.shape).astype(dtype) for w in model.get_weights()]
        model.set_weights(weights)
        kmodel.set_weights(weights)
        ids = rng.integers(1, 7, (3, T)).astype("int32")
        ids[0, -2:] = 0  # padded steps
        ids[1, 0] = 0
        ys = model.forward(ids, training=True)
        vs = [rng.standard_normal(y.shape).astype(dtype) for y in as_outputs(ys)]
        model.backward(vs if len(vs) > 1 else vs[0])
        grads = {id(w): g for g, w in model.grads_and_vars()}
        ours = Run(outputs=as_outputs(ys), masks=model.output_masks, dx=[None], d_states=[],
                   grads=[grads[id(w)] for w in model.trainable_weights], cotangents=vs)
        ref = keras_vjp(tf, lambda x: kmodel(x, training=True), ids, vs,
                        weights=kmodel.trainable_weights)
    return ids, ours, ref


def as_outputs(ys):
    return list(ys) if isinstance(ys, list) else [ys]


@pytest.mark.parametrize("case", MODEL_CASES, ids=str)
def test_masks_from_embedding_flow_as_in_keras(tf_keras, tf, case):
    """The Keras masks of Embedding(mask_zero=True) reach the attention (query, value and
    key masks), its output keeps the query's mask, padded query rows take Keras' values
    (the mean of the values through dot_product_attention, 0 through the Softmax layer) and
    pooling skips them; outputs, masks and every weight gradient match."""
    def build(L, make_input):
        return _text_model(L, make_input, case)

    rng = np.random.default_rng(0)
    ids, ours, ref = _model_runs(tf_keras, tf, build, case["dtype"], case["T"], rng)
    np.testing.assert_array_equal(ours.masks[0], ids != 0)
    compare(ours, ref, case["dtype"], msg=str(case))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_masks_cleared_by_attention_as_in_keras(tf_keras, tf, dtype):
    """Keras' MultiHeadAttention clears the masks of its inputs as it runs: two residual
    blocks (attention, Add, LayerNormalization, Dropout) on a masked embedding, then the
    value reused by a cross-attention. The second block's attention sees no mask (its Add
    had an unmasked input), the cross-attention attends to padded steps of the embedding,
    and the pooling keeps the mask it got when the model was built; all as in tf.keras."""
    def build(L, make_input):
        ids = make_input(shape=(5,), dtype="int32")
        x = L.Embedding(7, 4, mask_zero=True, dtype=dtype)(ids)
        h = x
        for _ in range(2):
            a = L.MultiHeadAttention(2, 3, dtype=dtype)(h, h)
            h = L.LayerNormalization(dtype=dtype)(L.Add(dtype=dtype)([h, a]))
            h = L.Dropout(0.0, dtype=dtype)(h)
        c = L.MultiHeadAttention(1, 2, dtype=dtype)(h, x)
        pooled = L.GlobalAveragePooling1D(dtype=dtype)(L.Add(dtype=dtype)([h, c]))
        return ids, L.Dense(2, dtype=dtype)(pooled)

    _, ours, ref = _model_runs(tf_keras, tf, build, dtype, 5, np.random.default_rng(3))
    compare(ours, ref, dtype)


@pytest.mark.parametrize("dtype,dropout", [("float32", 0.2), ("float64", 0.0)])
def test_adam_fit_matches_tf_keras(tf_keras, dtype, dropout):
    """Embedding → MultiHeadAttention (self-attention) → GlobalAveragePooling1D → Dense,
    trained with Adam (fit, 2 epochs of 3 batches, shuffle=False): history and weights
    within the `training` tolerance; with dropout, both engines drop the same weights."""
    rng = np.random.default_rng(1)
    x = rng.integers(0, 12, (40, 6)).astype("int32")
    x[::3, -2:] = 0
    y = (x[:, 0] > 5).astype(dtype)
    with floatx(tf_keras, dtype):
        ids = Input(shape=(6,), dtype="int32")
        e = Embedding(12, 8, mask_zero=True, dtype=dtype)(ids)
        a = MultiHeadAttention(2, 4, dropout=dropout, seed=SEED, dtype=dtype)(e, e)
        out = Dense(1, activation="sigmoid", dtype=dtype)(GlobalAveragePooling1D(dtype=dtype)(a))
        model = Model(ids, out)
        model.compile(optimizer=scratch.optimizers.Adam(0.01), loss="binary_crossentropy")
        kmodel = keras_ref.to_keras(model)
        kmodel.compile(optimizer=tf_keras.optimizers.Adam(0.01), loss="binary_crossentropy")
        kw = dict(epochs=2, batch_size=16, shuffle=False, verbose=0)
        h = model.fit(x, y, **kw)
        kh = kmodel.fit(x, y, **kw)
    assert_close(np.array(h.history["loss"]), np.array(kh.history["loss"]), kind="training",
                 dtype=dtype)
    for a, b in zip(model.get_weights(), kmodel.get_weights(), strict=True):
        assert a.dtype == dtype
        assert_close(a, b, kind="training", dtype=dtype)


def test_parity_report_pairs_the_dropout_streams():
    """keras_ref.compare starts tf.keras' dropout generators from scratch's: the attention
    layers' own (Attention) and MultiHeadAttention's Dropout sub-layer's, so 3 Adam steps
    with dropout in both layers report no divergence."""
    ids = Input(shape=(6,), dtype="int32")
    e = Embedding(12, 8, mask_zero=True)(ids)
    a = MultiHeadAttention(2, 4, dropout=0.3, seed=4)(e, e, use_causal_mask=True)
    b = Attention(dropout=0.2, use_scale=True, seed=2)([a, e])
    model = Model(ids, Dense(1, activation="sigmoid")(GlobalAveragePooling1D()(b)))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 12, (8, 6)).astype("int32")
    x[0, -2:] = 0
    y = rng.integers(0, 2, 8).astype("float32")
    report = keras_ref.compare(model, x, y, steps=3)
    assert report.first_divergence is None, str(report)


# ------------------------------------------------------------------------------ files, keras_ref
def _graph(L, make_input, mask_zero=True):
    """Every way the layers are called in a graph: MHA with a key, an attention-mask input,
    the causal mask and the scores; Attention on [query, value, key] with the scores."""
    ids = make_input(shape=(5,), dtype="int32")
    allowed = make_input(shape=(5, 5), dtype="int32", name="allowed")
    x = L.Embedding(9, 4, mask_zero=mask_zero)(ids)
    k = L.Dense(3)(x)
    a, scores = L.MultiHeadAttention(2, 3, name="mha")(
        x, x, key=k, attention_mask=allowed, use_causal_mask=True,
        return_attention_scores=True)
    b = L.MultiHeadAttention(1, 2, value_dim=3, output_shape=6, use_bias=False,
                             name="mha2")(a, x)
    c, cs = L.Attention(use_scale=True, score_mode="concat", name="att")(
        [b, x, L.Dense(6)(x)], return_attention_scores=True)
    return [ids, allowed], [L.GlobalAveragePooling1D()(c), scores, cs]


def _graph_inputs(rng):
    ids = rng.integers(0, 9, (3, 5)).astype("int32")
    ids[0, -1] = 0
    return [ids, (rng.random((3, 5, 5)) < 0.7).astype("int32")]


def test_keras_files_and_keras_ref_both_ways(tf_keras, tmp_path):
    rng = np.random.default_rng(2)
    xs = _graph_inputs(rng)
    model = Model(*_graph(scratch.layers, Input))
    model.set_weights([rng.standard_normal(w.shape).astype("float32")
                       for w in model.get_weights()])
    ys = model.predict(xs, verbose=0)
    # scratch → .keras → tf.keras, and keras_ref.to_keras: the same predictions
    model.save(tmp_path / "m.keras")
    kloaded = tf_keras.models.load_model(tmp_path / "m.keras")
    for kmodel in (kloaded, keras_ref.to_keras(model)):
        for y, ky in zip(ys, kmodel.predict(xs, verbose=0), strict=True):
            assert_close(y, ky, kind="forward", dtype="float32")
        for a, b in zip(model.get_weights(), kmodel.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    # tf.keras → .keras → scratch, keras_ref.from_keras, and .weights.h5 both ways. (Without
    # mask_zero: with it, tf.keras records the masks of the pooling as operations of its
    # graph, NotEqual and ConvertToTensor, which scratch does not read.)
    kmodel = tf_keras.Model(*_graph(tf_keras.layers, tf_keras.Input, mask_zero=False))
    model = Model(*_graph(scratch.layers, Input, mask_zero=False))
    kmodel.save(tmp_path / "k.keras")
    kmodel.save_weights(tmp_path / "k.weights.h5")
    loaded = scratch.models.load_model(tmp_path / "k.keras")
    model.load_weights(tmp_path / "k.weights.h5")
    for other in (loaded, keras_ref.from_keras(kmodel), model):
        for a, b in zip(other.get_weights(), kmodel.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
        for y, ky in zip(other.predict(xs, verbose=0), kmodel.predict(xs, verbose=0),
                         strict=True):
            assert_close(y, ky, kind="forward", dtype="float32")
    model.save_weights(tmp_path / "s.weights.h5")
    kmodel.load_weights(tmp_path / "s.weights.h5")
    for a, b in zip(model.get_weights(), kmodel.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------ the pieces
def test_masking_rules_on_a_fully_masked_row():
    """Keras' three rules: the Softmax layer zeroes a row with no allowed key,
    dot_product_attention makes it uniform, Attention's S − 1e9 keeps softmax(S) (float64)."""
    s = np.array([[[1.0, 2.0, 4.0], [0.5, 0.0, -1.0]]])
    allowed = np.array([[[True, False, True], [False, False, False]]])
    p, _ = masked_softmax_forward(s, allowed, "softmax_layer")
    np.testing.assert_array_equal(p[0, 1], 0.0)
    assert p[0, 0, 1] == 0.0 and abs(p[0, 0].sum() - 1) < 1e-15
    p, _ = masked_softmax_forward(s, allowed, "dot_product_attention")
    np.testing.assert_array_equal(p[0, 1], 1 / 3)
    p, cache = masked_softmax_forward(s, allowed, "attention")
    e = np.exp(s[0, 1] - s[0, 1].max())
    np.testing.assert_allclose(p[0, 1], e / e.sum(), rtol=1e-6)
    d = masked_softmax_backward(np.ones_like(p), cache)
    assert d.shape == s.shape
    with pytest.raises(ValueError, match="rule"):
        masked_softmax_forward(s, allowed, "other")


def test_errors_follow_keras():
    with pytest.raises(ValueError, match="num_heads=0"):
        MultiHeadAttention(0, 2)
    with pytest.raises(ValueError, match="key_dim=x"):
        MultiHeadAttention(2, "x")
    with pytest.raises(ValueError, match="dropout=1.5"):
        MultiHeadAttention(2, 2, dropout=1.5)
    with pytest.raises(ValueError, match="use_gate=True"):
        MultiHeadAttention(2, 2, use_gate=True)
    with pytest.raises(ValueError, match="sliding_window=0"):
        MultiHeadAttention(2, 2, sliding_window=0)
    with pytest.raises(ValueError, match="attention_axes"):
        MultiHeadAttention(2, 2, attention_axes=(2,)).build([(None, 3, 4), (None, 3, 4)])
    with pytest.raises(ValueError, match="time axis"):
        MultiHeadAttention(2, 2).build([(None, 3, 4, 5), (None, 3, 4, 5)])
    with pytest.raises(ValueError, match="score_mode=other"):
        Attention(score_mode="other")
    with pytest.raises(ValueError, match="list of inputs"):
        Attention()(np.zeros((2, 3, 4), "float32"))
    x = np.zeros((2, 3, 4), "float32")
    mha = MultiHeadAttention(2, 2)
    mha(x, x)
    with pytest.raises(TypeError, match="float32"):
        mha.forward([x, x.astype("float64")])
    with pytest.raises(ValueError, match="attention_mask"):
        mha(x, x, attention_mask=np.ones((2, 3, 5), bool))
    with pytest.raises(ValueError, match="last dimension 4"):
        mha(x, np.zeros((2, 3, 5), "float32"))
    with pytest.raises(RuntimeError, match="forward"):
        MultiHeadAttention(1, 1).backward(x)
