"""Multi-input models, frozen layers and the GAN pattern (course Lectures 61, 66–69) against
tf.keras.

* The two-input recommender (Embedding ×2 → Flatten → Concatenate → Dense): fit from the same
  weights matches tf.keras (history and every weight), with list and dict inputs; clear
  errors for a missing input and for inputs of different lengths, with nothing changed.
* Frozen layers are bitwise unchanged by fit (a frozen embedding; a frozen body model).
* The GAN: discriminator and combined model built in both engines from the same weights,
  5 alternating train_on_batch steps on the same real images and noise, with the course's
  Keras 2 code as written (discriminator.trainable = False once, after compiling it: in
  Keras 3 the discriminator then never trains, and Keras warns) and with the Keras 3
  toggling (trainable set before each of its own steps and before each combined step).

Measured in tf.keras 3.15 on TensorFlow: `trainable` is read when a model's train function
is traced, i.e. at its first train_on_batch/fit after compile(); toggling it later has no
effect until compile() is called again (see test_trainable_is_frozen_at_the_first_train_call).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import keras_ref
import scratch
from scratch.layers import Dense, Flatten, Input, LeakyReLU
from scratch.layers.embedding import Embedding
from scratch.layers.merge import Concatenate
from scratch.layers.normalization import BatchNormalization
from scratch.models import Model
from scratch.testing import assert_close

from conftest import floatx

DTYPES = ["float64", "float32"]


# ------------------------------------------------------------------------- recommender
def ratings_data(n=320, users=25, items=15, K=3, seed=61, flat=False):
    """Ratings from latent factors: r = u·v + noise, centred (as the course centres them).
    Ids as (n, 1) columns, or as the course's flat (n,) arrays with flat=True."""
    rng = np.random.default_rng(seed)
    U, V = rng.standard_normal((users, K)), rng.standard_normal((items, K))
    u, m = rng.integers(0, users, n), rng.integers(0, items, n)
    r = np.sum(U[u] * V[m], axis=1) + 0.1 * rng.standard_normal(n)
    if not flat:
        u, m = u[:, None], m[:, None]
    return u, m, r - r.mean()


def recommender(users=25, items=15, K=3, hidden=16, dtype=None):
    """Lecture 61's model: two inputs, two embeddings, concatenated, then an ANN."""
    u = Input(shape=(1,), name="user")
    m = Input(shape=(1,), name="movie")
    u_emb = Embedding(users, K, name="user_embedding")(u)  # (num_samples, 1, K)
    m_emb = Embedding(items, K, name="movie_embedding")(m)
    u_emb = Flatten()(u_emb)  # (num_samples, K)
    m_emb = Flatten()(m_emb)
    x = Concatenate()([u_emb, m_emb])  # (num_samples, 2K)
    x = Dense(hidden, activation="relu")(x)
    x = Dense(1)(x)
    return Model(inputs=[u, m], outputs=x)


def _sgd(module):
    return module.optimizers.SGD(learning_rate=0.08, momentum=0.9)


def _random_weights(model, rng, dtype):
    model.set_weights([(rng.standard_normal(w.shape) * 0.3).astype(dtype)
                       for w in model.get_weights()])


@pytest.mark.parametrize("dtype", DTYPES)
def test_recommender_fit_matches_keras(tf_keras, dtype):
    u, m, r = ratings_data()
    n_train = 256
    with floatx(tf_keras, dtype):
        model = recommender()
        _random_weights(model, np.random.default_rng(0), dtype)
        model.compile(loss="mse", optimizer=_sgd(scratch))
        kmodel = keras_ref.to_keras(model)
        kmodel.compile(loss="mse", optimizer=_sgd(tf_keras))
        kw = dict(epochs=2, batch_size=64, shuffle=False, verbose=0)
        h = model.fit(x=[u[:n_train], m[:n_train]], y=r[:n_train],
                      validation_data=([u[n_train:], m[n_train:]], r[n_train:]), **kw)
        kh = kmodel.fit(x=[u[:n_train], m[:n_train]], y=r[:n_train],
                        validation_data=([u[n_train:], m[n_train:]], r[n_train:]), **kw)
        for key in kh.history:
            assert_close(np.array(h.history[key]), np.array(kh.history[key]),
                         kind="training", dtype=dtype, msg=key)
        for name, a, b in zip(model.weight_names, model.get_weights(), kmodel.get_weights(),
                                 strict=True):
            assert a.dtype == dtype
            assert_close(a, b, kind="training", dtype=dtype, msg=name)
        # lists and dicts (keyed by the Inputs' names) give the same numbers
        as_dict = {"movie": m, "user": u}
        p = model.predict([u, m], verbose=0)
        np.testing.assert_array_equal(model.predict(as_dict, verbose=0), p)
        assert_close(p, kmodel.predict(as_dict, verbose=0), kind="training", dtype=dtype)
        assert_close(model.evaluate(as_dict, r, verbose=0),
                     kmodel.evaluate(as_dict, r, verbose=0), kind="training", dtype=dtype)
        # a dict-fed fit step matches too
        assert_close(model.train_on_batch(as_dict, r), kmodel.train_on_batch(as_dict, r),
                     kind="training", dtype=dtype)


def test_course_flat_id_arrays_are_accepted(tf_keras):
    """Lecture 61 feeds flat (N,) id arrays to `Input(shape=(1,))`; Keras 3 adds the
    missing last axis of size 1 (Functional._adjust_input_rank)."""
    u, m, r = ratings_data(n=64, flat=True)
    model = recommender()
    model.compile(loss="mse", optimizer=_sgd(scratch))
    kmodel = keras_ref.to_keras(model)
    kmodel.compile(loss="mse", optimizer=_sgd(tf_keras))
    assert_close(model.predict([u, m], verbose=0), kmodel.predict([u, m], verbose=0),
                 kind="forward", dtype="float32")
    assert_close(model.train_on_batch([u, m], r), kmodel.train_on_batch([u, m], r),
                 kind="loss", dtype="float32")


def test_frozen_embedding_is_bitwise_unchanged_by_fit(tf_keras):
    u, m, r = ratings_data()
    model = recommender()
    frozen = model.get_layer("user_embedding")
    frozen.trainable = False
    model.compile(loss="mse", optimizer=_sgd(scratch))
    kmodel = keras_ref.to_keras(model)
    kmodel.get_layer("user_embedding").trainable = False
    kmodel.compile(loss="mse", optimizer=_sgd(tf_keras))
    before = frozen.get_weights()[0].copy()
    others = [w.copy() for w in model.trainable_weights]
    kw = dict(epochs=2, batch_size=64, shuffle=False, verbose=0)
    model.fit([u, m], r, **kw)
    kmodel.fit([u, m], r, **kw)
    assert len(model.trainable_weights) == len(kmodel.trainable_weights) == 5
    assert np.array_equal(frozen.get_weights()[0], before)  # bitwise
    assert np.array_equal(kmodel.get_layer("user_embedding").get_weights()[0], before)
    assert all(not np.array_equal(a, b)
               for a, b in zip(others, model.trainable_weights, strict=True))
    for a, b in zip(model.get_weights(), kmodel.get_weights(), strict=True):
        assert_close(a, b, kind="training", dtype="float32")


def test_multi_input_errors_leave_the_model_unchanged():
    u, m, r = ratings_data(n=40)
    model = recommender()
    model.compile(loss="mse", optimizer=_sgd(scratch))
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"Missing input\(s\) \['movie'\]"):
        model.fit({"user": u}, r, verbose=0)
    with pytest.raises(ValueError, match="same number of samples"):
        model.fit([u, m[:30]], r, verbose=0)
    with pytest.raises(ValueError, match="expects 2 input"):
        model.fit([u], r, verbose=0)
    with pytest.raises(ValueError, match="samples"):
        model.fit([u, m], r[:30], verbose=0)
    with pytest.raises(ValueError, match="same number of samples"):
        model.evaluate([u, m[:30]], r, verbose=0)
    with pytest.raises(ValueError, match="same number of samples"):
        model.predict([u[:30], m], verbose=0)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert int(model.optimizer.iterations) == 0


# ------------------------------------------------------------------------- transfer learning
def _body_and_data(rng, dtype="float32"):
    """A small 'pretrained' body (the course's VGG16 without its top)."""
    x = rng.standard_normal((48, 6)).astype(dtype)
    y = (x[:, 0] * x[:, 1] > 0).astype(dtype)
    i = Input(shape=(6,))
    h = Dense(8, activation="relu")(i)
    h = Dense(5, activation="tanh")(h)
    return Model(i, h, name="body"), x, y


def test_frozen_body_model_used_as_a_layer_is_unchanged_and_matches(tf_keras):
    rng = np.random.default_rng(66)
    body, x, y = _body_and_data(rng)
    body.trainable = False  # the course's `ptm.trainable = False`
    i = Input(shape=(6,))
    out = Dense(1, activation="sigmoid")(body(i))
    model = Model(i, out)
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    kmodel = keras_ref.to_keras(model)
    kmodel.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    assert [w.shape for w in model.trainable_weights] == [(5, 1), (1,)]
    assert len(kmodel.trainable_weights) == 2
    before = body.get_weights()
    kw = dict(epochs=3, batch_size=16, shuffle=False, verbose=0)
    h, kh = model.fit(x, y, **kw), kmodel.fit(x, y, **kw)
    for a, b in zip(before, body.get_weights(), strict=True):
        assert np.array_equal(a, b)  # bitwise
    for key in kh.history:
        assert_close(np.array(h.history[key]), np.array(kh.history[key]), kind="training",
                     dtype="float32", msg=key)
    for a, b in zip(model.get_weights(), kmodel.get_weights(), strict=True):
        assert_close(a, b, kind="training", dtype="float32")


def test_model_input_and_output_attributes():
    """Lecture 66/67 build on `ptm.input` and `ptm.output` (Keras' single-tensor aliases of
    `inputs[0]` and `outputs[0]`): `Model(inputs=ptm.input, outputs=Flatten()(ptm.output))`."""
    body, x, _ = _body_and_data(np.random.default_rng(67))
    assert body.input is body.inputs[0]
    assert body.output is body.outputs[0]
    features = Model(inputs=body.input, outputs=Flatten()(body.output))
    np.testing.assert_array_equal(features.predict(x, verbose=0), body.predict(x, verbose=0))


def test_trainable_is_frozen_at_the_first_train_call(tf_keras):
    """tf.keras 3 (TensorFlow) reads `trainable` when it traces the train function, at the
    first train_on_batch/fit after compile(): toggling it afterwards changes nothing until
    the model is compiled again. Measured here; scratch must follow."""

    def run(module, model):
        model.compile(optimizer=module.optimizers.SGD(0.1), loss="mse")
        x, y = np.ones((4, 3), "float32"), np.zeros((4, 1), "float32")
        model.train_on_batch(x, y)
        model.trainable = False
        w = model.get_weights()[0].copy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.train_on_batch(x, y)  # still the traced (trainable) step
        changed_after_toggle = not np.array_equal(w, model.get_weights()[0])
        model.compile(optimizer=module.optimizers.SGD(0.1), loss="mse")
        w = model.get_weights()[0].copy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.train_on_batch(x, y)  # re-traced: frozen now
        changed_after_recompile = not np.array_equal(w, model.get_weights()[0])
        return changed_after_toggle, changed_after_recompile

    i = Input(shape=(3,))
    model = Model(i, Dense(1)(i))
    kmodel = keras_ref.to_keras(model)
    expected = run(tf_keras, kmodel)
    assert expected == (True, False)  # tf.keras' behaviour, measured
    assert run(scratch, model) == expected


def test_training_a_fully_frozen_model_warns(tf_keras):
    i = Input(shape=(3,))
    model = Model(i, Dense(1)(i))
    model.trainable = False
    model.compile(optimizer="adam", loss="mse")
    before = model.get_weights()
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 1), "float32")
    with pytest.warns(UserWarning, match="no trainable weights"):
        model.train_on_batch(x, y)
    for a, b in zip(before, model.get_weights(), strict=True):
        assert np.array_equal(a, b)
    kmodel = keras_ref.to_keras(model)
    kmodel.compile(optimizer="adam", loss="mse")
    with pytest.warns(UserWarning, match="does not have any trainable weights"):
        kmodel.train_on_batch(x, y)


# ------------------------------------------------------------------------- GAN
LATENT, IMG, BATCH = 6, 16, 8


def build_generator(layers, latent_dim, dtype):
    """The course's generator, smaller: Dense → LeakyReLU(0.2) → BatchNormalization(0.8) …
    → Dense(D, tanh). (LeakyReLU as a layer after Dense: the same numbers as the course's
    `Dense(256, activation=LeakyReLU(alpha=0.2))`.)"""
    i = layers.Input(shape=(latent_dim,), dtype=dtype)
    x = layers.Dense(12, dtype=dtype)(i)
    x = layers.LeakyReLU(negative_slope=0.2, dtype=dtype)(x)
    x = layers.BatchNormalization(momentum=0.8, dtype=dtype)(x)
    x = layers.Dense(IMG, activation="tanh", dtype=dtype)(x)
    return i, x


def build_discriminator(layers, img_size, dtype):
    i = layers.Input(shape=(img_size,), dtype=dtype)
    x = layers.Dense(10, dtype=dtype)(i)
    x = layers.LeakyReLU(negative_slope=0.2, dtype=dtype)(x)
    x = layers.Dense(1, activation="sigmoid", dtype=dtype)(x)
    return i, x


class _ScratchLayers:
    Input, Dense, LeakyReLU, BatchNormalization = Input, Dense, LeakyReLU, BatchNormalization


def _gan_pair(tf_keras, dtype, recipe):
    """Both engines' (D, G, combined) from the same weights, compiled as in the course."""
    rng = np.random.default_rng(69)
    d = Model(*build_discriminator(_ScratchLayers, IMG, dtype))
    g = Model(*build_generator(_ScratchLayers, LATENT, dtype))
    _random_weights(d, rng, dtype)
    _random_weights(g, rng, dtype)
    g.set_weights([np.abs(w) + 0.5 if name.endswith("moving_variance") else w
                   for name, w in zip(g.weight_names, g.get_weights(), strict=True)])
    engines = []
    for module, D, G in ((scratch, d, g),
                         (tf_keras, keras_ref.to_keras(d), keras_ref.to_keras(g))):
        D.compile(loss="binary_crossentropy", optimizer=module.optimizers.Adam(0.0002, 0.5),
                  metrics=["accuracy"])
        z = (Input if module is scratch else tf_keras.Input)(shape=(LATENT,), dtype=dtype)
        img = G(z)
        if recipe == "course":
            D.trainable = False  # the Keras 2 recipe: once, after compiling D
        fake_pred = D(img)
        combined = (Model if module is scratch else tf_keras.Model)(z, fake_pred)
        combined.compile(loss="binary_crossentropy",
                         optimizer=module.optimizers.Adam(0.0002, 0.5))
        engines.append((D, G, combined))
    return engines


def _gan_steps(engine_models, recipe, real, noises, steps=5):
    D, G, combined = engine_models
    ones, zeros = np.ones(BATCH), np.zeros(BATCH)
    record = []
    for step in range(steps):
        fake = G.predict(noises[2 * step], verbose=0)
        if recipe == "toggle":
            D.trainable = True
        d_loss_real, d_acc_real = D.train_on_batch(real[step], ones)
        d_loss_fake, d_acc_fake = D.train_on_batch(fake, zeros)
        if recipe == "toggle":
            D.trainable = False
        g_loss = combined.train_on_batch(noises[2 * step + 1], ones)
        record.append((fake, d_loss_real, d_acc_real, d_loss_fake, d_acc_fake, g_loss))
    return record


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("recipe", ["course", "toggle"])
def test_gan_alternating_steps_match_keras(tf_keras, recipe, dtype):
    with floatx(tf_keras, dtype):
        ours, ref = _gan_pair(tf_keras, dtype, recipe)
        rng = np.random.default_rng(0)
        real = [np.tanh(rng.standard_normal((BATCH, IMG))).astype(dtype) for _ in range(5)]
        noises = [rng.standard_normal((BATCH, LATENT)).astype(dtype) for _ in range(10)]
        d_before = ours[0].get_weights()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the frozen-D warning (course)
            got = _gan_steps(ours, recipe, real, noises)
            expected = _gan_steps(ref, recipe, real, noises)
    for step, (a, b) in enumerate(zip(got, expected, strict=True)):
        assert_close(a[0], b[0], kind="weights_after_steps", dtype=dtype, msg=f"fake {step}")
        for what, x, y in zip(["d_loss_real", "d_acc_real", "d_loss_fake", "d_acc_fake",
                               "g_loss"], a[1:], b[1:], strict=True):
            assert_close(x, y, kind="weights_after_steps", dtype=dtype,
                         msg=f"{what} at step {step}")
    for part, model, kmodel in zip(["D", "G"], ours[:2], ref[:2], strict=True):
        for name, w, kw in zip(model.weight_names, model.get_weights(), kmodel.get_weights(),
                               strict=True):
            assert w.dtype == dtype
            assert_close(w, kw, kind="weights_after_steps", dtype=dtype, msg=f"{part} {name}")
    d_trained = any(not np.array_equal(a, b)
                    for a, b in zip(d_before, ours[0].get_weights(), strict=True))
    # the course's recipe never trains D in Keras 3; the toggling one does
    assert d_trained == (recipe == "toggle")


def test_course_discriminator_recipe_warns_about_no_trainable_weights(tf_keras):
    ours, ref = _gan_pair(tf_keras, "float32", "course")
    real = np.zeros((BATCH, IMG), "float32")
    with pytest.warns(UserWarning, match="no trainable weights"):
        ours[0].train_on_batch(real, np.ones(BATCH))
    with pytest.warns(UserWarning, match="does not have any trainable weights"):
        ref[0].train_on_batch(real, np.ones(BATCH))


def test_course_dense_with_leaky_relu_layer_activation(tf_keras):
    """Lecture 69 writes `Dense(256, activation=LeakyReLU(alpha=0.2))`: an activation layer
    passed as the activation (Keras calls it). Keras 3 warns that `alpha` is now
    `negative_slope`, and so does scratch."""
    i = Input(shape=(3,))
    with pytest.warns(UserWarning, match="`alpha` is deprecated"):
        leaky = LeakyReLU(alpha=0.2)
    assert leaky.negative_slope == 0.2
    model = Model(i, Dense(4, activation=leaky)(i))
    x = np.random.default_rng(0).standard_normal((5, 3)).astype("float32")
    kmodel = keras_ref.to_keras(model)
    assert_close(model.predict(x, verbose=0), kmodel.predict(x, verbose=0), kind="forward",
                 dtype="float32")
