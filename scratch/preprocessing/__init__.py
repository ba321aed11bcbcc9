"""`scratch.preprocessing`: Keras' (legacy) preprocessing utilities.

    from scratch.preprocessing.image import ImageDataGenerator    # Lecture 34
"""

from . import image
from .image import ImageDataGenerator

__all__ = ["image", "ImageDataGenerator"]
