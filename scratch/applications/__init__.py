"""`scratch.applications`: pretrained image models, as `keras.applications`.

    from scratch.applications import VGG16
    from scratch.applications.vgg16 import preprocess_input, decode_predictions
    base = VGG16(input_shape=(200, 200, 3), include_top=False, weights="imagenet")

VGG16 and VGG19 with Keras' layer names, so Keras' ImageNet weight files
(`~/.keras/models/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`, ...) and weights saved
from tf.keras load as they are. ResNet50 and MobileNetV2 are not here yet: they need
ZeroPadding2D and DepthwiseConv2D, which scratch does not have.
"""

from . import imagenet_utils, vgg16, vgg19
from .vgg import VGG16, VGG19

__all__ = ["VGG16", "VGG19", "imagenet_utils", "vgg16", "vgg19"]
