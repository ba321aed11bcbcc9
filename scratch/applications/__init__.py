"""`scratch.applications`: pretrained image models, as `keras.applications`.

    from scratch.applications import VGG16
    from scratch.applications.vgg16 import preprocess_input, decode_predictions
    base = VGG16(input_shape=(200, 200, 3), include_top=False, weights="imagenet")

VGG16, VGG19, ResNet50 and MobileNetV2 with Keras' layer names, so Keras' ImageNet weight
files (`~/.keras/models/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`, ...) and weights
saved from tf.keras load as they are. Each family's module (`vgg16`, `vgg19`, `resnet50` and
`resnet`, `mobilenet_v2`) has its `preprocess_input` and `decode_predictions`.
"""

from . import imagenet_utils, mobilenet_v2, resnet, resnet50, vgg16, vgg19
from .mobilenet_v2 import MobileNetV2
from .resnet import ResNet50
from .vgg import VGG16, VGG19

__all__ = ["VGG16", "VGG19", "ResNet50", "MobileNetV2", "imagenet_utils", "vgg16", "vgg19",
           "resnet", "resnet50", "mobilenet_v2"]
