"""Models: `Sequential`, the functional `Model`, and `load_model` for Keras files."""

from .functional import Model
from .sequential import Sequential


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a `.keras` archive (Keras 3) or a legacy Keras 2 `.h5` model file."""
    from ..saving import load_model as _load

    return _load(filepath, custom_objects=custom_objects, compile=compile,
                 safe_mode=safe_mode)


__all__ = ["Model", "Sequential", "load_model"]
