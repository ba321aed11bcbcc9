"""ResNet50 (He et al., 2015), as `keras.applications.resnet50` / `keras.applications.resnet`.

A ResNet is a CNN with branches: each residual block adds its input (the identity branch, or a
1×1 convolution where the shape changes) to what three convolutions learn on top of it, so the
block only has to learn the residual (Lecture 63, "Some Pre-trained Models"):

    out = relu(shortcut(x) + BN(conv1×1(relu(BN(conv3×3(relu(BN(conv1×1(x)))))))))

ResNet50 (Keras' ResNet v1 with biases): a 7×7 stride-2 convolution on the image padded by 3
(`conv1_pad`, `conv1_conv`, `conv1_bn`, `conv1_relu`), a 3×3 stride-2 max pooling after a
1-pixel padding (`pool1_pad`, `pool1_pool`), then four stacks of 3, 4, 6 and 3 bottleneck
blocks with 64, 128, 256 and 512 filters (×4 at each block's output); every stack but the
first halves the image in its first block. Every BatchNormalization has ε = 1.001e-5. Layer
names (`conv2_block1_0_conv`, …), weight shapes and order are Keras', so Keras' ImageNet weight
files (legacy .h5) and weights saved from tf.keras' model load as they are.
"""

from __future__ import annotations

from .. import layers
from ..models import Model
from . import imagenet_utils

_ORIGIN = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
_HASHES = {True: "2cb95161c43110f7111970584f804107",  # with the top
           False: "4d473c1dd8becc155b73f8504c6f6626"}
_BN_EPSILON = 1.001e-5


def residual_block(x, filters, kernel_size=3, stride=1, conv_shortcut=True, name=None):
    """A bottleneck block of ResNet v1 (Keras' `residual_block_v1`): 1×1 (stride), 3×3
    "same", 1×1 to 4·filters, added to the shortcut (a 1×1 stride convolution and BN when
    `conv_shortcut`, else the input itself), then relu."""
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = layers.BatchNormalization(axis=3, epsilon=_BN_EPSILON,
                                             name=f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=_BN_EPSILON, name=f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.Conv2D(filters, kernel_size, padding="same", name=f"{name}_2_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=_BN_EPSILON, name=f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=_BN_EPSILON, name=f"{name}_3_bn")(x)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def residual_stack(x, filters, blocks, stride1=2, name=None):
    """`blocks` residual blocks: the first with a convolution shortcut and stride `stride1`,
    the others with the identity."""
    x = residual_block(x, filters, stride=stride1, name=f"{name}_block1")
    for i in range(2, blocks + 1):
        x = residual_block(x, filters, conv_shortcut=False, name=f"{name}_block{i}")
    return x


def ResNet50(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation="softmax", name="resnet50"):
    """ResNet50 as `keras.applications.ResNet50`: a functional `Model`.

    Args:
        include_top: with global average pooling (`avg_pool`) and the Dense layer
            `predictions` (then the input must be 224×224×3 with ImageNet weights).
        weights: None (random initialization), "imagenet" (Keras' file
            `~/.keras/models/resnet50_weights_tf_dim_ordering_tf_kernels[_notop].h5`,
            downloaded when missing) or the path of a weight file (.weights.h5, .h5, .keras).
        input_shape: (H, W, 3), at least 32×32; default (224, 224, 3), or (None, None, 3)
            without the top.
        pooling: without the top, None (the last block's 4-D output), "avg" (`avg_pool`) or
            "max" (`max_pool`).
        classes, classifier_activation: the last Dense layer's units and activation.

    Input shape: (batch, H, W, 3) pixels as `preprocess_input` makes them ("caffe": BGR,
    minus ImageNet's mean).
    Output shape: (batch, classes) with the top; without it (batch, h, w, 2048) (7×7 for a
    224×224 image, 1×1 for 32×32) or (batch, 2048) with pooling.
    """
    input_shape = imagenet_utils.checked_input_shape(input_shape, weights, include_top, classes,
                                                     input_tensor)
    img_input = layers.Input(shape=input_shape)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = layers.Conv2D(64, 7, strides=2, name="conv1_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=_BN_EPSILON, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    x = residual_stack(x, 64, 3, stride1=1, name="conv2")
    x = residual_stack(x, 128, 4, name="conv3")
    x = residual_stack(x, 256, 6, name="conv4")
    x = residual_stack(x, 512, 3, name="conv5")
    if include_top:
        x = imagenet_utils.classifier(x, classes, classifier_activation, weights, "avg_pool")
    else:
        x = imagenet_utils.global_pooling(x, pooling, "avg_pool", "max_pool")
    fname = f"resnet50_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
    return imagenet_utils.load_model_weights(Model(img_input, x, name=name), weights, fname,
                                             _ORIGIN + fname, _HASHES[bool(include_top)])


def preprocess_input(x, data_format=None):
    """ResNet's preprocessing ("caffe"): RGB → BGR, minus ImageNet's mean per channel."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


def decode_predictions(preds, top=5):
    """(class id, name, score) of the `top` classes per sample (`imagenet_utils`)."""
    return imagenet_utils.decode_predictions(preds, top=top)
