"""`Lambda` (issue 17): a Python function as a layer, differentiated by the tape.

* Its gradient (the function's NumPy operations, recorded) against finite differences, and
  a Sequential model with a Lambda trained as tf.keras trains it, float32 and float64.
* Output shapes inferred as Keras' symbolic call gives them, or taken from `output_shape`.
* A function the tape cannot differentiate still predicts; training through it raises a
  ValueError naming the operation and changes nothing.
* Files: a `lambda` is code, so reading it back is refused unless `safe_mode=False` (as in
  Keras), both for scratch's files and tf.keras'; a named function comes back only from
  `custom_objects`.
"""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

import scratch
from scratch.layers.lambda_layer import Lambda
from scratch.models import load_model
from scratch.saving.registry import UnsupportedError
from scratch.testing import assert_close, gradcheck

from conftest import floatx

DTYPES = ["float64", "float32"]


def square_plus(t):
    return t * t * 0.5 + t


def _model(module, dtype, function=None, **kwargs):
    L = module.layers
    layer = (Lambda if module is scratch else L.Lambda)(function or square_plus, dtype=dtype,
                                                        **kwargs)
    return module.Sequential([module.Input((4,), dtype=dtype), L.Dense(3, dtype=dtype), layer,
                              L.Dense(1, dtype=dtype)])


def _data(dtype, n=24):
    rng = np.random.default_rng(11)
    return rng.standard_normal((n, 4)).astype(dtype), rng.standard_normal((n, 1)).astype(dtype)


def test_lambda_gradient_matches_finite_differences():
    layer = Lambda(lambda t, k: np.concatenate([np.exp(t[:, :k]), t ** 2], axis=1).mean(axis=1),
                   arguments={"k": 2}, dtype="float64")
    x = np.random.default_rng(0).standard_normal((3, 4))
    layer(x)

    def vjp(v):
        y = layer.forward(x, training=True)
        assert y.shape == (3,)
        return {"x": layer.backward(v)}

    gradcheck(lambda p: layer.forward(p["x"]), {"x": x}, vjp)
    assert layer.compute_output_shape((None, 4)) == (None,)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sequential_with_a_lambda_trains_as_tf_keras(tf_keras, dtype):
    with floatx(tf_keras, dtype):
        x, y = _data(dtype)
        ours, theirs = _model(scratch, dtype), _model(tf_keras, dtype)
        theirs.set_weights(ours.get_weights())
        losses = []
        for module, model in ((scratch, ours), (tf_keras, theirs)):
            model.compile(optimizer=module.optimizers.SGD(0.05), loss="mse")
            losses.append(model.fit(x, y, batch_size=8, epochs=2, shuffle=False,
                                    verbose=0).history["loss"])
    assert_close(losses[0], losses[1], kind="training", dtype=dtype)
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        assert_close(a, b, kind="training", dtype=dtype)


def test_output_shapes():
    inp = scratch.Input((5, 6))
    assert Lambda(lambda t: t[:, 0])(inp).shape == (None, 6)
    assert Lambda(lambda t: t.reshape(-1, 30))(inp).shape == (None, 30)
    assert Lambda(lambda t: t, output_shape=(5, 6))(inp).shape == (None, 5, 6)
    assert Lambda(lambda t: t[..., :2], output_shape=lambda s: s[:-1] + (2,))(inp).shape == \
        (None, 5, 2)
    assert Lambda(lambda t: t.sum(axis=1))(scratch.Input((None, 3))).shape == (None, 3)


def test_a_function_the_tape_cannot_differentiate_predicts_and_refuses_to_train():
    x, y = _data("float32")
    model = _model(scratch, "float32", function=np.sin)
    assert model.predict(x, verbose=0).shape == (24, 1)
    model.compile(optimizer="sgd", loss="mse")
    before = model.get_weights()
    with pytest.raises(ValueError, match="np.sin"):
        model.fit(x, y, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert model.optimizer.iterations == 0


# ------------------------------------------------------------------------- files
def test_a_lambda_in_a_file_needs_safe_mode_false(tmp_path):
    x, _ = _data("float32", 5)
    model = _model(scratch, "float32", function=lambda t: t * t * 0.5 + t)
    path = str(tmp_path / "m.keras")
    model.save(path)
    with pytest.raises(UnsupportedError, match="safe_mode=False"):
        load_model(path)
    back = load_model(path, safe_mode=False)
    assert np.array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(UnsupportedError, match="safe_mode=False"):
        load_model(path)  # the opt-in lasted for that call only


def test_safe_mode_refuses_before_reading_the_code(tmp_path):
    model = _model(scratch, "float32", function=lambda t: t)
    path = tmp_path / "m.keras"
    model.save(str(path))
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    config = json.loads(members["config.json"])
    entry = config["config"]["layers"][2]
    assert entry["class_name"] == "Lambda"
    entry["config"]["function"]["config"]["code"] = "not base64 at all: __import__('os')"
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    with pytest.raises(UnsupportedError, match="arbitrary code execution"):
        load_model(str(path))
    with pytest.raises(UnsupportedError, match="cannot be read"):
        load_model(str(path), safe_mode=False)


def test_named_functions_come_back_from_custom_objects_only(tmp_path):
    x, _ = _data("float32", 5)
    model = _model(scratch, "float32")
    path = str(tmp_path / "m.keras")
    model.save(path)
    with pytest.raises(UnsupportedError, match="custom_objects"):
        load_model(path, safe_mode=False)
    back = load_model(path, custom_objects={"square_plus": square_plus})
    assert np.array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))


def test_lambda_files_both_ways_with_tf_keras(tf_keras, tmp_path):
    x, _ = _data("float32", 5)
    ours = _model(scratch, "float32", function=lambda t: t * t * 0.5 + t)
    ours.save(str(tmp_path / "ours.keras"))
    theirs = tf_keras.models.load_model(str(tmp_path / "ours.keras"), safe_mode=False)
    assert_close(np.asarray(theirs.predict(x, verbose=0)), ours.predict(x, verbose=0),
                 kind="forward", dtype="float32")
    theirs.save(str(tmp_path / "theirs.keras"))
    with pytest.raises(UnsupportedError, match="safe_mode=False"):
        load_model(str(tmp_path / "theirs.keras"))
    back = load_model(str(tmp_path / "theirs.keras"), safe_mode=False)
    assert_close(back.predict(x, verbose=0), np.asarray(theirs.predict(x, verbose=0)),
                 kind="forward", dtype="float32")
