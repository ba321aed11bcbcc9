"""Layers that move pixels without computing with them: ZeroPadding1D/2D, Cropping1D/2D and
UpSampling1D/2D (Keras' "reshaping" layers; ResNet50 and MobileNetV2 pad before their strided
convolutions, Lecture 63, "Some Pre-trained Models").

Padding and cropping are each other's backward. With (before, after) cells on each spatial
axis:

    ZeroPadding   y = pad(x)     zeros around x            dx = crop(dy)  (the zeros' share
                                                                           of dy is dropped)
    Cropping      y = crop(x)    x without its border       dx = pad(dy)   (the cut cells got
                                                                           no gradient)

UpSampling ("nearest", Keras' only exact interpolation here) repeats every pixel s times along
each spatial axis, so each input pixel collects the gradient of its s copies (sh·sw in 2-D):

    y[n, h, w, c] = x[n, ⌊h/sh⌋, ⌊w/sw⌋, c]
    dx[n, a, b, c] = Σ_{i < sh} Σ_{j < sw} dy[n, a·sh + i, b·sw + j, c]

Shapes: 1-D layers take (N, steps, C); 2-D layers take (N, H, W, C) with
data_format="channels_last" (the default) or (N, C, H, W) with "channels_first".
There is nothing to speed up (NumPy's pad, slicing, repeat and one sum), so these layers have
no separate fast path: the same code runs with `backend.fast_paths` on or off.
"""

from __future__ import annotations

import numpy as np

from ..typing import Array, Shape
from .base import Layer
from .conv import standardize_tuple

__all__ = ["ZeroPadding1D", "ZeroPadding2D", "Cropping1D", "Cropping2D", "UpSampling1D",
           "UpSampling2D", "pad_axes", "crop_axes", "repeat_axes", "repeat_axes_backward"]

Borders = tuple[tuple[int, int], ...]  # (before, after) per spatial axis


# ------------------------------------------------------------------------------ the math
def pad_axes(x: Array, borders: Borders, axes: tuple[int, ...]) -> Array:
    """Zeros around x: `borders[k]` = (before, after) cells on axis `axes[k]`.

    Shapes: an axis of length n becomes n + before + after; the other axes stay."""
    widths = [(0, 0)] * x.ndim
    for axis, border in zip(axes, borders, strict=True):
        widths[axis] = border
    return np.pad(x, widths)


def crop_axes(x: Array, borders: Borders, axes: tuple[int, ...]) -> Array:
    """x without (before, after) cells on each axis of `axes` (a C-contiguous copy): the
    inverse of `pad_axes`, and its backward.

    Shapes: an axis of length n becomes n − before − after; the other axes stay."""
    index = [slice(None)] * x.ndim
    for axis, (before, after) in zip(axes, borders, strict=True):
        index[axis] = slice(before, x.shape[axis] - after)
    return np.ascontiguousarray(x[tuple(index)])


def repeat_axes(x: Array, size: tuple[int, ...], axes: tuple[int, ...]) -> Array:
    """Nearest-neighbour upsampling: every cell repeated size[k] times along axes[k].

    Math: y[…, h, …] = x[…, ⌊h/s⌋, …] on each axis.   Shapes: n → n·s on each axis."""
    for axis, s in zip(axes, size, strict=True):
        x = np.repeat(x, s, axis=axis)
    return x


def repeat_axes_backward(dy: Array, size: tuple[int, ...], axes: tuple[int, ...]) -> Array:
    """The backward of `repeat_axes`: each cell gets the sum of its copies' gradients.

    Math: dx[…, a, …] = Σ_{i < s} dy[…, a·s + i, …] on each axis (one axis after the other,
    the reverse of the forward's order).   Shapes: n·s → n on each axis."""
    for axis, s in reversed(list(zip(axes, size, strict=True))):
        shape = dy.shape
        dy = dy.reshape(shape[:axis] + (shape[axis] // s, s) + shape[axis + 1:]).sum(
            axis=axis + 1)
    return dy


# ------------------------------------------------------------------------------ arguments
def standardize_data_format(data_format) -> str:
    """Keras' data_format check; None is Keras' default image_data_format(), channels_last."""
    if data_format is None:
        return "channels_last"
    value = data_format.lower() if isinstance(data_format, str) else data_format
    if value not in ("channels_first", "channels_last"):
        raise ValueError('The `data_format` argument must be one of "channels_first", '
                         f'"channels_last". Received: data_format={data_format!r}')
    return value


def _borders_2d(value, name: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """An int, (symmetric_h, symmetric_w) or ((top, bottom), (left, right)), as Keras."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"`{name}` cannot be negative. Received: {name}={value}.")
        return ((int(value),) * 2,) * 2
    if not hasattr(value, "__len__") or isinstance(value, str):
        raise ValueError(
            f"`{name}` should be either an int, a tuple of 2 ints (symmetric_height_{name}, "
            f"symmetric_width_{name}), or a tuple of 2 tuples of 2 ints ((top_{name}, "
            f"bottom_{name}), (left_{name}, right_{name})). Received: {name}={value}.")
    if len(value) != 2:
        raise ValueError(f"`{name}` should have two elements. Received: {name}={value}.")
    return (standardize_tuple(value[0], 2, f"1st entry of {name}", allow_zero=True),
            standardize_tuple(value[1], 2, f"2nd entry of {name}", allow_zero=True))


# ------------------------------------------------------------------------------ base
class _Spatial(Layer):
    """What the six layers share: the input rank, the spatial axes of the data format, and a
    forward and backward that are two functions of (array, per-axis argument, axes):
    `move` and `move_back` (pad_axes and crop_axes, or the reverse, or repeat_axes and its
    backward). `argument` names the per-axis argument: "padding", "cropping" or "size"."""

    rank = 2
    argument = ""
    has_data_format = True  # a `data_format` argument (Keras' Cropping1D, UpSampling1D: none)

    def __init__(self, data_format=None, **kwargs):
        data_format = standardize_data_format(data_format)
        super().__init__(**kwargs)
        self.data_format = data_format

    def _axes(self) -> tuple[int, ...]:
        first = 2 if self.data_format == "channels_first" else 1
        return tuple(range(first, first + self.rank))

    def _per_axis(self) -> tuple:
        """The argument per spatial axis: ((before, after), …) or (s, …)."""
        value = getattr(self, self.argument)
        return value if self.rank == 2 else (value,)

    def _validate_shape(self, shape) -> None:
        if len(shape) != self.rank + 2:
            raise ValueError(
                f"Input 0 of layer {self.name!r} ({type(self).__name__}) is incompatible with "
                f"the layer: expected ndim={self.rank + 2}, found ndim={len(shape)}. Full "
                f"shape received: {tuple(shape)}")

    def _axis_length(self, n: int, arg) -> int:
        """The output length of a spatial axis of input length n with argument `arg`."""
        raise NotImplementedError

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self._validate_shape(input_shape)
        out = list(input_shape)
        for axis, arg in zip(self._axes(), self._per_axis()):
            out[axis] = None if input_shape[axis] is None else self._axis_length(
                input_shape[axis], arg)
        return tuple(out)

    def build(self, input_shape: Shape) -> None:
        self.compute_output_shape(input_shape)
        self.built = True

    def forward(self, x: Array, training: bool = False) -> Array:
        self._check_float_input(x)
        self.compute_output_shape(x.shape)
        y = type(self).move(x, self._per_axis(), self._axes())
        self._cache = y.shape
        return y

    def backward(self, dy: Array, *, need_dx: bool = True, need_grads: bool = True) -> Array:
        dy = self._check_dy(dy, self._require_cache())
        self.grads = {}
        return type(self).move_back(dy, self._per_axis(), self._axes())

    def get_config(self) -> dict:
        config = {**super().get_config(), self.argument: getattr(self, self.argument)}
        if self.has_data_format:
            config["data_format"] = self.data_format
        return config


# ------------------------------------------------------------------------------ padding
class _ZeroPadding(_Spatial):
    argument = "padding"
    move, move_back = staticmethod(pad_axes), staticmethod(crop_axes)  # y = pad(x), dx = crop(dy)

    def _axis_length(self, n, border):
        return n + sum(border)


class ZeroPadding1D(_ZeroPadding):
    """Zeros before and after the sequence: (N, T, C) → (N, before + T + after, C).

    Math: y[n, t, c] = x[n, t − before, c] inside, 0 in the border;
          dx = dy without its border.

    Args:
        padding: an int (the same on both ends) or (before, after).
        data_format: "channels_last" (N, T, C) or "channels_first" (N, C, T).
    """

    rank = 1

    def __init__(self, padding=1, data_format=None, **kwargs):
        padding = standardize_tuple(padding, 2, "padding", allow_zero=True)
        super().__init__(data_format, **kwargs)
        self.padding = padding


class ZeroPadding2D(_ZeroPadding):
    """Zeros around each image: (N, H, W, C) → (N, top + H + bottom, left + W + right, C).

    Math: y[n, h, w, c] = x[n, h − top, w − left, c] inside, 0 in the border;
          dx = dy without its border
          (docs/KERAS_NUMERICS.md §Padding, cropping and upsampling).

    Args:
        padding: an int (all four sides), (symmetric_height, symmetric_width), or
            ((top, bottom), (left, right)).
        data_format: "channels_last" (N, H, W, C) or "channels_first" (N, C, H, W).
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        padding = _borders_2d(padding, "padding")
        super().__init__(data_format, **kwargs)
        self.padding = padding


# ------------------------------------------------------------------------------ cropping
class _Cropping(_Spatial):
    argument = "cropping"
    move, move_back = staticmethod(crop_axes), staticmethod(pad_axes)  # y = crop(x), dx = pad(dy)

    def _axis_length(self, n, border):
        return n - sum(border)

    def _validate_shape(self, shape) -> None:
        super()._validate_shape(shape)
        for axis, border in zip(self._axes(), self._per_axis()):
            if shape[axis] is not None and sum(border) >= shape[axis]:
                raise ValueError(
                    f"Values in `cropping` argument should be smaller than the corresponding "
                    f"spatial dimension of the input. Received: input_shape={tuple(shape)}, "
                    f"cropping={self.cropping}")


class Cropping1D(_Cropping):
    """Cut cells off both ends of the sequence: (N, T, C) → (N, T − before − after, C).

    Math: y[n, t, c] = x[n, t + before, c];  dx = dy padded with zeros back to (N, T, C).

    Args:
        cropping: an int (the same on both ends) or (before, after); their sum must be
            smaller than T.
    """

    rank = 1
    has_data_format = False  # as Keras' Cropping1D

    def __init__(self, cropping=(1, 1), **kwargs):
        cropping = standardize_tuple(cropping, 2, "cropping", allow_zero=True)
        super().__init__(None, **kwargs)
        self.cropping = cropping


class Cropping2D(_Cropping):
    """Cut a border off each image: (N, H, W, C) → (N, H − top − bottom, W − left − right, C).

    Math: y[n, h, w, c] = x[n, h + top, w + left, c];  dx = dy padded with zeros back to
    the input's shape.

    Args:
        cropping: an int (all four sides), (symmetric_height, symmetric_width), or
            ((top, bottom), (left, right)); what is cut must leave at least one row and
            column.
        data_format: "channels_last" (N, H, W, C) or "channels_first" (N, C, H, W).
    """

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        cropping = _borders_2d(cropping, "cropping")
        super().__init__(data_format, **kwargs)
        self.cropping = cropping


# ------------------------------------------------------------------------------ upsampling
class _UpSampling(_Spatial):
    argument = "size"
    move, move_back = staticmethod(repeat_axes), staticmethod(repeat_axes_backward)

    def _axis_length(self, n, s):
        return n * s


class UpSampling1D(_UpSampling):
    """Repeat every step `size` times: (N, T, C) → (N, T·size, C).

    Math: y[n, t, c] = x[n, ⌊t/size⌋, c];  dx[n, a, c] = Σ_{i < size} dy[n, a·size + i, c].
    """

    rank = 1
    has_data_format = False  # as Keras' UpSampling1D

    def __init__(self, size=2, **kwargs):
        size = standardize_tuple(size, 1, "size")[0]
        super().__init__(None, **kwargs)
        self.size = size


class UpSampling2D(_UpSampling):
    """Nearest-neighbour upsampling of images: (N, H, W, C) → (N, H·sh, W·sw, C).

    Math: y[n, h, w, c] = x[n, ⌊h/sh⌋, ⌊w/sw⌋, c];
          dx[n, a, b, c] = Σ_{i < sh} Σ_{j < sw} dy[n, a·sh + i, b·sw + j, c].

    Args:
        size: (sh, sw) or an int.
        data_format: "channels_last" (N, H, W, C) or "channels_first" (N, C, H, W).
        interpolation: "nearest" only. Keras' other modes go through tf.image.resize, which
            computes in float32 even for float64 layers, so scratch would not match them
            exactly: they raise a ValueError.
    """

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        if not isinstance(interpolation, str) or interpolation.lower() != "nearest":
            raise ValueError(
                "scratch's UpSampling2D implements interpolation='nearest' only (Keras' other "
                "modes resize through tf.image.resize in float32 arithmetic, which scratch "
                f"does not reproduce). Received: interpolation={interpolation!r}")
        size = standardize_tuple(size, 2, "size")
        super().__init__(data_format, **kwargs)
        self.size = size
        self.interpolation = "nearest"

    def get_config(self) -> dict:
        return {**super().get_config(), "interpolation": self.interpolation}
