"""Merge layers (course Lecture 60–61): combine several tensors into one.

The recommender of Lecture 61 concatenates a user vector and a movie vector; the other merge
layers combine branches of a functional model element by element. Every merge layer takes a
list of inputs and returns one output; its backward takes one cotangent and returns the list
of input cotangents (the multi-input layer protocol of `scratch.layers.base`).

Math (inputs x₁ … x_k, cotangent g = dL/dy):

    Concatenate   y = [x₁ | x₂ | …] along `axis`       dxᵢ = the slice of g that xᵢ filled
    Add           y = x₁ + x₂ + …                        dxᵢ = g
    Subtract      y = x₁ − x₂                            dx₁ = g,  dx₂ = −g
    Multiply      y = x₁ ⊙ x₂ ⊙ …                        dxᵢ = g ⊙ Π_{j≠i} xⱼ
    Average       y = (x₁ + … + x_k) / k                 dxᵢ = g / k
    Maximum       y = max(max(x₁, x₂), …)                g goes to the winner; ties go to the
    Minimum       y = min(min(x₁, x₂), …)                earlier input (TF's x ≥ y selector)
    Dot           y[n] = Σ_k x₁[n, …k…] x₂[n, …k…]       dx₁ = g·x₂ᵀ, dx₂ = x₁ᵀ·g (per sample)

Element-wise layers broadcast as Keras does: per-sample shapes broadcast NumPy-style, and an
input of lower rank gets axes inserted after the batch axis first; the backward sums the
cotangent back over the broadcast axes.

Masks (Keras 3.15 `Merge`): the output mask is the OR of the input masks when every input has
one (None otherwise); Concatenate ORs the masks after concatenating them (an input without a
mask counts as all-valid); Dot drops masks. Multiply, Maximum and Minimum also use the masks
in the values, exactly as Keras' `_merge_function`:

    Multiply: a masked entry counts as 1; if every input has a mask, the output is 0 where
              no input is valid.
    Maximum/Minimum, input by input: a masked entry of the new input takes the running
              output's value, and a masked entry of the running output takes the new
              input's value, before the max/min.

The module is over the project's 500 lines because it holds Keras' eight merge layers, which
share their shape, broadcast and mask rules through one base class.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..typing import Array
from .base import Layer

__all__ = ["Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
           "Dot", "concatenate", "add", "subtract", "multiply", "average", "maximum",
           "minimum", "dot", "batch_dot"]


# ------------------------------------------------------------------------------ helpers
def _elementwise_shape(shape1, shape2):
    """Keras' `_compute_elemwise_op_output_shape`: NumPy broadcasting of per-sample shapes."""
    if shape1 is None or shape2 is None:
        return None
    if len(shape1) < len(shape2):
        return _elementwise_shape(shape2, shape1)
    if not shape2:
        return tuple(shape1)
    out = list(shape1[: len(shape1) - len(shape2)])
    for i, j in zip(shape1[len(shape1) - len(shape2):], shape2, strict=True):
        if i is None or j is None:
            out.append(None)
        elif i == 1:
            out.append(j)
        elif j == 1 or i == j:
            out.append(i)
        else:
            raise ValueError(
                f"Inputs have incompatible shapes. Received shapes {tuple(shape1)} and "
                f"{tuple(shape2)}"
            )
    return tuple(out)


def _unbroadcast(g: Array, shape: tuple) -> Array:
    """Sum g over the axes that broadcasting added or stretched, back to `shape`."""
    if g.shape == tuple(shape):
        return g
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, (a, b) in enumerate(zip(shape, g.shape, strict=True))
                 if a == 1 and b != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _mask_like(mask, x: Array) -> Array | None:
    """A Keras mask (N, ...) broadcast to x's shape, as `broadcast_to(expand_dims(m, -1))`."""
    if mask is None:
        return None
    return np.broadcast_to(np.expand_dims(np.asarray(mask, dtype=bool), -1), x.shape)


class MergeCache(NamedTuple):
    shapes: list  # original input shapes
    views: list  # inputs as used by the op (expanded to a common rank)
    extra: Any  # op-specific


class _Merge(Layer):
    """Base of the element-wise merge layers (Keras' `Merge`)."""

    supports_masking = True
    _uses_masks = False  # Multiply / Maximum / Minimum use masks in their values
    _min_inputs = 1
    _max_inputs: int | None = None

    # ----------------------------------------------------------------- shapes
    def _check_shape_list(self, input_shape) -> list:
        if not isinstance(input_shape, (list, tuple)) or not input_shape or not all(
            isinstance(s, (list, tuple)) for s in input_shape
        ):
            raise ValueError(
                f"A merge layer should be called on a list of inputs. "
                f"Received: input_shape={input_shape} (not a list of shapes)"
            )
        n = len(input_shape)
        if n < self._min_inputs or (self._max_inputs is not None and n > self._max_inputs):
            expected = (f"exactly {self._min_inputs}" if self._max_inputs == self._min_inputs
                        else f"at least {self._min_inputs}")
            raise ValueError(
                f"A `{type(self).__name__}` layer should be called on {expected} inputs. "
                f"Received: input_shape={list(input_shape)}"
            )
        batch = {s[0] for s in input_shape if s} - {None}
        if len(batch) > 1:
            raise ValueError(
                "Cannot merge tensors with different batch sizes. "
                f"Received tensors with shapes {list(input_shape)}"
            )
        return [tuple(s) for s in input_shape]

    def build(self, input_shape) -> None:
        shapes = self._check_shape_list(input_shape)
        out = shapes[0][1:]
        for s in shapes[1:]:
            out = _elementwise_shape(out, s[1:])
        self.built = True

    def compute_output_shape(self, input_shape):
        shapes = self._check_shape_list(input_shape)
        out = shapes[0][1:]
        for s in shapes[1:]:
            out = _elementwise_shape(out, s[1:])
        batch = {s[0] for s in shapes if s} - {None}
        return ((batch.pop() if len(batch) == 1 else None),) + tuple(out)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        if not isinstance(mask, (list, tuple)):
            raise ValueError(f"`mask` should be a list. Received: mask={mask}")
        if len(mask) != len(inputs):
            raise ValueError(
                "The lists `inputs` and `mask` should have the same length. "
                f"Received: {len(inputs)} inputs and {len(mask)} masks"
            )
        if any(m is None for m in mask):
            return None
        out = np.asarray(mask[0], dtype=bool)
        for m in mask[1:]:
            out = np.logical_or(out, np.asarray(m, dtype=bool))
        return out

    # ----------------------------------------------------------------- calling
    def _check_inputs(self, inputs) -> list[Array]:
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(
                f"A merge layer should be called on a list of inputs. "
                f"Received: inputs of type {type(inputs).__name__} (not a list of tensors)"
            )
        xs = [self._check_float_input(x) for x in inputs]
        self._check_shape_list([x.shape for x in xs])
        if len({x.shape[0] for x in xs}) > 1:
            raise ValueError(
                "Cannot merge tensors with different batch sizes. "
                f"Received tensors with shapes {[x.shape for x in xs]}"
            )
        self._check_runtime_shapes(xs)
        return xs

    def _check_runtime_shapes(self, xs: list[Array]) -> None:
        out = xs[0].shape[1:]
        for x in xs[1:]:
            out = _elementwise_shape(out, x.shape[1:])

    @staticmethod
    def _common_rank(xs: list[Array]) -> tuple[list[Array], bool]:
        """Keras' `_reshape_required` path: axes inserted after the batch axis."""
        ndims = {x.ndim for x in xs}
        if len(ndims) == 1:
            return list(xs), False
        top = max(ndims)
        return [x.reshape(x.shape[:1] + (1,) * (top - x.ndim) + x.shape[1:]) for x in xs], True

    def forward(self, inputs, training: bool = False, mask=None):
        xs = self._check_inputs(inputs)
        views, reshaped = self._common_rank(xs)
        masks = [None] * len(xs)
        if mask is not None and self._uses_masks and not reshaped:
            masks = list(mask) if isinstance(mask, (list, tuple)) else [mask] * len(xs)
            for x, m in zip(xs, masks, strict=True):
                if m is not None and np.shape(m) != x.shape[:-1]:
                    raise ValueError(
                        f"{type(self).__name__} {self.name!r} expected a mask of shape "
                        f"{x.shape[:-1]}. Received: mask.shape={np.shape(m)}"
                    )
        y, extra = self._op(views, masks)
        self._cache = MergeCache([x.shape for x in xs], views, extra)
        return y

    def backward(self, dy: Array, *, need_dx: bool = True, need_grads: bool = True) -> list[Array]:
        cache = self._require_cache()
        y_shape = np.broadcast_shapes(*[v.shape for v in cache.views])
        dy = self._check_dy(dy, y_shape)
        dviews = self._op_backward(dy, cache.views, cache.extra)
        self.grads = {}
        return [_unbroadcast(g, v.shape).reshape(s)
                for g, v, s in zip(dviews, cache.views, cache.shapes, strict=True)]

    def _op(self, xs: list[Array], masks: list) -> tuple[Array, Any]:
        raise NotImplementedError

    def _op_backward(self, dy: Array, xs: list[Array], extra) -> list[Array]:
        raise NotImplementedError


# ------------------------------------------------------------------------------ Add, Subtract
class Add(_Merge):
    """Element-wise sum of a list of inputs (keras.layers.Add).

    Math:
        y = x₁ + x₂ + … + x_k   (added left to right);   dxᵢ = dy

    Shapes:
        a list of k ≥ 1 arrays (N, ...) with broadcastable per-sample shapes → (N, ...).
    """

    def _op(self, xs, masks):
        y = xs[0]
        for x in xs[1:]:
            y = y + x
        return y, None

    def _op_backward(self, dy, xs, extra):
        return [dy] * len(xs)


class Subtract(_Merge):
    """Difference of exactly two inputs (keras.layers.Subtract).

    Math:
        y = x₁ − x₂;   dx₁ = dy,  dx₂ = −dy

    Shapes:
        [(N, ...), (N, ...)] → (N, ...).
    """

    _min_inputs = _max_inputs = 2

    def _op(self, xs, masks):
        return xs[0] - xs[1], None

    def _op_backward(self, dy, xs, extra):
        return [dy, -dy]


class Average(_Merge):
    """Element-wise mean of a list of inputs (keras.layers.Average).

    Math:
        y = (x₁ + … + x_k) / k   (the sum, then one division, as Keras);   dxᵢ = dy / k

    Shapes:
        a list of k ≥ 1 arrays (N, ...) → (N, ...).
    """

    def _op(self, xs, masks):
        y = xs[0]
        for x in xs[1:]:
            y = y + x
        return y / y.dtype.type(len(xs)), None

    def _op_backward(self, dy, xs, extra):
        g = dy / dy.dtype.type(len(xs))
        return [g] * len(xs)


# ------------------------------------------------------------------------------ Multiply
class Multiply(_Merge):
    """Element-wise product of a list of inputs (keras.layers.Multiply).

    Math:
        y = x₁ ⊙ x₂ ⊙ … ⊙ x_k;   dxᵢ = dy ⊙ Π_{j≠i} xⱼ
        with masks mᵢ: x̃ᵢ = mᵢ ? xᵢ : 1;  if every input has a mask,
        y = (m₁ ∨ … ∨ m_k) ? Π x̃ᵢ : 0;   dxᵢ = mᵢ ? dỹ ⊙ Π_{j≠i} x̃ⱼ : 0

    Shapes:
        a list of k ≥ 1 arrays (N, ...) → (N, ...); masks (N, ...) without the last axis.
    """

    _uses_masks = True

    def _op(self, xs, masks):
        full = [None if m is None else _mask_like(m, x) for x, m in zip(xs, masks, strict=True)]
        has_out_mask = all(m is not None for m in full)
        vals = [x if m is None else np.where(m, x, x.dtype.type(1))
                for x, m in zip(xs, full, strict=True)]
        y = vals[0]
        for v in vals[1:]:
            y = y * v
        out_mask = None
        if has_out_mask:
            out_mask = full[0]
            for m in full[1:]:
                out_mask = np.logical_or(out_mask, m)
            y = np.where(out_mask, y, y.dtype.type(0))
        return y, (vals, full, out_mask)

    def _op_backward(self, dy, xs, extra):
        vals, full, out_mask = extra
        if out_mask is not None:
            dy = np.where(out_mask, dy, dy.dtype.type(0))
        grads = []
        for i, m in enumerate(full):
            g = dy
            for j, v in enumerate(vals):
                if j != i:
                    g = g * v
            if m is not None:
                g = np.where(m, g, g.dtype.type(0))
            grads.append(g)
        return grads


# ------------------------------------------------------------------------------ Max, Min
class _MaxMin(_Merge):
    _uses_masks = True
    _select = staticmethod(np.greater_equal)

    def _op(self, xs, masks):
        full = [None if m is None else _mask_like(m, x) for x, m in zip(xs, masks, strict=True)]
        out, out_mask = xs[0], full[0]
        steps = []
        for x, m in zip(xs[1:], full[1:], strict=True):
            if m is not None:
                x = np.where(m, x, out)
            used_out_mask = out_mask
            if out_mask is not None:
                out = np.where(out_mask, out, x)
            out_mask = np.logical_or(out_mask, m) if (
                m is not None and out_mask is not None) else None
            keep = self._select(out, x)  # TF's gradient selector: ties go to `out`
            out = np.where(keep, out, x)
            steps.append((m, used_out_mask, keep))
        return out, steps

    def _op_backward(self, dy, xs, steps):
        zero = dy.dtype.type(0)
        grads: list = [None] * len(xs)
        g_out = dy
        for k in range(len(xs) - 1, 0, -1):
            m, used_out_mask, keep = steps[k - 1]
            g_prev = np.where(keep, g_out, zero)
            g_x = np.where(keep, zero, g_out)
            if used_out_mask is not None:  # out = where(out_mask, out_prev, x)
                g_x = g_x + np.where(used_out_mask, zero, g_prev)
                g_prev = np.where(used_out_mask, g_prev, zero)
            if m is not None:  # x = where(m, x_k, out_prev)
                g_prev = g_prev + np.where(m, zero, g_x)
                g_x = np.where(m, g_x, zero)
            grads[k] = g_x
            g_out = g_prev
        grads[0] = g_out
        return grads


class Maximum(_MaxMin):
    """Element-wise maximum of a list of inputs (keras.layers.Maximum).

    Math:
        y = max(…max(max(x₁, x₂), x₃)…, x_k);   dy goes to the larger operand of each
        pairwise max, to the running maximum on ties (TF: x ≥ y selects x).
        Masks: see the module docstring.

    Shapes:
        a list of k ≥ 1 arrays (N, ...) → (N, ...).
    """

    _select = staticmethod(np.greater_equal)


class Minimum(_MaxMin):
    """Element-wise minimum of a list of inputs (keras.layers.Minimum).

    Math:
        y = min(…min(min(x₁, x₂), x₃)…, x_k);   dy goes to the smaller operand of each
        pairwise min, to the running minimum on ties (TF: x ≤ y selects x).

    Shapes:
        a list of k ≥ 1 arrays (N, ...) → (N, ...).
    """

    _select = staticmethod(np.less_equal)


# ------------------------------------------------------------------------------ Concatenate
class Concatenate(_Merge):
    """Concatenation of a list of inputs along `axis` (keras.layers.Concatenate).

    Math:
        y = [x₁ | x₂ | … | x_k] along `axis`;   dxᵢ = dy[..., offsetᵢ : offsetᵢ + sizeᵢ, ...]

    Args:
        axis: the concatenation axis (default −1, the features; 0, the batch axis, is not
            allowed).

    Shapes:
        arrays of equal rank whose shapes agree except along `axis` → the sizes along
        `axis` add up. Masks: Keras' rule (module docstring): (N, ...) without the last axis.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"`axis` must be an integer. Received: axis={axis!r}")
        self.axis = int(axis)

    def _normalized_axis(self, rank: int) -> int:
        axis = self.axis % rank if -rank <= self.axis < rank else None
        if axis is None or axis == 0:
            raise ValueError(
                f"Concatenate {self.name!r} cannot concatenate along axis {self.axis} of "
                f"inputs of rank {rank} (the batch axis 0 is not allowed). "
                f"Received: axis={self.axis}"
            )
        return axis

    def _check_concat_shapes(self, shapes: list) -> None:
        ranks = {len(s) for s in shapes}
        message = ("A `Concatenate` layer requires inputs with matching shapes except for "
                   f"the concatenation axis. Received: input_shape={list(shapes)}")
        if len(ranks) != 1:
            raise ValueError(message)
        axis = self._normalized_axis(ranks.pop())
        for i in range(len(shapes[0])):
            if i == axis:
                continue
            dims = {s[i] for s in shapes} - {None}
            if len(dims) > 1:
                raise ValueError(message)

    def build(self, input_shape) -> None:
        shapes = self._check_shape_list(input_shape)
        self._check_concat_shapes(shapes)
        self.built = True

    def compute_output_shape(self, input_shape):
        shapes = self._check_shape_list(input_shape)
        self._check_concat_shapes(shapes)
        axis = self._normalized_axis(len(shapes[0]))
        out = list(shapes[0])
        for i in range(len(out)):
            if i == axis:
                sizes = [s[i] for s in shapes]
                out[i] = None if None in sizes else int(sum(sizes))
            else:
                known = [s[i] for s in shapes if s[i] is not None]
                out[i] = known[0] if known else None
        return tuple(out)

    def _check_runtime_shapes(self, xs) -> None:
        self._check_concat_shapes([x.shape for x in xs])

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        if not isinstance(mask, (list, tuple)):
            raise ValueError(f"`mask` should be a list. Received mask={mask}")
        if len(mask) != len(inputs):
            raise ValueError(
                "The lists `inputs` and `mask` should have the same length. "
                f"Received: {len(inputs)} inputs and {len(mask)} masks"
            )
        if all(m is None for m in mask):
            return None
        full = []
        for x, m in zip(inputs, mask, strict=True):
            x = np.asarray(x)
            if m is None:
                full.append(np.ones(x.shape, dtype=bool))
            elif np.ndim(m) < x.ndim:
                full.append(np.broadcast_to(np.expand_dims(np.asarray(m, bool), -1), x.shape))
            else:
                full.append(np.asarray(m, dtype=bool))
        return np.any(np.concatenate(full, axis=self.axis), axis=-1)

    def forward(self, inputs, training: bool = False, mask=None):
        xs = self._check_inputs(inputs)
        axis = self._normalized_axis(xs[0].ndim)
        y = np.concatenate(xs, axis=axis)
        self._cache = MergeCache([x.shape for x in xs], xs, axis)
        return y

    def backward(self, dy: Array, *, need_dx: bool = True, need_grads: bool = True) -> list[Array]:
        cache = self._require_cache()
        axis = cache.extra
        shape = list(cache.shapes[0])
        shape[axis] = sum(s[axis] for s in cache.shapes)
        dy = self._check_dy(dy, shape)
        bounds = np.cumsum([s[axis] for s in cache.shapes])[:-1]
        self.grads = {}
        return list(np.split(dy, bounds, axis=axis))

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}


# ------------------------------------------------------------------------------ Dot
def _dot_axes(axes, ndim1: int, ndim2: int) -> tuple[int, int]:
    if isinstance(axes, (int, np.integer)):
        a = int(axes)
        return (a % ndim1, a % ndim2) if a < 0 else (a, a)
    return tuple(int(a) % n if a < 0 else int(a) for a, n in zip(axes, (ndim1, ndim2), strict=True))


def batch_dot(x1: Array, x2: Array, axes: tuple[int, int]) -> Array:
    """Per-sample dot product contracting x1's axis axes[0] with x2's axis axes[1].

    Math:
        y[n, I, J] = Σ_k x1[n, I, k] · x2[n, k, J]   (I, J: the remaining axes in order)
        rank-1 results (two 2-D inputs) become (N, 1), as in Keras.

    Shapes:
        x1 (N, ...), x2 (N, ...) with x1.shape[a0] == x2.shape[a1] → (N, *I, *J).
    """
    a0, a1 = axes
    X = np.moveaxis(x1, a0, -1)
    Y = np.moveaxis(x2, a1, 1)
    N, K = X.shape[0], X.shape[-1]
    I, J = X.shape[1:-1], Y.shape[2:]
    y = np.matmul(X.reshape(N, -1, K), Y.reshape(N, K, -1)).reshape((N,) + I + J)
    return y.reshape(N, 1) if y.ndim == 1 else y


def batch_dot_backward(dy: Array, x1: Array, x2: Array, axes: tuple[int, int]):
    """Cotangents of `batch_dot`: dX = dY·Yᵀ and dY = Xᵀ·dY per sample.

    Shapes:
        dy: batch_dot's output shape → (dx1 like x1, dx2 like x2).
    """
    a0, a1 = axes
    X = np.moveaxis(x1, a0, -1)
    Y = np.moveaxis(x2, a1, 1)
    N, K = X.shape[0], X.shape[-1]
    X2 = X.reshape(N, -1, K)
    Y2 = Y.reshape(N, K, -1)
    G = dy.reshape(N, X2.shape[1], Y2.shape[2])
    dX = np.matmul(G, np.swapaxes(Y2, 1, 2)).reshape(X.shape)
    dY = np.matmul(np.swapaxes(X2, 1, 2), G).reshape(Y.shape)
    return np.moveaxis(dX, -1, a0), np.moveaxis(dY, 1, a1)


def l2_normalize(x: Array, axis: int, epsilon: float = 1e-7) -> tuple[Array, Array, Array]:
    """Keras' `ops.normalize(order=2)`: x̂ = x · min(rsqrt(Σx²), 1/ε).

    Returns (x̂, inv, active) where inv is the (clipped) inverse norm and `active` marks the
    samples whose norm was not clipped (the only ones where inv depends on x).
    """
    s = np.sum(np.square(x), axis=axis, keepdims=True)
    with np.errstate(divide="ignore"):
        r = 1.0 / np.sqrt(s)
    cap = x.dtype.type(1.0 / epsilon)
    active = r <= cap
    inv = np.minimum(r, cap).astype(x.dtype, copy=False)
    return x * inv, inv, active


def l2_normalize_backward(g: Array, x: Array, inv: Array, active: Array, axis: int) -> Array:
    """dx of x̂ = x · inv with inv = rsqrt(Σx²) where active (a constant elsewhere).

    Math:
        dx = g · inv − x · inv³ · Σ_axis(g ⊙ x)     (the second term only where active)
    """
    dx = g * inv
    corr = np.sum(g * x, axis=axis, keepdims=True) * inv * inv * inv
    return dx - np.where(active, corr, 0).astype(x.dtype, copy=False) * x


class Dot(_Merge):
    """Per-sample dot product of two inputs along `axes` (keras.layers.Dot).

    Math:
        y[n, I, J] = Σ_k x₁[n, I, k] · x₂[n, k, J]   (k runs along axes[0] of x₁, axes[1] of x₂)
        normalize=True: xᵢ ← xᵢ / ‖xᵢ‖ along its axis first (cosine similarity; Keras'
        min(rsqrt(Σx²), 1e7) form)
        dx₁ = dy · x₂ᵀ,  dx₂ = x₁ᵀ · dy (per sample), then through the normalisation.

    Args:
        axes: an int (the same axis in both) or a pair (axis of x₁, axis of x₂); negative
            values count from the end; never the batch axis 0.
        normalize: L2-normalise both inputs along the dot axes first.

    Shapes:
        [(N, ..., K, ...), (N, ..., K, ...)] → (N, *rest of x₁, *rest of x₂); two 2-D
        inputs (N, K) give (N, 1). No mask.
    """

    _min_inputs = _max_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2:
                raise ValueError(
                    "Invalid format for argument `axes`: it should contain two elements. "
                    f"Received: axes={axes}"
                )
            if not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool)
                       for a in axes):
                raise ValueError(
                    "Invalid format for argument `axes`: list elements should be integers. "
                    f"Received: axes={axes}"
                )
            axes = [int(a) for a in axes]
        elif isinstance(axes, bool) or not isinstance(axes, (int, np.integer)):
            raise TypeError(
                "Invalid type for argument `axes`: it should be a list or an int. "
                f"Received: axes={axes}"
            )
        else:
            axes = int(axes)
        self.axes = axes
        self.normalize = bool(normalize)

    def _axes_for(self, shape1, shape2) -> tuple[int, int]:
        a0, a1 = _dot_axes(self.axes, len(shape1), len(shape2))
        for a, s in ((a0, shape1), (a1, shape2)):
            if not 0 <= a < len(s):
                raise ValueError(
                    f"Dot {self.name!r}: axis {a} is out of range for an input of shape "
                    f"{tuple(s)}. Received: axes={self.axes}"
                )
        if a0 == 0 or a1 == 0:
            raise ValueError(
                "Cannot perform batch_dot over axis 0. If your inputs are not batched, add a "
                f"dummy batch dimension. Received: axes={self.axes}"
            )
        if len(shape1) < 2 or len(shape2) < 2:
            raise ValueError(
                "Cannot do batch_dot on inputs with rank < 2. Received inputs with shapes "
                f"{tuple(shape1)} and {tuple(shape2)}."
            )
        d1, d2 = shape1[a0], shape2[a1]
        if d1 is not None and d2 is not None and d1 != d2:
            raise ValueError(
                f"Incompatible input shapes: axis values {d1} (at axis {a0}) != {d2} "
                f"(at axis {a1}). Full input shapes: {tuple(shape1)}, {tuple(shape2)}"
            )
        return a0, a1

    def build(self, input_shape) -> None:
        shapes = self._check_shape_list(input_shape)
        self._axes_for(*shapes)
        self.built = True

    def compute_output_shape(self, input_shape):
        shapes = self._check_shape_list(input_shape)
        a0, a1 = self._axes_for(*shapes)
        s1, s2 = list(shapes[0]), list(shapes[1])
        s1.pop(a0)
        s2.pop(a1)
        s2.pop(0)
        out = s1 + s2
        if len(out) == 1:
            out.append(1)
        return tuple(out)

    def _check_runtime_shapes(self, xs) -> None:
        self._axes_for(xs[0].shape, xs[1].shape)

    def compute_mask(self, inputs, mask=None):
        return None

    def forward(self, inputs, training: bool = False, mask=None):
        x1, x2 = self._check_inputs(inputs)
        axes = self._axes_for(x1.shape, x2.shape)
        norm = None
        if self.normalize:
            n1, inv1, act1 = l2_normalize(x1, axes[0])
            n2, inv2, act2 = l2_normalize(x2, axes[1])
            norm = (inv1, act1, inv2, act2)
            y = batch_dot(n1, n2, axes)
            used = [n1, n2]
        else:
            y = batch_dot(x1, x2, axes)
            used = [x1, x2]
        self._cache = MergeCache([x1.shape, x2.shape], [x1, x2], (axes, used, norm, y.shape))
        return y

    def backward(self, dy: Array, *, need_dx: bool = True, need_grads: bool = True) -> list[Array]:
        cache = self._require_cache()
        axes, (u1, u2), norm, y_shape = cache.extra
        dy = self._check_dy(dy, y_shape)
        g1, g2 = batch_dot_backward(dy, u1, u2, axes)
        if norm is not None:
            inv1, act1, inv2, act2 = norm
            x1, x2 = cache.views
            g1 = l2_normalize_backward(g1, x1, inv1, act1, axes[0])
            g2 = l2_normalize_backward(g2, x2, inv2, act2, axes[1])
        self.grads = {}
        return [g1, g2]

    def get_config(self) -> dict:
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


# ------------------------------------------------------------------------------ functions
def concatenate(inputs, axis=-1, **kwargs):
    """Functional interface to `Concatenate`: `concatenate([a, b], axis=-1)`."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def add(inputs, **kwargs):
    """Functional interface to `Add`."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """Functional interface to `Subtract`."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """Functional interface to `Multiply`."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """Functional interface to `Average`."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """Functional interface to `Maximum`."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """Functional interface to `Minimum`."""
    return Minimum(**kwargs)(inputs)


def dot(inputs, axes=-1, **kwargs):
    """Functional interface to `Dot`."""
    return Dot(axes=axes, **kwargs)(inputs)

