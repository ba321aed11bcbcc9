"""`scratch.layers`: Keras layer names, weight names and layouts, with explicit backward."""

from .base import Layer
from .core import (ELU, Activation, Dense, Flatten, Input, InputLayer, LeakyReLU, ReLU,
                   Reshape, Softmax)
from .dropout import Dropout

__all__ = ["Layer", "Input", "InputLayer", "Dense", "Activation", "Softmax", "ReLU",
           "LeakyReLU", "ELU", "Flatten", "Reshape", "Dropout"]
