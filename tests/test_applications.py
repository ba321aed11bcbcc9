"""keras.applications (Lectures 63–67): VGG16/VGG19 against tf.keras with the same weights,
loaded from Keras' own files, and preprocess_input / decode_predictions."""

from __future__ import annotations

import contextlib
import json
import urllib.error

import h5py
import numpy as np
import pytest

import scratch
from scratch.applications import imagenet_utils
from scratch.testing import assert_close
from scratch.utils import file_utils

from conftest import floatx

pytestmark = [pytest.mark.parity, pytest.mark.slow]


def _pixels(n=2, size=32, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype("float32")


@contextlib.contextmanager
def _dtype_policy(tf_keras, dtype):
    """tf.keras' layers in `dtype` for the block (the session fixes the policy to float32)."""
    tf_keras.config.set_dtype_policy(dtype)
    try:
        yield
    finally:
        tf_keras.config.set_dtype_policy("float32")


def _input_grads(tf, kmodel, smodel, x, dy):
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = kmodel(xt)
    theirs = tape.gradient(y, xt, output_gradients=tf.constant(dy)).numpy()
    smodel.forward(x, training=False)
    return smodel.backward(dy), theirs


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_vgg16_notop_from_keras_weights_file(tf_keras, tf, tmp_path, dtype):
    """tf.keras' VGG16(weights=None) saved as .weights.h5 and loaded by path: the same
    outputs and input gradients within the forward tier."""
    with floatx(tf_keras, dtype), _dtype_policy(tf_keras, dtype):
        kmodel = tf_keras.applications.VGG16(weights=None, input_shape=(32, 32, 3),
                                             include_top=False)
        path = tmp_path / "vgg16.weights.h5"
        kmodel.save_weights(path)
        smodel = scratch.applications.VGG16(weights=str(path), input_shape=(32, 32, 3),
                                            include_top=False)
        # (the input layers' automatic names count each engine's earlier Inputs)
        assert [layer.name for layer in smodel.layers][1:] == [
            layer.name for layer in kmodel.layers][1:]
        x = scratch.applications.vgg16.preprocess_input(_pixels().astype(dtype))
        ours, theirs = smodel.predict(x, verbose=0), kmodel.predict(x, verbose=0)
        assert ours.shape == theirs.shape == (2, 1, 1, 512) and ours.dtype == np.dtype(dtype)
        assert_close(ours, theirs, kind="forward", dtype=dtype)
        dy = np.random.default_rng(1).normal(size=ours.shape).astype(dtype)
        dx_ours, dx_theirs = _input_grads(tf, kmodel, smodel, x, dy)
        assert_close(dx_ours, dx_theirs, kind="input_grad", dtype=dtype)


def _save_legacy_weights(kmodel, path):
    """A weights-only legacy Keras 2 .h5 file, the format of Keras' ImageNet files."""
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, kmodel)


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_vgg19_legacy_h5_and_pooling(tf_keras, tmp_path, pooling):
    kmodel = tf_keras.applications.VGG19(weights=None, input_shape=(48, 40, 3),
                                         include_top=False, pooling=pooling)
    _save_legacy_weights(kmodel, tmp_path / "vgg19.h5")
    smodel = scratch.applications.VGG19(weights=str(tmp_path / "vgg19.h5"),
                                        input_shape=(48, 40, 3), include_top=False,
                                        pooling=pooling)
    x = scratch.applications.vgg19.preprocess_input(_pixels(size=48)[:, :, :40])
    ours, theirs = smodel.predict(x, verbose=0), kmodel.predict(x, verbose=0)
    assert ours.shape == theirs.shape == (2, 512)
    assert_close(ours, theirs, kind="forward", dtype="float32")


def _no_network(*args, **kwargs):
    raise urllib.error.URLError("the tests never use the network")


def test_vgg16_imagenet_reads_keras_cache_file(tf_keras, tmp_path, monkeypatch):
    """weights="imagenet": Keras' file name under KERAS_HOME/models, no download (the file
    here holds tf.keras' random VGG16 in the ImageNet files' legacy format, so its hash is not
    Keras' and the check is answered "valid")."""
    kmodel = tf_keras.applications.VGG16(weights=None, input_shape=(32, 32, 3),
                                         include_top=False, pooling="avg")
    (tmp_path / "models").mkdir()
    _save_legacy_weights(kmodel, tmp_path / "models" /
                         "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(file_utils, "validate_file", lambda *a, **k: True)
    monkeypatch.setattr(file_utils.urllib.request, "urlopen", _no_network)
    smodel = scratch.applications.VGG16(weights="imagenet", input_shape=(32, 32, 3),
                                        include_top=False, pooling="avg")
    x = scratch.applications.vgg16.preprocess_input(_pixels(3))
    assert_close(smodel.predict(x, verbose=0), kmodel.predict(x, verbose=0), kind="forward",
                 dtype="float32")


def test_imagenet_without_file_or_network_says_where(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(file_utils.urllib.request, "urlopen", _no_network)
    with pytest.raises(FileNotFoundError, match="vgg16_weights_tf_dim_ordering_tf_kernels_notop"):
        scratch.applications.VGG16(weights="imagenet", include_top=False,
                                   input_shape=(32, 32, 3))


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
def test_preprocess_input_equals_keras(tf_keras, mode):
    from keras.src.applications import imagenet_utils as k_utils

    x = _pixels(3, 8)
    for batch in (x, x[0], x.astype("uint8")):
        ours = imagenet_utils.preprocess_input(batch.copy(), mode=mode)
        theirs = k_utils.preprocess_input(batch.copy(), mode=mode)
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)


def test_decode_predictions_equals_keras(tf_keras, tmp_path, monkeypatch):
    from keras.src.applications import imagenet_utils as k_utils
    from keras.src.backend import config as k_config
    from keras.src.utils import file_utils as k_files

    (tmp_path / "models").mkdir()
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    (tmp_path / "models" / "imagenet_class_index.json").write_text(json.dumps(index))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(k_config, "_KERAS_DIR", str(tmp_path))
    for module in (file_utils, k_files):
        monkeypatch.setattr(module, "validate_file", lambda *a, **k: True)
    monkeypatch.setattr(file_utils.urllib.request, "urlopen", _no_network)
    monkeypatch.setattr(k_files, "urlretrieve", _no_network)
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", None)
    monkeypatch.setattr(k_utils, "CLASS_INDEX", None)
    preds = np.random.default_rng(2).dirichlet(np.ones(1000), size=3).astype("float32")
    ours = scratch.applications.vgg16.decode_predictions(preds, top=4)
    assert ours == tf_keras.applications.vgg16.decode_predictions(preds, top=4)
    assert ours[0][0][1].startswith("class_") and len(ours[0]) == 4
    with pytest.raises(ValueError, match=r"\(samples, 1000\)"):
        scratch.applications.vgg16.decode_predictions(preds[:, :10])


def test_vgg16_with_top_and_softmax_head(tf_keras, tmp_path):
    kmodel = tf_keras.applications.VGG16(weights=None, input_shape=(32, 32, 3), classes=7)
    kmodel.save_weights(tmp_path / "top.weights.h5")
    smodel = scratch.applications.VGG16(weights=tmp_path / "top.weights.h5",
                                        input_shape=(32, 32, 3), classes=7)
    x = scratch.applications.vgg16.preprocess_input(_pixels(2))
    ours = smodel.predict(x, verbose=0)
    assert ours.shape == (2, 7) and smodel.count_params() == kmodel.count_params()
    assert_close(ours, kmodel.predict(x, verbose=0), kind="forward", dtype="float32")
    with pytest.raises(ValueError, match="`classes` should be 1000"):
        scratch.applications.VGG16(weights="imagenet", classes=7)


# ------------------------------------------------------------------------ ResNet50, MobileNetV2
def _randomize_batch_norms(kmodel, rng):
    """BatchNormalization statistics and scales away from their initial 0 / 1 (so that the
    inference-mode formula with the moving statistics is really exercised)."""
    for v in kmodel.weights:
        name, shape = v.path.rsplit("/", 1)[-1], tuple(v.shape)
        if name == "moving_variance" or name == "gamma":
            v.assign(rng.uniform(0.5, 1.5, shape).astype(v.dtype))
        elif name == "moving_mean" or name == "beta":
            v.assign(rng.normal(0, 0.2, shape).astype(v.dtype))


APPLICATIONS = {"ResNet50": scratch.applications.resnet50,
                "MobileNetV2": scratch.applications.mobilenet_v2}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(APPLICATIONS))
def test_resnet50_and_mobilenetv2_from_keras_weights_file(tf_keras, tf, tmp_path, name, dtype):
    """tf.keras' model (weights=None, BatchNormalization statistics drawn at random) saved as
    .weights.h5 and loaded by path: Keras' layers in Keras' order, the same parameter count,
    the same outputs (inference mode) within the tolerance table, and in float64 the same
    input gradients.

    Not in float32: a 50-layer ReLU network has some 10⁵ pre-activations, and now and then
    one lies within float32 rounding of 0, on one side in scratch and on the other in
    TensorFlow (measured: 1 weight draw in 7 for ResNet50, z = −7.2e-7 against +4.8e-7 at
    conv3_block3_out); the ReLU then passes that unit's gradient in one engine only and dx
    differs by ~2.5e-4, a kink and not an error. The forward output moves by |z| only. Each
    layer's float32 gradients are checked against tf.keras in the layers' own tests."""
    from scratch.saving.keras_order import keras_layers

    module = APPLICATIONS[name]
    with floatx(tf_keras, dtype), _dtype_policy(tf_keras, dtype):
        kmodel = getattr(tf_keras.applications, name)(weights=None, input_shape=(32, 32, 3),
                                                      include_top=False)
        _randomize_batch_norms(kmodel, np.random.default_rng(3))
        path = tmp_path / f"{name}.weights.h5"
        kmodel.save_weights(path)
        smodel = getattr(scratch.applications, name)(weights=str(path), input_shape=(32, 32, 3),
                                                     include_top=False)
        assert smodel.name == kmodel.name
        # Keras' order of the layers (weight files go by it); the input's automatic name
        # counts each engine's own inputs
        assert [layer.name for layer in keras_layers(smodel)][1:] == [
            layer.name for layer in kmodel.layers][1:]
        assert smodel.count_params() == kmodel.count_params()
        x = module.preprocess_input(_pixels().astype(dtype))
        ours = smodel.forward(x, training=False)  # one eager call each, the cheapest way
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            theirs = kmodel(xt, training=False)
        assert ours.shape == theirs.shape and ours.dtype == np.dtype(dtype)
        assert_close(ours, theirs.numpy(), kind="forward", dtype=dtype)
        if dtype == "float32":
            return
        dy = np.random.default_rng(1).normal(size=ours.shape)
        dx_theirs = tape.gradient(theirs, xt, output_gradients=tf.constant(dy)).numpy()
        # MobileNetV2's random weights shrink the input gradient to ~1e-11, below the
        # table's absolute floor: the cotangent is scaled by a power of two 2^k so that dx is
        # of order 1. Every backward operation is linear in dy, so Keras' dx scales by 2^k
        # exactly (no rounding), and scratch runs with the scaled cotangent.
        scale = 2.0 ** -np.round(np.log2(np.abs(dx_theirs).max()))
        dx_ours = smodel.backward(dy * scale)
        assert dx_ours.dtype == np.float64
        assert_close(dx_ours, dx_theirs * scale, kind="input_grad", dtype=dtype)


@pytest.mark.parametrize("name, kwargs", [
    ("ResNet50", dict(input_shape=(40, 36, 3), pooling="max")),
    ("MobileNetV2", dict(input_shape=(33, 35, 3), alpha=0.75, pooling="avg")),
])
def test_resnet50_and_mobilenetv2_top_from_legacy_h5(tf_keras, tmp_path, name, kwargs):
    """With the top (7 classes, logits) from a legacy .h5 file, the format of Keras' ImageNet
    files (weights by position), on odd sizes (MobileNetV2's correct_pad) and α = 0.75; and
    without the top, the pooling asked for."""
    module = APPLICATIONS[name]
    kmodel = getattr(tf_keras.applications, name)(weights=None, classes=7,
                                                  classifier_activation=None, **kwargs)
    _randomize_batch_norms(kmodel, np.random.default_rng(4))
    _save_legacy_weights(kmodel, tmp_path / "top.h5")
    smodel = getattr(scratch.applications, name)(weights=str(tmp_path / "top.h5"), classes=7,
                                                 classifier_activation=None, **kwargs)
    h, w = kwargs["input_shape"][:2]
    x = module.preprocess_input(_pixels(size=max(h, w))[:, :h, :w])
    ours = smodel.forward(x, training=False)
    assert ours.shape == (2, 7) and smodel.count_params() == kmodel.count_params()
    assert_close(ours, kmodel(x, training=False).numpy(), kind="forward", dtype="float32")
    pooled = getattr(scratch.applications, name)(weights=None, include_top=False, **kwargs)
    assert pooled.output_shape == (None, 2048 if name == "ResNet50" else 1280)
    pool = "GlobalMaxPooling2D" if kwargs["pooling"] == "max" else "GlobalAveragePooling2D"
    assert type(pooled.layers[-1]).__name__ == pool


class _Asked(Exception):
    """What the recording get_file raises after it wrote down its arguments."""


@pytest.mark.parametrize("name, kwargs", [
    ("ResNet50", dict()),
    ("ResNet50", dict(include_top=False, input_shape=(64, 64, 3))),
    ("MobileNetV2", dict()),
    ("MobileNetV2", dict(include_top=False, alpha=0.35, input_shape=(96, 96, 3))),
    ("MobileNetV2", dict(include_top=False, alpha=1.3, input_shape=(100, 80, 3))),
])
def test_imagenet_weights_ask_for_keras_files(tf_keras, monkeypatch, name, kwargs):
    """weights="imagenet" asks get_file for Keras' own file name, URL, cache folder and hash
    (the same call tf.keras makes; nothing is downloaded), and warns where Keras warns."""
    from keras.src.utils import file_utils as k_files

    calls = []

    def record(*args, **kw):
        calls.append((args, {"file_hash": None, **kw}))  # no hash given = None
        raise _Asked

    monkeypatch.setattr(k_files, "get_file", record)
    monkeypatch.setattr(imagenet_utils, "get_file", record)
    warns = name == "MobileNetV2" and kwargs.get("input_shape", (224, 224))[0] != kwargs.get(
        "input_shape", (224, 224))[1]
    for build in (getattr(tf_keras.applications, name), getattr(scratch.applications, name)):
        with pytest.raises(_Asked):
            if warns:
                with pytest.warns(UserWarning, match="Weights for input shape"):
                    build(weights="imagenet", **kwargs)
            else:
                build(weights="imagenet", **kwargs)
    assert len(calls) == 2 and calls[0] == calls[1], calls


def test_application_arguments_are_checked():
    with pytest.raises(ValueError, match="`classes` should be 1000"):
        scratch.applications.ResNet50(weights="imagenet", classes=7)
    with pytest.raises(ValueError, match=r"alpha must be one of.*Received `alpha=0.6`"):
        scratch.applications.MobileNetV2(weights="imagenet", alpha=0.6)
    with pytest.raises(ValueError, match="at least 32x32"):
        scratch.applications.MobileNetV2(weights=None, input_shape=(31, 40, 3),
                                         include_top=False)
    assert scratch.applications.imagenet_utils.correct_pad((None, 7, 8, 3), 3) == ((1, 1),
                                                                                   (0, 1))
