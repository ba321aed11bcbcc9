"""What the ImageNet models share (`keras.applications.imagenet_utils`): input checks,
`preprocess_input` and `decode_predictions`."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np

from .. import backend
from ..utils.file_utils import get_file

CLASS_INDEX = None
CLASS_INDEX_PATH = ("https://storage.googleapis.com/download.tensorflow.org/data/"
                    "imagenet_class_index.json")
_MEANS = {"caffe": (103.939, 116.779, 123.68), "torch": (0.485, 0.456, 0.406)}
_STDS = {"torch": (0.229, 0.224, 0.225)}


def preprocess_input(x, data_format=None, mode="caffe"):
    """Scale a batch (or one image) of RGB pixels in [0, 255] as a model was trained, as Keras.

    Modes: "caffe" (VGG, ResNet): RGB → BGR, then subtract ImageNet's mean per channel (B, G,
    R = 103.939, 116.779, 123.68), no scaling; "tf": x/127.5 − 1; "torch": x/255, then
    (x − mean)/std per channel. A float array is changed in place and returned (as Keras);
    an integer one is converted to floatx first.
    """
    if mode not in {"caffe", "tf", "torch"}:
        raise ValueError("Expected mode to be one of `caffe`, `tf` or `torch`. "
                         f"Received: mode={mode}")
    if data_format not in (None, "channels_last"):
        raise ValueError("Expected data_format to be `channels_last` (scratch's only layout). "
                         f"Received: data_format={data_format}")
    if not isinstance(x, np.ndarray):
        x = np.asarray(x, dtype=backend.floatx())
    if not issubclass(x.dtype.type, np.floating):
        x = x.astype(backend.floatx(), copy=False)
    if mode == "tf":
        x /= 127.5
        x -= 1.0
        return x
    if mode == "torch":
        x /= 255.0
    else:
        x = x[..., ::-1]
    for c, mean in enumerate(_MEANS[mode]):
        x[..., c] -= mean
        if mode in _STDS:
            x[..., c] /= _STDS[mode][c]
    return x


def decode_predictions(preds, top=5):
    """The `top` classes of each row of (N, 1000) ImageNet predictions, as Keras: a list per
    sample of (class id, class name, score), best first. The class names come from Keras'
    `imagenet_class_index.json` in `~/.keras/models/` (downloaded when missing)."""
    global CLASS_INDEX
    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise ValueError("`decode_predictions` expects a batch of predictions (i.e. a 2D array "
                         f"of shape (samples, 1000)). Received array with shape: {preds.shape}")
    if CLASS_INDEX is None:
        fpath = get_file("imagenet_class_index.json", CLASS_INDEX_PATH, cache_subdir="models",
                         file_hash="c2c37ea517e94d9795004a39431a14cb")
        with open(fpath) as f:
            CLASS_INDEX = json.load(f)
    results = []
    for pred in preds:
        top_indices = pred.argsort()[-top:][::-1]
        result = [tuple(CLASS_INDEX[str(i)]) + (pred[i],) for i in top_indices]
        result.sort(key=lambda r: r[2], reverse=True)
        results.append(result)
    return results


def obtain_input_shape(input_shape, default_size, min_size, require_flatten, weights=None):
    """The model's input shape (channels_last), with Keras' checks and defaults."""
    if weights != "imagenet" and input_shape and len(input_shape) == 3:
        if input_shape[-1] not in {1, 3}:
            warnings.warn("This model usually expects 1 or 3 input channels. However, it was "
                          f"passed an input_shape with {input_shape[-1]} input channels.",
                          stacklevel=3)
        default_shape = (default_size, default_size, input_shape[-1])
    else:
        default_shape = (default_size, default_size, 3)
    if weights == "imagenet" and require_flatten:
        if input_shape is not None and tuple(input_shape) != default_shape:
            raise ValueError("When setting `include_top=True` and loading `imagenet` weights, "
                             f"`input_shape` should be {default_shape}.  Received: "
                             f"input_shape={input_shape}")
        return default_shape
    if input_shape:
        if len(input_shape) != 3:
            raise ValueError("`input_shape` must be a tuple of three integers.")
        if input_shape[-1] != 3 and weights == "imagenet":
            raise ValueError(f"The input must have 3 channels; Received `input_shape="
                             f"{input_shape}`")
        if any(s is not None and s < min_size for s in input_shape[:2]):
            raise ValueError(f"Input size must be at least {min_size}x{min_size}; Received: "
                             f"input_shape={input_shape}")
    elif require_flatten:
        input_shape = default_shape
    else:
        input_shape = (None, None, 3)
    if require_flatten and None in input_shape:
        raise ValueError("If `include_top` is True, you should specify a static `input_shape`. "
                         f"Received: input_shape={input_shape}")
    return tuple(input_shape)


def checked_input_shape(input_shape, weights, include_top, classes, input_tensor=None,
                        default_size=224, min_size=32):
    """The arguments every ImageNet model checks first (`weights`, `classes`,
    `input_tensor`), then its input shape (`obtain_input_shape`)."""
    check_weights_argument(weights, include_top, classes)
    if input_tensor is not None:
        raise ValueError("scratch's applications take `input_shape`, not `input_tensor`: "
                         "build the model, then call it on your tensor. Received: "
                         f"input_tensor={input_tensor!r}")
    return obtain_input_shape(input_shape, default_size=default_size, min_size=min_size,
                              require_flatten=include_top, weights=weights)


def classifier(x, classes, classifier_activation, weights, pool_name=None):
    """The top of ResNet and MobileNet: global average pooling, then the Dense layer
    `predictions` (softmax or no activation with pretrained weights)."""
    from .. import layers

    x = layers.GlobalAveragePooling2D(name=pool_name)(x)
    validate_activation(classifier_activation, weights)
    return layers.Dense(classes, activation=classifier_activation, name="predictions")(x)


def global_pooling(x, pooling, avg_name=None, max_name=None):
    """A model without its top: the 4-D output as it is (pooling=None), or its global average
    ("avg") or maximum ("max") over the image."""
    from .. import layers

    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name=avg_name)(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name=max_name)(x)
    return x


def load_model_weights(model, weights, file_name, origin, file_hash=None):
    """`weights="imagenet"`: Keras' file `file_name` in `~/.keras/models` (downloaded from
    `origin` when missing, checked against `file_hash`); a path: that file; None: nothing."""
    if weights == "imagenet":
        weights = get_file(file_name, origin, cache_subdir="models", file_hash=file_hash)
    if weights is not None:
        model.load_weights(weights)
    return model


def correct_pad(inputs, kernel_size):
    """The ZeroPadding2D before a stride-2 "valid" convolution that keeps TF's "same" output
    size (MobileNetV2), as Keras: ((k//2 − a_h, k//2), (k//2 − a_w, k//2)) with a = 1 for an
    even side (or an unknown one), 0 for an odd side. `inputs`: a tensor (N, H, W, C) or its
    shape."""
    shape = tuple(getattr(inputs, "shape", inputs))
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    h, w = shape[1:3]
    adjust = (1, 1) if h is None else (1 - h % 2, 1 - w % 2)
    return ((kh // 2 - adjust[0], kh // 2), (kw // 2 - adjust[1], kw // 2))


def check_weights_argument(weights, include_top, classes):
    """Keras' checks of `weights` and `classes` for the ImageNet models."""
    if not (weights in {"imagenet", None} or os.path.exists(os.fspath(weights))):
        raise ValueError("The `weights` argument should be either `None` (random "
                         "initialization), 'imagenet' (pre-training on ImageNet), or the path "
                         f"to the weights file to be loaded.  Received: weights={weights}")
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError("If using `weights='imagenet'` with `include_top=True`, `classes` "
                         f"should be 1000.  Received classes={classes}")


def validate_activation(classifier_activation, weights):
    """Pretrained heads take only softmax or no activation, as Keras."""
    if weights is not None and classifier_activation not in ("softmax", None, "linear"):
        raise ValueError("Only `None` and `softmax` activations are allowed for the "
                         "`classifier_activation` argument when using pretrained weights, with "
                         f"`include_top=True`; Received: classifier_activation="
                         f"{classifier_activation}")
