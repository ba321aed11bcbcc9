"""Keras' names: class names in snake_case, and unique automatic names (dense, dense_1, …).

    to_snake_case("SimpleRNN")  -> "simple_rnn"      to_snake_case("Conv2D") -> "conv2d"
    to_snake_case("RMSprop")    -> "rm_sprop"        to_snake_case("AdamW")  -> "adam_w"
    auto_name("Dense") -> "dense", then "dense_1", "dense_2", …

As `keras.src.utils.naming`: one counter per prefix for the whole process (layers, models,
optimizers), which `reset_uids()` clears (what `keras.backend.clear_session()` does).
"""

from __future__ import annotations

import re
from collections import defaultdict

__all__ = ["to_snake_case", "unique_name", "auto_name", "reset_uids"]

_NAME_COUNTS: defaultdict[str, int] = defaultdict(int)


def to_snake_case(name: str) -> str:
    """Keras' `naming.to_snake_case`: drop non-word characters, then put an underscore
    before each capitalized word and between a lower-case letter and a capital."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(prefix: str) -> str:
    """`prefix` the first time, then `prefix_1`, `prefix_2`, …"""
    n = _NAME_COUNTS[prefix]
    _NAME_COUNTS[prefix] += 1
    return prefix if n == 0 else f"{prefix}_{n}"


def auto_name(class_name: str) -> str:
    """The automatic name of a new object of a class: `unique_name(to_snake_case(...))`."""
    return unique_name(to_snake_case(class_name))


def reset_uids() -> None:
    """Restart the automatic names (as `keras.backend.clear_session()` does)."""
    _NAME_COUNTS.clear()
