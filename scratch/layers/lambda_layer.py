"""`Lambda`: a Python function of arrays as a layer (Keras' `keras.layers.Lambda`).

    model.add(Lambda(lambda x: x ** 2))
    Lambda(lambda x, k: x[:, :k], arguments={"k": 2})

The function runs on the layer's input as a `Tensor` (scratch/tape), so its NumPy operations
are recorded, and the layer's backward replays them (the rules of scratch/tape/rules.py:
arithmetic, square, sqrt, exp, log, power, tanh, abs, maximum/minimum, clip, matmul, sums
and means, reshapes, indexing, concatenation, the scratch activations, ...). A function that
uses anything else still runs (a `predict` works), but a backward through it raises a
ValueError naming the operation: the gradient is never silently wrong.

Files: the function is Python code. A named function is written by name and read back only
from `custom_objects`; a `lambda` is written as Keras does (its marshalled bytecode, base64),
and reading it back executes code from the file, so it is refused unless the caller opts in
with `load_model(..., safe_mode=False)` (or `Lambda.from_config(config, safe_mode=False)`),
exactly as Keras 3 refuses it by default.
"""

from __future__ import annotations

import base64
import builtins
import inspect
import marshal
import types

import numpy as np

from .subclassed import SubclassedLayer, probe_output_shape


class Lambda(SubclassedLayer):
    """Wraps `function(inputs, **arguments)` as a layer.

    Args:
        function: a function of the input array(s) (a list for several inputs) returning an
            array; it may take `mask` and `training` keywords.
        output_shape: the output shape without the batch axis (a tuple), or a function of
            the full input shape; None: found by running the function on zeros.
        mask: None, a function `(inputs, mask) -> mask`, or a fixed mask.
        arguments: keyword arguments passed to `function`.

    Shapes: whatever `function` does; the batch axis is the input's.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda expects a callable `function`. Received: "
                            f"function={function!r}")
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(f"Lambda expects `arguments` to be a dict. Received: "
                            f"arguments={arguments!r}")
        self.function = function
        self.arguments = dict(arguments or {})
        self.mask = mask
        self.supports_masking = mask is not None
        self._output_shape = output_shape
        try:
            names = inspect.getfullargspec(function).args
        except TypeError:
            names = []
        self._fn_expects_training_arg = "training" in names
        self._fn_expects_mask_arg = "mask" in names

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._fn_expects_mask_arg:
            kwargs["mask"] = mask
        if self._fn_expects_training_arg:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            return probe_output_shape(self, input_shape,
                                      lambda x: self.forward(x, training=False))
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        batch = (input_shape[0] if isinstance(input_shape, list) else input_shape)[0]
        if isinstance(batch, tuple):
            batch = batch[0]
        return (batch,) + tuple(self._output_shape)

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        config = super().get_config()
        config["function"] = _serialize_function(self.function)
        if self._output_shape is not None:
            config["output_shape"] = _serialize_function(self._output_shape) \
                if callable(self._output_shape) else list(self._output_shape)
        if self.mask is not None:
            config["mask"] = _serialize_function(self.mask) if callable(self.mask) \
                else np.asarray(self.mask).tolist()
        config["arguments"] = dict(self.arguments)
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects=None, safe_mode=None):
        """Rebuild from a config: a `lambda`'s bytecode only with `safe_mode=False` (or
        inside `load_model(..., safe_mode=False)`), a named function from `custom_objects`."""
        from ..saving.registry import deserialization_settings

        ambient_safe, ambient_objects = deserialization_settings()
        safe = ambient_safe if safe_mode is None else bool(safe_mode)
        objects = {**(ambient_objects or {}), **(custom_objects or {})}
        config = dict(config)
        config["function"] = _deserialize_function(config["function"], safe, objects,
                                                   "function")
        shape = config.get("output_shape")
        if isinstance(shape, dict):
            config["output_shape"] = _deserialize_function(shape, safe, objects, "output_shape")
        elif isinstance(shape, list):
            config["output_shape"] = tuple(shape)
        mask = config.get("mask")
        if isinstance(mask, dict) and "class_name" in mask:
            config["mask"] = _deserialize_function(mask, safe, objects, "mask")
        return super().from_config(config)  # Layer's: the rest of the config as arguments


# ------------------------------------------------------------------------------ functions
def _serialize_function(fn) -> dict:
    """Keras' form of a function in a config: a lambda's marshalled code, else its name."""
    if isinstance(fn, types.LambdaType) and fn.__name__ == "<lambda>":
        code = base64.encodebytes(marshal.dumps(fn.__code__)).decode("ascii")
        closure = tuple(c.cell_contents for c in fn.__closure__) if fn.__closure__ else None
        return {"class_name": "__lambda__",
                "config": {"code": code, "defaults": fn.__defaults__, "closure": closure}}
    name = getattr(fn, "__name__", None)
    if name is None:
        raise ValueError(f"Invalid input type for serialization. Received: {fn!r} of type "
                         f"{type(fn).__name__}.")
    return {"module": getattr(fn, "__module__", None), "class_name": "function",
            "config": name, "registered_name": "function"}


_UNSAFE = (
    "Requested the deserialization of a `Lambda` layer whose `{what}` is a Python lambda. "
    "This carries a potential risk of arbitrary code execution and thus it is disallowed "
    "by default. If you trust the source of the file, you can override this error by "
    "passing `safe_mode=False` to the loading function.")


def _deserialize_function(spec, safe: bool, custom_objects: dict, what: str):
    if not isinstance(spec, dict) or "class_name" not in spec:
        raise ValueError(f"Lambda: `{what}` must be a serialized function. Received: "
                         f"{type(spec).__name__}")
    if spec["class_name"] == "__lambda__":
        if safe:
            raise ValueError(_UNSAFE.format(what=what))
        return _load_lambda(spec.get("config") or {}, what)
    name = spec.get("config")
    if spec["class_name"] == "function" and isinstance(name, str) and name in custom_objects:
        return custom_objects[name]
    raise ValueError(
        f"Lambda: the `{what}` function {name!r} is Python code that a file cannot hold: pass "
        f"it as custom_objects={{{name!r}: <the function>}} (scratch never imports what a "
        "file names).")


def _load_lambda(config: dict, what: str):
    """Keras' `func_load`: the marshalled code object, with the defaults and closure
    values the file gives (only reached with safe_mode=False: this executes the file's
    code when the layer runs)."""
    from .. import ops

    try:
        code = marshal.loads(base64.decodebytes(str(config["code"]).encode("ascii")))
    except (KeyError, ValueError, EOFError, TypeError) as e:
        raise ValueError(f"Lambda: the `{what}` code cannot be read ({e}); it must come from "
                         "this Python version.") from None
    if not isinstance(code, types.CodeType):
        raise ValueError(f"Lambda: the `{what}` code is not a function's code.")
    defaults = config.get("defaults")
    closure = config.get("closure")
    cells = tuple(types.CellType(v) for v in closure) if closure is not None else None
    namespace = {"__builtins__": builtins, "np": np, "numpy": np, "ops": ops}
    return types.FunctionType(code, namespace, code.co_name,
                              tuple(defaults) if defaults is not None else None, cells)


__all__ = ["Lambda"]
