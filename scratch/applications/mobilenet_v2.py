"""MobileNetV2 (Sandler et al., 2018), as `keras.applications.mobilenet_v2`.

MobileNet is the lightweight one, for less powerful machines (Lecture 63, "Some Pre-trained
Models"): its blocks replace most full 3×3 convolutions with a depthwise one (each channel
filtered on its own) between two cheap 1×1 convolutions. An inverted residual block with
expansion t, stride s and f filters:

    h = relu6(BN(conv1×1(x, t·C)))          "expand" (not in block 0)
    h = relu6(BN(depthwise3×3(h, s)))        "depthwise" (after a ZeroPadding2D when s = 2)
    h = BN(conv1×1(h, f))                    "project": linear, no activation
    out = x + h   when s = 1 and f = C       ("add"), else out = h

The network: `Conv1` (3×3, stride 2, 32·α filters) + BN + relu6, 17 blocks (16, 24, 24, 32,
32, 32, 64, 64, 64, 64, 96, 96, 96, 160, 160, 160, 320 filters, times α rounded to a multiple
of 8), `Conv_1` (1×1, 1280 filters, more when α > 1) + BN + relu6, and the top. Every
BatchNormalization has ε = 1e-3 and momentum 0.999. Layer names (`block_1_expand`,
`expanded_conv_depthwise`, …), weight shapes and order are Keras', so Keras' ImageNet files
and weights saved from tf.keras' model load as they are.
"""

from __future__ import annotations

import warnings

from .. import layers
from ..models import Model
from . import imagenet_utils

_ORIGIN = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
_IMAGENET_ALPHAS = (0.35, 0.50, 0.75, 1.0, 1.3, 1.4)
_IMAGENET_ROWS = (96, 128, 160, 192, 224)
# (filters, stride, expansion) of blocks 0 … 16
_BLOCKS = ((16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6), (64, 2, 6),
           (64, 1, 6), (64, 1, 6), (64, 1, 6), (96, 1, 6), (96, 1, 6), (96, 1, 6), (160, 2, 6),
           (160, 1, 6), (160, 1, 6), (320, 1, 6))


def make_divisible(v, divisor=8, min_value=None):
    """v rounded to the nearest multiple of `divisor` (at least `min_value`), never more than
    10 % below v: the channel counts of a width multiplier α, as Keras' `_make_divisible`."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def _batch_norm(name):
    return layers.BatchNormalization(axis=-1, epsilon=1e-3, momentum=0.999, name=name)


def inverted_res_block(inputs, expansion, stride, alpha, filters, block_id):
    """One inverted residual block (see the module docstring); Keras' `_inverted_res_block`
    and its layer names (`block_{id}_…`, `expanded_conv_…` for block 0)."""
    in_channels = inputs.shape[-1]
    pointwise_filters = make_divisible(int(filters * alpha), 8)
    x = inputs
    prefix = f"block_{block_id}_"
    if block_id:
        x = layers.Conv2D(expansion * in_channels, kernel_size=1, padding="same",
                          use_bias=False, activation=None, name=f"{prefix}expand")(x)
        x = _batch_norm(f"{prefix}expand_BN")(x)
        x = layers.ReLU(6.0, name=f"{prefix}expand_relu")(x)
    else:
        prefix = "expanded_conv_"
    if stride == 2:
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, 3),
                                 name=f"{prefix}pad")(x)
    x = layers.DepthwiseConv2D(kernel_size=3, strides=stride, activation=None, use_bias=False,
                               padding="same" if stride == 1 else "valid",
                               name=f"{prefix}depthwise")(x)
    x = _batch_norm(f"{prefix}depthwise_BN")(x)
    x = layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = layers.Conv2D(pointwise_filters, kernel_size=1, padding="same", use_bias=False,
                      activation=None, name=f"{prefix}project")(x)
    x = _batch_norm(f"{prefix}project_BN")(x)
    if in_channels == pointwise_filters and stride == 1:
        return layers.Add(name=f"{prefix}add")([inputs, x])
    return x


def _default_size(input_shape) -> int:
    """Keras' default_size: the input's side when it is square and one of ImageNet's sizes."""
    if input_shape is not None and len(input_shape) == 3:
        rows, cols = input_shape[:2]
        if rows == cols and rows in _IMAGENET_ROWS:
            return rows
    return 224


def MobileNetV2(input_shape=None, alpha=1.0, include_top=True, weights="imagenet",
                input_tensor=None, pooling=None, classes=1000, classifier_activation="softmax",
                name=None):
    """MobileNetV2 as `keras.applications.MobileNetV2`: a functional `Model`.

    Args:
        input_shape: (H, W, 3), at least 32×32; default (224, 224, 3) (or the size given, if
            square and one of 96, 128, 160, 192, 224), or (None, None, 3) without the top.
        alpha: the width multiplier α: every layer's filters × α (rounded to multiples of
            8). ImageNet weights exist for α in 0.35, 0.5, 0.75, 1.0, 1.3, 1.4.
        include_top: with global average pooling and the Dense layer `predictions`.
        weights: None (random initialization), "imagenet" (Keras' file
            `~/.keras/models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{α}_{rows}[_no_top].h5`,
            downloaded when missing; rows 224 when the input is not one of ImageNet's sizes,
            with Keras' warning) or the path of a weight file (.weights.h5, .h5, .keras).
        pooling: without the top, None (the 4-D output of `out_relu`), "avg" or "max".
        classes, classifier_activation: the last Dense layer's units and activation.
        name: the model's name; default `mobilenetv2_{α:.2f}_{rows}`.

    Input shape: (batch, H, W, 3) pixels as `preprocess_input` makes them (scaled to [−1, 1]).
    Output shape: (batch, classes) with the top; without it (batch, h, w, 1280) (7×7 for a
    224×224 image) or (batch, 1280) with pooling.
    """
    input_shape = imagenet_utils.checked_input_shape(input_shape, weights, include_top, classes,
                                                     input_tensor, _default_size(input_shape))
    rows = input_shape[0]
    if weights == "imagenet":
        if alpha not in _IMAGENET_ALPHAS:
            raise ValueError("If imagenet weights are being loaded, alpha must be one of "
                             "`0.35`, `0.50`, `0.75`, `1.0`, `1.3` or `1.4` only; Received "
                             f"`alpha={alpha}`")
        if rows != input_shape[1] or rows not in _IMAGENET_ROWS:
            rows = 224
            warnings.warn("`input_shape` is undefined or non-square, or `rows` is not in "
                          "[96, 128, 160, 192, 224]. Weights for input shape (224, 224) will "
                          "be loaded as the default.", stacklevel=2)
    img_input = layers.Input(shape=input_shape)
    x = layers.Conv2D(make_divisible(32 * alpha, 8), kernel_size=3, strides=(2, 2),
                      padding="same", use_bias=False, name="Conv1")(img_input)
    x = _batch_norm("bn_Conv1")(x)
    x = layers.ReLU(6.0, name="Conv1_relu")(x)
    for block_id, (filters, stride, expansion) in enumerate(_BLOCKS):
        x = inverted_res_block(x, filters=filters, alpha=alpha, stride=stride,
                               expansion=expansion, block_id=block_id)
    last_block_filters = make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = layers.Conv2D(last_block_filters, kernel_size=1, use_bias=False, name="Conv_1")(x)
    x = _batch_norm("Conv_1_bn")(x)
    x = layers.ReLU(6.0, name="out_relu")(x)
    if include_top:
        x = imagenet_utils.classifier(x, classes, classifier_activation, weights)
    else:
        x = imagenet_utils.global_pooling(x, pooling)
    model = Model(img_input, x, name=name or f"mobilenetv2_{alpha:0.2f}_{rows}")
    fname = (f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}"
             f"{'' if include_top else '_no_top'}.h5")
    return imagenet_utils.load_model_weights(model, weights, fname, _ORIGIN + fname)


def preprocess_input(x, data_format=None):
    """MobileNetV2's preprocessing ("tf"): pixels in [0, 255] scaled to [−1, 1]."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """(class id, name, score) of the `top` classes per sample (`imagenet_utils`)."""
    return imagenet_utils.decode_predictions(preds, top=top)
