"""Checks of the arguments of compile / fit / evaluate / predict / train_on_batch.

A careless call should fail at once, with a message that names the argument, says what was
expected and shows what came: Keras' form, "`epochs` must be a non-negative integer.
Received: epochs=2.5". The entry points run these checks before they change anything
(weights, optimizer and its iterations, `history`, metrics), once per call and never per
batch, so the training loop pays nothing for them.

Errors: `ValueError` for a bad argument (as Keras raises for `validation_freq` or `metrics`
of the wrong type), `TypeError` for a callback that is not a `Callback` (as before).
The data itself (x, y, sample_weight) is checked in `training.py`, next to its conversion.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import losses as losses_module
from .. import metrics as metrics_module
from ..layers.base import as_list

DEFAULT_BATCH_SIZE = 32


def _is_int(value) -> bool:
    """A Python or NumPy integer, not a bool (True is an int to Python, not to a user)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
    """A Python or NumPy real number, not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def shown(value) -> str:
    """How a value appears after "Received:": its repr, or a description for data (an
    array printed whole would bury the message)."""
    if hasattr(value, "shape") and not np.isscalar(value):
        return f"{type(value).__name__} of shape {value.shape}"
    if isinstance(value, dict):
        if len(value) > 4 or any(hasattr(v, "shape") for v in value.values()):
            return f"dict with keys {list(value)}"
    elif isinstance(value, (list, tuple)):
        if len(value) > 4 or any(hasattr(v, "shape") for v in value):
            return f"{type(value).__name__} of length {len(value)}"
    return repr(value)


# ----------------------------------------------------------------------------- fit and co.
def optional_positive_int(name: str, value) -> int | None:
    """`validation_batch_size`, `steps_per_epoch`, ...: None or a positive integer."""
    if value is None:
        return None
    if not _is_int(value) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer or None. "
                         f"Received: {name}={shown(value)}")
    return int(value)


def batch_size(value) -> int:
    """`batch_size`: a positive integer, or None for Keras' default of 32."""
    size = optional_positive_int("batch_size", value)
    return DEFAULT_BATCH_SIZE if size is None else size


def non_negative_int(name: str, value) -> int:
    """`epochs`, `initial_epoch`: an integer >= 0."""
    if not _is_int(value) or value < 0:
        raise ValueError(f"`{name}` must be a non-negative integer. "
                         f"Received: {name}={shown(value)}")
    return int(value)


def verbose(value) -> int:
    """`verbose`: "auto" (= 1), 0 (silent), 1 (a progress bar) or 2 (one line per epoch)."""
    if isinstance(value, str) and value == "auto":
        return 1
    if isinstance(value, bool) or (_is_int(value) and value in (0, 1, 2)):
        return int(value)
    raise ValueError(f"`verbose` must be 'auto', 0, 1 or 2. Received: verbose={shown(value)}")


def validation_split(value) -> float:
    """`validation_split`: the fraction of the data kept for validation, in [0, 1)."""
    if not _is_real(value) or not 0.0 <= value < 1.0:
        raise ValueError(f"`validation_split` must be a number in [0, 1). "
                         f"Received: validation_split={shown(value)}")
    return float(value)


def data_tuple(what: str, value) -> tuple | None:
    """`validation_data`, or one batch of a generator: a tuple (x, y) or (x, y,
    sample_weight); None stays None.

    Returns:
        None, or the three parts (x, y, sample_weight or None).
    """
    if value is None:
        return None
    if not isinstance(value, (tuple, list)) or len(value) not in (2, 3):
        shown = f"{type(value).__name__} of length {len(value)}" \
            if isinstance(value, (tuple, list)) else f"an object of type {type(value).__name__}"
        raise ValueError(f"`{what}` must be a tuple (x, y) or (x, y, sample_weight). "
                         f"Received: {shown}")
    return value[0], value[1], value[2] if len(value) == 3 else None


def validation_freq(value) -> int | list[int]:
    """`validation_freq`: validate every `value` epochs (a positive integer), or after the
    epochs listed (1-based, Keras' list form)."""
    if _is_int(value) and value >= 1:
        return int(value)
    if isinstance(value, list) and value and all(_is_int(e) and e >= 1 for e in value):
        return [int(e) for e in value]
    raise ValueError("`validation_freq` must be a positive integer or a list of epoch "
                     f"numbers. Received: validation_freq={shown(value)}")


def shuffle(value) -> bool:
    """`shuffle`: True or False (Keras' shuffle="batch" is not implemented)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ValueError(f"`shuffle` must be True or False. Received: shuffle={shown(value)}")


def class_weight(value) -> dict | None:
    """`class_weight`: None, or a dict {class index (int): finite weight}."""
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
            _is_int(k) and _is_real(w) and math.isfinite(w) for k, w in value.items()):
        raise ValueError("`class_weight` must be a dict mapping class indices (integers) to "
                         f"finite numbers. Received: class_weight={shown(value)}")
    return value


def no_data_error(method: str) -> ValueError:
    """The error for `fit(None, y)` and the like."""
    return ValueError(f"{method}() expects input data `x`: an array, a list or dict of "
                      "arrays (one per model input), or a generator of (x, y) batches. "
                      "Received: x=None")


# ----------------------------------------------------------------------------- compile
def _is_config(spec) -> bool:
    """A serialized loss or metric ({"class_name": ..., "config": ...}), not a dict keyed by
    output name."""
    return isinstance(spec, dict) and "class_name" in spec


def _check_dict_keys(argument: str, spec: dict, names: list[str], complete: bool) -> None:
    """A dict argument keyed by output name: no key other than the outputs' names (and every
    name, when `complete`)."""
    unknown = [k for k in spec if k not in names]
    missing = [n for n in names if n not in spec] if complete else []
    if unknown or missing:
        need = "one entry per model output" if complete else "model output names as keys"
        raise ValueError(f"`{argument}` as a dict needs {need}: the outputs are {names}. "
                         f"Received: {argument}.keys()={list(spec)}")


def resolve_compile(loss, loss_weights, metrics, output_names: list[str] | None):
    """Check compile's `loss`, `loss_weights` and `metrics` and give one entry per output.

    Every loss and metric name is resolved (an unknown one such as "acurracy" raises here,
    not at the first step of `fit`). Before the model is built (`output_names` None) only
    the names and types can be checked; the structure (one loss per output, dict keys that
    are output names) is then checked at the first `fit`, before anything trains.

    Args:
        loss: one loss for every output, a list (one per output) or a dict keyed by output
            name with every output (None for an output without a loss), as Keras.
        loss_weights: None, a number (single output), a list (one per output) or a dict
            (missing outputs weigh 1).
        metrics: None, a list (for every output), a list of lists (one per output) or a
            dict keyed by output name.
        output_names: the model's output names, or None before the model is built.

    Returns:
        (losses, loss_weights, metric_ids), lists with one entry per output; None when the
        outputs are not known yet.

    Raises:
        ValueError: for an unknown loss, an unknown metric, a weight that is not a finite
            number, or a structure that does not match the outputs. `loss=None` is accepted,
            as in Keras (a `train_step(self, data)` of your own may compute its loss itself).
    """
    per_output_loss = isinstance(loss, (list, tuple)) or (
        isinstance(loss, dict) and not _is_config(loss))
    loss_leaves = list(loss.values() if isinstance(loss, dict) else loss) \
        if per_output_loss else [loss]
    resolved_losses = [None if l is None else losses_module.get(l) for l in loss_leaves]

    if metrics is not None and not isinstance(metrics, (list, tuple, dict)):
        raise ValueError("`metrics` must be a list, a list of lists (one per output) or a dict "
                         f"keyed by output name. Received: metrics={shown(metrics)}")
    metric_groups = [] if metrics is None else (
        list(metrics.values()) if isinstance(metrics, dict) else list(metrics))
    for group in metric_groups:
        for ident in group if isinstance(group, (list, tuple)) else [group]:
            metrics_module.get(ident)  # raises for an unknown name

    if loss_weights is not None and not (_is_real(loss_weights) or isinstance(
            loss_weights, (list, tuple, dict))):
        raise ValueError("`loss_weights` must be a number (single output), a list or a dict "
                         f"keyed by output name. Received: loss_weights={shown(loss_weights)}")
    weight_leaves = [] if loss_weights is None else list(
        loss_weights.values() if isinstance(loss_weights, dict) else
        loss_weights if isinstance(loss_weights, (list, tuple)) else [loss_weights])
    if not all(_is_real(w) and math.isfinite(w) for w in weight_leaves):
        raise ValueError("`loss_weights` must hold finite numbers. "
                         f"Received: loss_weights={shown(loss_weights)}")

    if output_names is None:
        return None
    n_out = len(output_names)

    if isinstance(loss, dict) and per_output_loss:
        _check_dict_keys("loss", loss, output_names, complete=True)
        by_name = dict(zip(loss, resolved_losses))
        losses = [by_name[n] for n in output_names]
    elif per_output_loss:
        if len(resolved_losses) != n_out:
            raise ValueError(f"`loss` needs one entry per model output: the outputs are "
                             f"{output_names}. Received: loss={shown(loss)}")
        losses = resolved_losses
    elif loss is None:  # Keras compiles without a loss: a train_step of your own may not
        losses = [None] * n_out  # need one; the default steps say so (`require_a_loss`)
    else:  # one loss for every output: an instance each (an "auto" loss resolves per shape)
        losses = [losses_module.get(loss) for _ in range(n_out)]

    if loss_weights is None:
        weights = [1.0] * n_out
    elif isinstance(loss_weights, dict):
        _check_dict_keys("loss_weights", loss_weights, output_names, complete=False)
        weights = [float(loss_weights.get(n, 1.0)) for n in output_names]
    else:
        if len(weight_leaves) != n_out:
            raise ValueError(f"`loss_weights` needs one weight per model output: the outputs "
                             f"are {output_names}. Received: loss_weights={shown(loss_weights)}")
        weights = [float(w) for w in weight_leaves]

    if metrics is None:
        metric_ids: list = [[] for _ in range(n_out)]
    elif isinstance(metrics, dict):
        _check_dict_keys("metrics", metrics, output_names, complete=False)
        metric_ids = [as_list(metrics.get(n, [])) for n in output_names]
    elif n_out > 1 and any(isinstance(m, (list, tuple)) for m in metrics):
        if len(metrics) != n_out:
            raise ValueError(f"`metrics` as a list of lists needs one list per model output: "
                             f"the outputs are {output_names}. Received: metrics={metrics!r}")
        metric_ids = [as_list(m) for m in metrics]
    else:
        metric_ids = [list(metrics) for _ in range(n_out)]
    return losses, weights, metric_ids

