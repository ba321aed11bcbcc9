"""Models: `Sequential` and the functional `Model`."""

from .functional import Model
from .sequential import Sequential

__all__ = ["Model", "Sequential"]
