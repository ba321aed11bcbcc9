"""to_keras / from_keras: the same model in tf.keras and in scratch, with identical weights.

Layers map by class name and Keras config: a scratch layer's `get_config()` uses Keras'
argument names, so `keras.layers.<ClassName>.from_config(config)` rebuilds it, and the other
way round. Keras config entries scratch does not model are accepted only at their neutral
value (e.g. `kernel_regularizer=None`); anything else raises an error naming the argument.
TensorFlow is imported lazily, so `import keras_ref` is cheap.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np


def keras():
    """The tf.keras module (Keras 3 on TensorFlow), imported on first use."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import tensorflow as tf

    return tf.keras


# One error class, one layer registry, one table of Keras config keys scratch does not model
# (with the value that means "not used"), one rule for a class' arguments: the file formats'.
from scratch.saving.registry import NEUTRAL as _NEUTRAL  # noqa: E402
from scratch.saving.registry import UnsupportedError  # noqa: E402
from scratch.saving.registry import accepted_args as _accepted_args  # noqa: E402
from scratch.saving.registry import layer_class as _scratch_layer_class  # noqa: E402

_ANY_VALUE = {"implementation", "unroll", "use_cudnn", "zero_output_for_mask", "module",
              "registered_name", "build_config", "compile_config"}


def _dtype_name(dtype) -> str | None:
    if isinstance(dtype, dict):
        return dtype.get("config", {}).get("name")
    return dtype


def _init_config(init):
    """Keras initializer config → something `scratch.initializers.get` accepts."""
    if isinstance(init, dict) and "class_name" in init:
        cfg = {k: v for k, v in init.get("config", {}).items() if k not in _NEUTRAL
               or v != _NEUTRAL[k]}
        return {"class_name": init["class_name"], "config": cfg}
    return init


def scratch_config_from_keras(class_name: str, config: dict) -> dict:
    """Filter a Keras layer config into the kwargs of the scratch class of that name."""
    cls = _scratch_layer_class(class_name)
    accepted = _accepted_args(cls)
    out: dict[str, Any] = {}
    for key, value in config.items():
        if key == "dtype":
            value = _dtype_name(value)
            if value is not None and np.dtype(value).kind != "f":
                continue
        elif key.endswith("_initializer"):
            value = _init_config(value)
        elif key in ("layer", "backward_layer") and isinstance(value, dict):
            value = _nested_layer(value)  # TimeDistributed's and Bidirectional's layers
        if key in accepted:
            out[key] = value
        elif key in _ANY_VALUE:
            continue
        elif key in _NEUTRAL and (value == _NEUTRAL[key] or value is None):
            continue
        elif key == "batch_input_shape" or key == "batch_shape":
            out["input_shape"] = tuple(value[1:])
        else:
            raise UnsupportedError(
                f"Layer {config.get('name')!r} ({class_name}): scratch does not support the "
                f"argument {key}={value!r}."
            )
    return out


def _nested_layer(entry: dict):
    """A scratch layer from a Keras config entry {"class_name": ..., "config": ...}."""
    class_name = entry["class_name"]
    cls = _scratch_layer_class(class_name)
    return cls(**scratch_config_from_keras(class_name, entry.get("config") or {}))


def layer_from_keras(klayer):
    """A scratch layer equal to the (built) tf.keras layer `klayer`, weights copied."""
    class_name = type(klayer).__name__
    cls = _scratch_layer_class(class_name)
    layer = cls(**scratch_config_from_keras(class_name, klayer.get_config()))
    return layer


def layer_to_keras(layer):
    """A tf.keras layer with the scratch layer's config (weights are copied once built)."""
    k = keras()
    config = dict(layer.get_config())
    config.pop("batch_input_shape", None)
    cls = getattr(k.layers, type(layer).__name__, None)
    if cls is None:
        raise UnsupportedError(f"tf.keras has no layer {type(layer).__name__!r}.")
    return cls.from_config(config)


def _copy_weights_to_keras(layer, klayer) -> None:
    weights = layer.get_weights()
    if weights:
        klayer.set_weights(weights)


def _copy_weights_from_keras(klayer, layer) -> None:
    weights = klayer.get_weights()
    if weights:
        layer.set_weights(weights)


# ---------------------------------------------------------------------------------- models
def to_keras(model):
    """Build the equivalent tf.keras model (Sequential or functional) with identical weights."""
    from scratch.layers.core import InputLayer
    from scratch.models import Model, Sequential

    k = keras()
    if isinstance(model, Sequential):
        if not model.built:
            raise ValueError("to_keras needs a built model (give it an Input or call it once).")
        t = model.inputs[0]
        layers = [layer_to_keras(l) if not isinstance(l, Model) else to_keras(l)
                  for l in model.layers]
        kmodel = k.Sequential([k.Input(batch_shape=t.shape, dtype=t.dtype)] + layers,
                              name=model.name)
        for layer, klayer in zip(model.layers, layers):
            if not isinstance(layer, Model):
                _copy_weights_to_keras(layer, klayer)
        _copy_trainable(model, kmodel)
        return kmodel
    if not isinstance(model, Model):
        klayer = layer_to_keras(model)
        return klayer
    tensors: dict[int, Any] = {}
    klayers: dict[int, Any] = {}
    for node in model._nodes:
        layer = node.layer
        if isinstance(layer, InputLayer):
            t = node.outputs[0]
            tensors[id(t)] = k.Input(batch_shape=t.shape, dtype=t.dtype, name=layer.name)
            continue
        if id(layer) not in klayers:
            klayers[id(layer)] = to_keras(layer) if isinstance(layer, Model) \
                else layer_to_keras(layer)
        args, kwargs = keras_call_arguments(node, [tensors[id(t)] for t in node.inputs])
        out = klayers[id(layer)](*args, **kwargs)
        outs = list(out) if node.multi_output else [out]
        for t, kt in zip(node.outputs, outs):
            tensors[id(t)] = kt
    ins = [tensors[id(t)] for t in model.inputs]
    outs = [tensors[id(t)] for t in model.outputs]
    kmodel = k.Model(ins if model._multi_input else ins[0],
                     outs if model._multi_output else outs[0], name=model.name)
    for node in model._nodes:
        layer = node.layer
        if id(layer) in klayers and not isinstance(layer, Model):
            _copy_weights_to_keras(layer, klayers[id(layer)])
    _copy_trainable(model, kmodel)
    return kmodel


def keras_call_arguments(node, args: list) -> tuple[list, dict]:
    """(positional arguments, keyword arguments) of the tf.keras call of a scratch graph node
    whose inputs are `args`: scratch records `rnn(x, initial_state=[h0, ...])` as a call on
    [x, h0, ...], which tf.keras takes as `rnn(x, initial_state=[h0, ...])`, and
    `mha(query, value, key=k)` as a call on [query, value, k] (the layer's own
    `keras_call_arguments`)."""
    from scratch.layers.recurrent.rnn import RNN
    from scratch.layers.wrappers import Bidirectional

    kwargs = dict(node.kwargs)
    if node.multi_input and isinstance(node.layer, (RNN, Bidirectional)):
        kwargs["initial_state"] = list(args[1:])
        return [args[0]], kwargs
    if hasattr(node.layer, "keras_call_arguments"):
        return node.layer.keras_call_arguments(args, kwargs)
    return [args if node.multi_input else args[0]], kwargs


def _copy_trainable(model, kmodel) -> None:
    kmodel.trainable = model.trainable


def from_keras(kmodel):
    """Build the equivalent scratch model of a tf.keras model, weights copied."""
    import scratch
    from scratch.models import Model, Sequential

    k = keras()
    if isinstance(kmodel, k.Sequential):
        shape = tuple(kmodel.inputs[0].shape)
        dtype = kmodel.inputs[0].dtype
        layers = [from_keras(l) if isinstance(l, k.Model) else layer_from_keras(l)
                  for l in kmodel.layers]
        model = Sequential([scratch.Input(batch_shape=shape, dtype=dtype)] + layers,
                           name=kmodel.name)
        for klayer, layer in zip(kmodel.layers, layers):
            if not isinstance(layer, Model):
                _copy_weights_from_keras(klayer, layer)
        model.trainable = kmodel.trainable
        return model
    if not isinstance(kmodel, k.Model):
        layer = layer_from_keras(kmodel)
        return layer
    tensors: dict[int, Any] = {}
    layers: dict[int, Any] = {}

    def convert(kt):
        if id(kt) in tensors:
            return tensors[id(kt)]
        op, node_index, tensor_index = kt._keras_history
        if isinstance(op, k.layers.InputLayer):
            t = scratch.Input(batch_shape=tuple(kt.shape), dtype=kt.dtype, name=op.name)
            tensors[id(kt)] = t
            return t
        node = op._inbound_nodes[node_index]
        def tensors_of(val):  # a Keras tensor, or a list of them, → scratch's
            if hasattr(val, "_keras_history"):
                return convert(val)
            if isinstance(val, (list, tuple)) and val and hasattr(val[0], "_keras_history"):
                return [convert(v) for v in val]
            return val

        # one positional tensor (or list) for most layers; (query, value) for attention
        args = [tensors_of(a) for a in node.arguments.args]
        kwargs = {key: tensors_of(val) for key, val in node.arguments.kwargs.items()}
        if id(op) not in layers:
            layers[id(op)] = (from_keras(op) if isinstance(op, k.Model)
                              else layer_from_keras(op), op)
        out = layers[id(op)][0](*args, **kwargs)
        for i, okt in enumerate(node.output_tensors):
            tensors[id(okt)] = out[i] if isinstance(out, (list, tuple)) else out
        return tensors[id(kt)]

    ins = [convert(t) for t in kmodel.inputs]
    outs = [convert(t) for t in kmodel.outputs]
    model = Model(ins if len(ins) > 1 else ins[0], outs if len(outs) > 1 else outs[0],
                  name=kmodel.name)
    for layer, op in layers.values():
        if not isinstance(layer, Model):
            _copy_weights_from_keras(op, layer)
    model.trainable = kmodel.trainable
    return model


# ------------------------------------------------------------------------- compile settings
def optimizer_to_keras(optimizer):
    """tf.keras optimizer with the same class and hyper-parameters."""
    k = keras()
    config = dict(optimizer.get_config())
    cls = getattr(k.optimizers, type(optimizer).__name__, None)
    if cls is None:
        raise UnsupportedError(f"tf.keras has no optimizer {type(optimizer).__name__!r}.")
    lr = config.get("learning_rate")
    if isinstance(lr, dict):
        config["learning_rate"] = k.optimizers.schedules.deserialize(lr)
    return cls.from_config(config)


def optimizer_from_keras(koptimizer):
    from scratch import optimizers

    config = dict(koptimizer.get_config())
    cls = getattr(optimizers, type(koptimizer).__name__, None)
    if cls is None:
        raise UnsupportedError(f"scratch has no optimizer {type(koptimizer).__name__!r}.")
    accepted = _accepted_args(cls)
    kwargs = {}
    for key, value in config.items():
        if key in accepted:
            kwargs[key] = value
        elif key in _NEUTRAL and value == _NEUTRAL[key]:
            continue
        else:
            raise UnsupportedError(
                f"Optimizer {type(koptimizer).__name__}: scratch does not support "
                f"{key}={value!r}."
            )
    if isinstance(kwargs.get("learning_rate"), dict):
        kwargs["learning_rate"] = optimizers.schedules.deserialize(kwargs["learning_rate"])
    return cls(**kwargs)


def loss_to_keras(loss):
    k = keras()
    cls = getattr(k.losses, type(loss).__name__, None)
    if cls is None:
        raise UnsupportedError(f"tf.keras has no loss {type(loss).__name__!r}.")
    return cls.from_config(loss.get_config())


def loss_from_keras(kloss):
    from scratch import losses

    cls = getattr(losses, type(kloss).__name__, None)
    if cls is None:
        raise UnsupportedError(f"scratch has no loss {type(kloss).__name__!r}.")
    config = {key: v for key, v in kloss.get_config().items() if key != "dtype"}
    return cls.from_config(config)


def compile_like(kmodel, model, metrics=None) -> None:
    """Compile the tf.keras model with the scratch model's optimizer, loss(es), loss weights
    and metrics (or `metrics`)."""
    losses = [None if l is None else loss_to_keras(l) for l in model._losses]
    kmodel.compile(optimizer=optimizer_to_keras(model.optimizer),
                   loss=losses if len(losses) > 1 else losses[0],
                   loss_weights=model._loss_weights_spec,
                   metrics=metrics if metrics is not None else model._metric_spec)
