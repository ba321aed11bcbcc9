"""scratch: a from-scratch NumPy/Numba neural-network engine with Keras 3's API and numbers.

    import scratch as keras
    model = keras.models.Sequential([keras.Input(shape=(30,)),
                                     keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    r = model.fit(X_train, y_train, validation_data=(X_test, y_test), epochs=100)

Depends on NumPy, SciPy and Numba only (never TensorFlow). Submodules load on first use
(`scratch.layers`, `scratch.models`, ...), so `import scratch` stays cheap.
"""

from __future__ import annotations

import importlib

from .backend import floatx, set_floatx

__version__ = "0.1.0"

_SUBMODULES = ("activations", "backend", "callbacks", "initializers", "layers", "losses",
               "metrics", "models", "optimizers", "utils", "preprocessing", "testing",
               "convolution", "datasets", "applications", "regularizers", "ops", "tape")
_ATTRS = {"Input": "layers", "Model": "models", "Sequential": "models",
          "GradientTape": "tape", "Variable": "tape"}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _ATTRS:
        return getattr(importlib.import_module(f".{_ATTRS[name]}", __name__), name)
    if name == "config":
        return importlib.import_module(".backend", __name__)
    raise AttributeError(f"module 'scratch' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES) + list(_ATTRS) + ["config"])


__all__ = list(_SUBMODULES) + list(_ATTRS) + ["floatx", "set_floatx"]
