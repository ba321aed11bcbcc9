"""VGG16 and VGG19 (Simonyan & Zisserman, 2014), as `keras.applications.vgg16/vgg19`.

Five blocks of 3×3 "same" ReLU convolutions (64, 128, 256, 512, 512 filters; 2, 2, 3, 3, 3
convolutions per block in VGG16, 2, 2, 4, 4, 4 in VGG19), each block closed by a 2×2 max
pooling, then the classifier: Flatten → Dense(4096, relu) → Dense(4096, relu) →
Dense(classes). Layer names, weight shapes and order are Keras', so Keras' ImageNet weight
files (legacy .h5) and any weights saved from tf.keras' model (.weights.h5, .h5) load as they
are.
"""

from __future__ import annotations

from .. import layers
from ..models import Model
from . import imagenet_utils

_ORIGIN = "https://storage.googleapis.com/tensorflow/keras-applications/"
_HASHES = {("vgg16", True): "64373286793e3c8b2b4e3219cbf3544b",
           ("vgg16", False): "6d6bbae143d832006294945121d1f1fc",
           ("vgg19", True): "cbe5617147190e668d6c5d5026f83318",
           ("vgg19", False): "253f8cb515780f3b799900260a226db6"}


def build_vgg(family, convs_per_block, include_top, weights, input_tensor, input_shape,
              pooling, classes, classifier_activation, name):
    """The VGG network with `convs_per_block` convolutions in each of its five blocks;
    `family` ("vgg16" or "vgg19") names Keras' weight files."""
    input_shape = imagenet_utils.checked_input_shape(input_shape, weights, include_top, classes,
                                                     input_tensor)
    img_input = layers.Input(shape=input_shape)
    x = img_input
    for block, (filters, n) in enumerate(zip((64, 128, 256, 512, 512), convs_per_block), 1):
        for i in range(1, n + 1):
            x = layers.Conv2D(filters, (3, 3), activation="relu", padding="same",
                              name=f"block{block}_conv{i}")(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = imagenet_utils.global_pooling(x, pooling)
    fname = f"{family}_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
    return imagenet_utils.load_model_weights(Model(img_input, x, name=name), weights, fname,
                                             f"{_ORIGIN}{family}/{fname}",
                                             _HASHES[family, bool(include_top)])


def VGG16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
          pooling=None, classes=1000, classifier_activation="softmax", name="vgg16"):
    """VGG16 as `keras.applications.VGG16`: a functional `Model`.

    Args:
        include_top: with the three Dense layers (then the input must be 224×224×3 with
            ImageNet weights).
        weights: None (random initialization), "imagenet" (Keras' file
            `~/.keras/models/vgg16_weights_tf_dim_ordering_tf_kernels[_notop].h5`, downloaded
            when missing) or the path of a weight file (.weights.h5, .h5, .keras).
        input_shape: (H, W, 3), at least 32×32; default (224, 224, 3), or (None, None, 3)
            without the top.
        pooling: without the top, None (the last block's 4-D output), "avg" or "max".
        classes, classifier_activation: the last Dense layer's units and activation.

    Input shape: (batch, H, W, 3) pixels as `preprocess_input` makes them.
    Output shape: (batch, classes) with the top; (batch, H/32, W/32, 512) or (batch, 512).
    """
    return build_vgg("vgg16", (2, 2, 3, 3, 3), include_top, weights, input_tensor, input_shape,
                     pooling, classes, classifier_activation, name)


def VGG19(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
          pooling=None, classes=1000, classifier_activation="softmax", name="vgg19"):
    """VGG19 as `keras.applications.VGG19`: VGG16 with 4 convolutions in blocks 3–5 (its
    arguments, shapes and file names with "vgg19")."""
    return build_vgg("vgg19", (2, 2, 4, 4, 4), include_top, weights, input_tensor, input_shape,
                     pooling, classes, classifier_activation, name)


def preprocess_input(x, data_format=None):
    """VGG's preprocessing ("caffe"): RGB → BGR, minus ImageNet's mean per channel."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


def decode_predictions(preds, top=5):
    """(class id, name, score) of the `top` classes per sample (`imagenet_utils`)."""
    return imagenet_utils.decode_predictions(preds, top=top)
