"""`scratch.preprocessing`: Keras' (legacy) preprocessing utilities.

    from scratch.preprocessing.image import ImageDataGenerator    # Lecture 34
    from scratch.preprocessing.text import Tokenizer              # Lecture 55-56
    from scratch.preprocessing.sequence import pad_sequences      # Lecture 56
    from scratch.preprocessing.image import load_img, img_to_array  # Lectures 63–67
"""

from ..utils.image_dataset import image_dataset_from_directory
from . import image, sequence, text
from .image import ImageDataGenerator
from .sequence import pad_sequences
from .text import Tokenizer

__all__ = ["image", "sequence", "text", "ImageDataGenerator", "Tokenizer", "pad_sequences",
           "image_dataset_from_directory"]
