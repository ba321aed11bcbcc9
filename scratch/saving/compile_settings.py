"""The compile settings in a Keras config, both ways: Keras' `get_compile_config()`.

A `.keras` file stores how its model was compiled (the optimizer with its config, the loss,
the loss weights and the metrics) as "compile_config"; a legacy `.h5` file as its
"training_config". `compile_config` writes either from a compiled scratch model;
`compile_from_config` compiles a scratch model with one read from a file, and names the
setting at fault when scratch cannot rebuild it (load with ``compile=False`` to skip them).
"""

from __future__ import annotations

import types

from .config_values import _keras_value, _received, _strip, class_and_config, expect
from .registry import UnsupportedError, deserialization_settings

# Optimizer config keys of Keras 2.11+ files that Keras 3 no longer has.
_LEGACY_OPTIMIZER_KEYS = {"is_legacy_optimizer", "jit_compile"}


def _serialize_compile_object(obj, module: str, legacy: bool):
    from .. import losses, metrics

    if isinstance(obj, (losses.Loss, metrics.Metric)):
        config = {k: _keras_value(k, v) for k, v in obj.get_config().items()}
        out = {"module": module, "class_name": type(obj).__name__, "config": config,
               "registered_name": None}
        return {"class_name": out["class_name"], "config": config} if legacy else out
    if isinstance(obj, types.FunctionType):  # a metric function of the user's own: its name
        return obj.__name__ if legacy else {"module": "builtins", "class_name": "function",
                                            "config": obj.__name__,
                                            "registered_name": "function"}
    if isinstance(obj, (list, tuple)):
        return [_serialize_compile_object(o, module, legacy) for o in obj]
    if isinstance(obj, dict):
        return {k: _serialize_compile_object(o, module, legacy) for k, o in obj.items()}
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    raise UnsupportedError(
        f"Cannot write {type(obj).__name__} objects into a Keras compile config. "
        f"Received: {obj!r}"
    )


# Keras 3's legacy-H5 reader resolves the loss "mse" to keras.metrics.mse and fails (it does
# so on its own files too); the function names load.
_LOSS_ALIASES = {"mse": "mean_squared_error", "MSE": "mean_squared_error",
                 "mae": "mean_absolute_error", "MAE": "mean_absolute_error",
                 "mape": "mean_absolute_percentage_error",
                 "msle": "mean_squared_logarithmic_error"}


def _canonical_losses(spec):
    if isinstance(spec, str):
        return _LOSS_ALIASES.get(spec, spec)
    if isinstance(spec, (list, tuple)):
        return [_canonical_losses(s) for s in spec]
    if isinstance(spec, dict):
        return {k: _canonical_losses(s) for k, s in spec.items()}
    return spec


def _per_output_metrics(model):
    """scratch (like Keras 2) applies a flat metric list to every output; Keras 3 wants one
    list per output, so write it that way."""
    spec = model._metric_spec
    n_out = len(model.outputs) if model.built else 1
    if n_out > 1 and isinstance(spec, (list, tuple)) and spec and not any(
            isinstance(m, (list, tuple)) for m in spec):
        return [list(spec) for _ in range(n_out)]
    return spec


def compile_config(model, legacy: bool = False) -> dict | None:
    """Keras' `get_compile_config()` of a compiled scratch model (None if not compiled).

    With ``legacy=True``: the `training_config` of a legacy `.h5` file (the optimizer as
    "optimizer_config" without "module" keys).
    """
    from .. import optimizers

    if not getattr(model, "compiled", False) or model.optimizer is None:
        return None
    opt = optimizers.serialize(model.optimizer)
    opt["config"] = {k: _keras_value(k, v) for k, v in opt["config"].items()}
    config = {
        "optimizer": opt,
        "loss": _serialize_compile_object(
            _canonical_losses(model._loss_spec) if legacy else model._loss_spec,
            "keras.losses", legacy),
        "loss_weights": _keras_value("", model._loss_weights_spec),
        "metrics": _serialize_compile_object(_per_output_metrics(model), "keras.metrics",
                                             legacy),
        "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
        "jit_compile": False,
    }
    if legacy:
        config.pop("optimizer")
        config["optimizer_config"] = {"class_name": opt["class_name"], "config": opt["config"]}
    return config


def _optimizer_from_config(config: dict, where: str):
    from .. import optimizers

    name, inner = class_and_config(_strip(config), where)
    inner = {k: v for k, v in inner.items() if k not in _LEGACY_OPTIMIZER_KEYS}
    try:
        return optimizers.deserialize({"class_name": name, "config": inner})
    except (ValueError, TypeError) as e:
        raise UnsupportedError(
            f"The file's optimizer {name!r} cannot be rebuilt in scratch: {e} "
            "(load with compile=False to skip the compile settings)."
        ) from e


def _loss_from_config(config, where: str):
    if config is None or isinstance(config, str):
        return config
    if isinstance(config, list):
        return [_loss_from_config(c, where) for c in config]
    if isinstance(config, dict) and "class_name" not in config:
        return {k: _loss_from_config(c, where) for k, c in config.items()}
    class_name, inner = class_and_config(_strip(config), where)
    inner = dict(inner)
    if class_name == "LossFunctionWrapper" and isinstance(inner.get("fn"), str):
        return inner["fn"]
    if inner.get("dtype") is None:
        inner.pop("dtype", None)
    if inner.get("reduction") == "auto":  # Keras 2
        inner["reduction"] = "sum_over_batch_size"
    return {"class_name": class_name, "config": inner}


def _metric_from_config(config, where: str):
    if isinstance(config, str):  # a metric's name; a legacy file names a function so too
        function = (deserialization_settings()[1] or {}).get(config)
        return function if callable(function) else config
    if config is None:
        return config
    if isinstance(config, list):
        return [_metric_from_config(c, where) for c in config]
    if isinstance(config, dict) and "class_name" not in config:
        return {k: _metric_from_config(c, where) for k, c in config.items()}
    if isinstance(config, dict) and config.get("class_name") == "function":
        return _metric_function(config.get("config"), where)
    class_name, inner = class_and_config(_strip(config), where)
    if class_name == "MeanMetricWrapper" and isinstance(inner.get("fn"), str):
        # Keras 2 files: {"class_name": "MeanMetricWrapper", "config": {"name": "accuracy",
        # "fn": "binary_accuracy"}}
        name = inner.get("name")
        return name if name in ("accuracy", "acc") else inner["fn"]
    return {"class_name": class_name, "config": dict(inner)}


def _metric_function(name, where: str):
    """A metric function the file names (Keras writes a user's function by its name): only
    one the caller passed in `custom_objects` is used; nothing the file names is imported."""
    name = expect(name, str, f"{where}: function")
    function = (deserialization_settings()[1] or {}).get(name)
    if not callable(function):
        raise UnsupportedError(
            f"The file's metrics use the function '{name}', which is not in custom_objects "
            f"(pass custom_objects={{'{name}': {name}}} to load_model, or load with "
            "compile=False to skip the compile settings).")
    return function


def compile_from_config(model, config: dict, legacy: bool = False) -> None:
    """Compile a scratch model with a Keras compile config (or a legacy `training_config`).

    Raises FileFormatError for a config of the wrong structure, UnsupportedError for
    settings scratch cannot rebuild.
    """
    from .. import losses, metrics

    what = "training_config" if legacy else "compile_config"
    config = dict(expect(config, dict, what))
    opt_key = "optimizer_config" if legacy else "optimizer"
    opt_config = config.get(opt_key)
    if isinstance(opt_config, dict):
        optimizer = _optimizer_from_config(opt_config, f"{what}: {opt_key}")
    elif opt_config is None:
        optimizer = "rmsprop"
    else:
        optimizer = expect(opt_config, str, f"{what}: {opt_key}") or "rmsprop"
    loss = _loss_from_config(config.get("loss"), f"{what}: loss")
    metric_spec = _metric_from_config(config.get("metrics"), f"{what}: metrics")
    n_outputs = len(model.outputs) if model.built else 1
    if isinstance(metric_spec, list) and n_outputs == 1 and len(metric_spec) == 1 \
            and isinstance(metric_spec[0], list):
        metric_spec = metric_spec[0]  # Keras 2 wrote one list per output
    weighted = _metric_from_config(config.get("weighted_metrics"), f"{what}: weighted_metrics")
    if weighted:
        raise UnsupportedError(
            f"scratch does not implement weighted_metrics. Received: weighted_metrics="
            f"{_received(config.get('weighted_metrics'))} (load with compile=False to skip "
            "them)."
        )
    try:
        model.compile(optimizer=optimizer, loss=loss, loss_weights=config.get("loss_weights"),
                      metrics=metric_spec)
        for l in as_flat(loss):
            losses.get(l)
        for m in as_flat(metric_spec):
            metrics.get(m)
    except (ValueError, TypeError) as e:
        model.compiled = False
        model.optimizer = None
        raise UnsupportedError(
            f"The file's compile settings cannot be rebuilt in scratch: {e} "
            "(load with compile=False to skip them)."
        ) from e


def as_flat(spec) -> list:
    if spec is None:
        return []
    if isinstance(spec, dict) and "class_name" not in spec:
        return [x for v in spec.values() for x in as_flat(v)]
    if isinstance(spec, (list, tuple)):
        return [x for v in spec for x in as_flat(v)]
    return [spec]
