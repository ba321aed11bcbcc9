"""`scratch.optimizers`: Keras' SGD, Adam, AdamW, RMSprop, Adagrad, Nadam, Adamax, Adadelta
and Ftrl on NumPy arrays.

    opt = optimizers.get("adam")                    # or optimizers.Adam(1e-3)
    opt.apply_gradients([(grad, var), ...])         # updates each var in place

The updates are bit-identical to tf.keras in float32 (same operation order; Ftrl, whose
elementwise powers TensorFlow rounds its own way, within the tolerance table); see
`scratch.optimizers.base` for the step order, the state layout and the precision notes.
"""

from __future__ import annotations

from typing import Any

from . import schedules
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam
from .adamax import Adamax
from .adamw import AdamW
from .base import Optimizer, clip_by_global_norm, clip_by_norm
from .ftrl import Ftrl
from .nadam import Nadam
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Nadam", "Adamax",
           "Adadelta", "Ftrl", "schedules", "get", "serialize", "deserialize", "clip_by_norm",
           "clip_by_global_norm"]

ALL_OBJECTS: dict[str, type] = {cls.__name__.lower(): cls for cls in (
    SGD, Adam, AdamW, RMSprop, Adagrad, Nadam, Adamax, Adadelta, Ftrl)}


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    """Keras 3's serialized form: {"module", "class_name", "config", "registered_name"}."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"serialize expects a scratch Optimizer. Received: optimizer={optimizer!r}"
        )
    return {"module": "keras.optimizers", "class_name": type(optimizer).__name__,
            "config": optimizer.get_config(), "registered_name": None}


def deserialize(config: dict[str, Any]) -> Optimizer:
    """Build an optimizer from `serialize`'s dict (class names are case-insensitive)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret optimizer identifier: {config!r}")
    name = str(config["class_name"])
    cls = ALL_OBJECTS.get(name.lower())
    if cls is None:
        raise ValueError(
            f"Could not interpret optimizer identifier: {name!r}. scratch implements "
            f"{sorted(ALL_OBJECTS)}"
        )
    return cls.from_config(dict(config.get("config") or {}))


def get(identifier) -> Optimizer | None:
    """Resolve an optimizer identifier (as `keras.optimizers.get`).

    Args:
        identifier: None (-> None), a name ("sgd", "adam", "adamw", "rmsprop", "adagrad",
            "nadam", "adamax", "adadelta", "ftrl", any case; default-constructed), a
            serialized dict, or an `Optimizer` instance (returned unchanged).

    Raises:
        ValueError: for anything else, naming the identifier.
    """
    if identifier is None:
        return None
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return deserialize({"class_name": identifier, "config": {}})
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")
