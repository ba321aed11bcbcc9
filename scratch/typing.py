"""Type aliases used in signatures across scratch."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.floating]
Shape = tuple[int | None, ...]
