"""The engine's Numba kernels, one module per subject, each loaded on first use.

The recurrent layers' fast path is three modules: `recurrent` (its entry points and the batch
split), `recurrent_numpy` (the NumPy time loops) and `recurrent_numba` (the LSTM step kernels).

`load("pooling")` returns `scratch._kernels.pooling`, importing it (and compiling or loading
its cached kernels) the first time only; later calls are one dict lookup. The layers call it
on their fast paths instead of an ``import`` statement inside the function, which costs a
little on every call, and the GAN's step makes dozens of such calls
(docs/PERFORMANCE.md §Numba compilation).
"""

from __future__ import annotations

import importlib
from types import ModuleType

_LOADED: dict[str, ModuleType] = {}


def load(name: str) -> ModuleType:
    """The kernel module `scratch._kernels.<name>`, imported once."""
    module = _LOADED.get(name)
    if module is None:
        module = _LOADED[name] = importlib.import_module(f"{__name__}.{name}")
    return module
