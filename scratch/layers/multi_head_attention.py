"""MultiHeadAttention (keras.layers.MultiHeadAttention, Vaswani et al., 2017): H attention
steps on learned projections of the query, key and value, concatenated and projected back.

The attention step itself, Keras' masking rules and the dropout of the attention weights are
those of `scratch.layers.attention` (its module docstring has the math and the backward);
this module adds the projections (Keras' EinsumDense, here `projection_forward` and
`projection_backward` on `dense_forward`/`dense_backward`), the heads, Keras' combined mask
and its call signature `mha(query, value, key=None, attention_mask=None, ...)`.

The module is over the project's 500 lines because MultiHeadAttention is one class, as Keras'
is: its call signature, its masks (the masks Keras clears included) and its two attention
roads belong together.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from .. import backend, initializers, random
from ..typing import Array, Shape
from ..utils.naming import auto_name
from .attention import (
    MaskedSoftmaxCache,
    _bool_mask,
    _check_rate,
    _check_sequences,
    _draw_keep,
    causal_mask,
    masked_softmax_backward,
    masked_softmax_forward,
)
from .base import Layer, shape_tuple
from .core import _serialize_init, dense_backward, dense_forward
from .dropout import dropout_backward, dropout_forward

__all__ = ["MultiHeadAttention", "projection_forward", "projection_backward"]


# ------------------------------------------------------------------------------ projections
def projection_forward(x: Array, kernel: Array, bias: Array | None, n_in: int) -> Array:
    """MultiHeadAttention's projections (Keras' EinsumDense): the last `n_in` axes of x
    contract with the first `n_in` axes of the kernel.

    Math:
        query/key/value:  Y[b, t, h, e] = Σ_d X[b, t, d] · W[d, h, e] + b[h, e]    (n_in = 1)
        attention_output: Y[b, t, f] = Σ_{h, e} C[b, t, h, e] · W[h, e, f] + b[f]  (n_in = 2)
    i.e. a Dense layer on the flattened axes (`dense_forward`).

    Shapes:
        x (B, T, *in); kernel (*in, *out); bias out or None → (B, T, *out).
    """
    lead = x.shape[:x.ndim - n_in]
    x2 = x.reshape(lead + (-1,))
    w2 = kernel.reshape(x2.shape[-1], -1)
    y = dense_forward(x2, w2, None if bias is None else bias.reshape(-1))
    return y.reshape(lead + kernel.shape[n_in:])


def projection_backward(dy: Array, x: Array, kernel: Array, use_bias: bool, n_in: int,
                        need_dx: bool = True, need_grads: bool = True):
    """Gradients of `projection_forward` (`dense_backward` on the flattened axes).

    Math:
        dX = dY·Wᵀ;  dW = Σ_{b,t} Xᵀ·dY;  db = Σ_{b,t} dY   (over the flattened axes)

    Returns:
        (dx or None, {"kernel": dW, "bias": db} or {}), each in its own shape.
    """
    lead = x.shape[:x.ndim - n_in]
    x2 = x.reshape(lead + (-1,))
    w2 = kernel.reshape(x2.shape[-1], -1)
    dx2, grads = dense_backward(dy.reshape(lead + (w2.shape[1],)), x2, w2, use_bias,
                               need_dx=need_dx, need_grads=need_grads)
    out = {}
    if "kernel" in grads:
        out["kernel"] = grads["kernel"].reshape(kernel.shape)
    if "bias" in grads:
        out["bias"] = grads["bias"].reshape(kernel.shape[n_in:])
    return (None if dx2 is None else dx2.reshape(x.shape)), out


def _clone(init):
    """A fresh copy of an initializer (Keras' `cls.from_config(init.get_config())`: an
    unseeded one draws a new seed); a plain function is used as it is."""
    clone = getattr(init, "clone", None)
    return clone() if clone is not None else init


def _with_fan_axes(init, n_in: int, rank: int):
    """Keras' EinsumDense.build: a VarianceScaling kernel initializer (Glorot, He, LeCun)
    without axes gets the contracted kernel axes as input axes and the others as output
    axes, keeping its concrete seed. So a (D, H, d_k) kernel has fan_in = D and
    fan_out = H·d_k, not the convolution rule of `compute_fans`."""
    if not isinstance(init, initializers.VarianceScaling) or (
            init.input_axes is not None and init.output_axes is not None):
        return init
    config = {**init.get_config(), "seed": init.seed, "input_axes": list(range(n_in)),
              "output_axes": list(range(n_in, rank))}
    return type(init).from_config(config)


class _Projection(Layer):
    """Holds one projection's weights under Keras' sub-layer name ("query", "key", "value",
    "attention_output"), so that files and variable paths read "mha/query/kernel". The
    arithmetic is `projection_forward`/`projection_backward`, called by MultiHeadAttention
    with the caches of its own call (a layer called twice keeps two)."""

    def __init__(self, name: str, kernel_shape: tuple, bias_shape: tuple | None, n_in: int,
                 kernel_initializer, bias_initializer, dtype) -> None:
        super().__init__(name=name, dtype=dtype)
        kernel_initializer = _with_fan_axes(kernel_initializer, n_in, len(kernel_shape))
        self.add_weight("kernel", kernel_shape, initializer=kernel_initializer)
        if bias_shape is not None:
            self.add_weight("bias", bias_shape, initializer=bias_initializer)
        self.built = True


# ------------------------------------------------------------------------------ MultiHeadAttention
class MultiHeadAttentionCache(NamedTuple):
    query: Array
    value: Array
    key: Array
    n_inputs: int  # float inputs given: 2 (the value is the key) or 3
    mask_input: bool  # the attention mask came as the last input (a graph tensor)
    q: Array  # (B, N, T, d_k) projected queries, heads first (scaled first on the Softmax road)
    k: Array  # (B, N, S, d_k)
    v: Array  # (B, N, S, d_v)
    scale_first: bool  # Keras' Softmax-layer road: Q/√d_k before the product
    softmax: MaskedSoftmaxCache
    probs: Array  # P as returned (B, N, T, S)
    keep: Array | None
    probs_dropped: Array
    context: Array  # (B, T, N, d_v): the heads side by side, before attention_output
    returns_scores: bool


class MultiHeadAttention(Layer):
    """Multi-head attention (keras.layers.MultiHeadAttention): h attention steps, each on its
    own learned projections, concatenated and projected back.

    Math (per sample; query X_q (T, D), value X_v (S, D_v), key X_k (S, D_k), default X_v;
    head h = 1 … H with d_k = key_dim, d_v = value_dim):
        Q_h = X_q·W^q_h + b^q_h   K_h = X_k·W^k_h + b^k_h   V_h = X_v·W^v_h + b^v_h
        S_h = Q_h·K_hᵀ / √d_k                                       (T, S)
        P_h = softmax(S_h masked),  P_h ← dropout(P_h) in training
        C_h = P_h·V_h                                                (T, d_v)
        O = Σ_h C_h·W^o_h + b^o                                      (T, E)
    The softmax is masked where the combined mask forbids: query mask (T, 1) ∧ value mask
    (1, S) ∧ key mask (1, S) ∧ causal (j ≤ i) ∧ sliding window (|i − j| < w) ∧
    attention_mask (T, S). With dropout > 0 or return_attention_scores Keras computes
    (Q/√d_k)·Kᵀ and masks with its Softmax layer; otherwise it calls dot_product_attention,
    (Q·Kᵀ)/√d_k (module docstring: the two rules differ on fully masked rows).
    Backward: the projections as Dense layers; per head the attention step's backward
    (module docstring), dropout's and the masked softmax's in between; a key that is the
    value sends both gradients to the value.

    Args:
        num_heads: H.  key_dim: d_k.  value_dim: d_v (default key_dim).
        dropout: fraction of the attention probabilities dropped in training.
        use_bias: the projections add biases.
        output_shape: E as an int or tuple (default: the query's last dimension D).
        attention_axes: None (or 1, -2): attention over the time axis of 3-D inputs, the
            only kind scratch implements.
        sliding_window: None or w: query i attends only to |i − j| < w.
        kernel_initializer / bias_initializer: cloned for each projection, as Keras does
            (defaults glorot_uniform / zeros).
        use_gate, flash_attention: only False/None (scratch implements neither).
        seed: seeds the dropout.

    Call arguments (Keras' signature):
        query (N, T, D), value (N, S, D_v), key (N, S, D_k) or None; attention_mask (N, T, S)
        bool (or broadcastable); return_attention_scores; training; use_causal_mask.
        In a model, the Keras masks of query, value and key (Embedding(mask_zero=True)) are
        used as above; the output carries the query's mask. As in Keras 3.15, an explicit
        `query_mask=` is ignored (Keras reads the query's own mask); `value_mask=` and
        `key_mask=` are used. `forward` takes the list [query, value] or [query, value, key]
        (and `backward` returns a gradient per entry), as the merge layers do.

    Shapes:
        → (N, T, E), and with return_attention_scores also P (N, H, T, S) (before dropout).
        Weights, in Keras' order: query/kernel (D, H, d_k), query/bias (H, d_k),
        key/kernel (D_k, H, d_k), key/bias (H, d_k), value/kernel (D_v, H, d_v),
        value/bias (H, d_v), attention_output/kernel (H, d_v, E), attention_output/bias (E,)
        (no biases with use_bias=False).

    Raises:
        ValueError: bad arguments (Keras' messages), inputs that are not 3-D float sequences
            of one batch size, value and key of different lengths, masks of another shape.
    """

    supports_masking = True

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_shape=None, attention_axes=None, sliding_window=None,
                 flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", use_gate=False, seed=None, **kwargs):
        for name, v, optional in [("num_heads", num_heads, False), ("key_dim", key_dim, False),
                                  ("value_dim", value_dim, True)]:
            if (v is None and optional):
                continue
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError(
                    f"Received an invalid value for argument `{name}`, expected a positive "
                    f"integer. Received: {name}={v}"
                )
        if output_shape:
            if isinstance(output_shape, (int, np.integer)):
                output_shape = (int(output_shape),)
            if not isinstance(output_shape, (list, tuple)) or not all(
                    isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0
                    for d in output_shape):
                raise ValueError(
                    f"Invalid `output_shape`: {output_shape}. When specified, the "
                    "`output_shape` should be of type tuple, list, or int."
                )
            output_shape = tuple(int(d) for d in output_shape)
        if isinstance(attention_axes, (int, np.integer)) and not isinstance(attention_axes,
                                                                             bool):
            attention_axes = (int(attention_axes),)
        elif attention_axes and not isinstance(attention_axes, (list, tuple)):
            raise ValueError(
                "`attention_axes` must be an int, list, or tuple."
                f"Received: attention_axes={attention_axes}"
            )
        if sliding_window is not None and (
                isinstance(sliding_window, bool) or not isinstance(sliding_window, int)
                or sliding_window <= 0):
            raise ValueError(
                "`sliding_window` must be `None` or a positive integer. "
                f"Received: sliding_window={sliding_window}"
            )
        if use_gate:
            raise ValueError(
                "scratch's MultiHeadAttention does not implement the gated variant. "
                f"Received: use_gate={use_gate!r}"
            )
        if flash_attention:
            raise ValueError("Flash attention is not supported in tensorflow backend.")
        rate = _check_rate(dropout, "dropout")
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)
        self.value_dim = int(value_dim) if value_dim else self.key_dim
        self.dropout = rate
        self.use_bias = bool(use_bias)
        self._output_shape = output_shape or None
        self.attention_axes = attention_axes
        self.sliding_window = sliding_window
        self.use_gate = False
        # resolved here, as Keras does: an unseeded "glorot_uniform" draws its seed now
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.seed = seed
        self._build_shapes: dict[str, list] = {}

    # ----------------------------------------------------------------- shapes
    @staticmethod
    def _shapes(query_shape, value_shape, key_shape) -> tuple[Shape, Shape, Shape | None]:
        """(query, value, key) shapes from Keras' three arguments or scratch's one list."""
        if value_shape is None:
            if not isinstance(query_shape, (list, tuple)) or not 2 <= len(query_shape) <= 3 \
                    or not all(isinstance(s, (list, tuple)) for s in query_shape):
                raise ValueError(
                    "MultiHeadAttention needs the shapes of query and value (and key): "
                    "build(query_shape, value_shape, key_shape=None), or one list of them. "
                    f"Received: {query_shape}"
                )
            shapes = list(query_shape)
            query_shape, value_shape = shapes[0], shapes[1]
            key_shape = shapes[2] if len(shapes) == 3 else None
        return (shape_tuple(query_shape), shape_tuple(value_shape),
                None if key_shape is None else shape_tuple(key_shape))

    def _check_axes(self, query: Shape, value: Shape, key: Shape) -> None:
        for name, s in [("query", query), ("value", value), ("key", key)]:
            if len(s) != 3:
                raise ValueError(
                    f"MultiHeadAttention {self.name!r}: scratch implements attention over the "
                    f"time axis of 3-D inputs (batch, steps, features). Received: "
                    f"{name}_shape={s}"
                )
        if value[1:-1] != key[1:-1]:
            raise ValueError(
                "All dimensions of `value` and `key`, except the last one, must be equal. "
                f"Received: value_shape={value} and key_shape={key}"
            )
        axes = self.attention_axes
        if axes is not None and tuple(a if a >= 0 else a + 3 for a in axes) != (1,):
            raise ValueError(
                f"MultiHeadAttention {self.name!r}: scratch implements attention over the "
                "time axis only (attention_axes None, 1 or -2, for 3-D inputs). "
                f"Received: attention_axes={axes}"
            )

    def build(self, query_shape, value_shape=None, key_shape=None) -> None:
        """Creates the four projections' weights, in Keras' order and with its seed draws:
        each projection clones the initializers (an unseeded clone draws a new seed), the
        dropout's SeedGenerator comes between the value and the output projections."""
        query, value, key = self._shapes(query_shape, value_shape, key_shape)
        self._check_axes(query, value, key if key is not None else value)
        self._build_shapes = {"query_shape": list(query), "value_shape": list(value)}
        if key is not None:
            self._build_shapes["key_shape"] = list(key)
        key = key if key is not None else value
        H = self.num_heads
        E = self._output_shape or (query[-1],)
        for attr, name, kernel, bias, n_in in [
            ("query_dense", "query", (query[-1], H, self.key_dim), (H, self.key_dim), 1),
            ("key_dense", "key", (key[-1], H, self.key_dim), (H, self.key_dim), 1),
            ("value_dense", "value", (value[-1], H, self.value_dim), (H, self.value_dim), 1),
            ("output_dense", "attention_output", (H, self.value_dim) + tuple(E), tuple(E), 2),
        ]:
            if attr == "output_dense":  # Keras' _build_attention: Softmax, then Dropout
                auto_name("Softmax")  # (their automatic names are taken, as in Keras)
                auto_name("Dropout")
                if self.dropout > 0:
                    self.seed_generator = random.SeedGenerator(self.seed)
            setattr(self, attr, _Projection(
                name, kernel, bias if self.use_bias else None, n_in,
                _clone(self.kernel_initializer), _clone(self.bias_initializer), self.dtype))
        self.params = {f"{p.name}/{w}": a for p in self._projections()
                       for w, a in p.params.items()}
        self.attention_axes = (1,)  # as Keras' build rewrites it
        self.built = True

    def _projections(self) -> list[_Projection]:
        return [self.query_dense, self.key_dense, self.value_dense, self.output_dense]

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        query, value, key = self._shapes(query_shape, value_shape, key_shape)
        if key is not None and value[1:-1] != key[1:-1]:
            raise ValueError(
                "All dimensions of `value` and `key`, except the last one, must be equal. "
                f"Received: value_shape={value} and key_shape={key}"
            )
        if self._output_shape:
            return query[:-1] + tuple(self._output_shape)
        return query

    def keras_build_config(self) -> dict:
        """Keras' `build_config` of this layer in a `.keras` file (its build takes three
        shapes, so Keras stores them by name)."""
        return {"shapes_dict": dict(self._build_shapes)}

    def compute_mask(self, inputs, mask=None):
        out = None
        if isinstance(mask, (list, tuple)) and mask and mask[0] is not None:
            out = np.asarray(mask[0])
        if isinstance(self._cache, MultiHeadAttentionCache) and self._cache.returns_scores:
            # As in Keras, the scores come out of its Softmax layer, which leaves the combined
            # attention mask (B or 1, 1, T, S) on them as their Keras mask.
            return [out, self._cache.softmax.allowed]
        return out

    def _output_shapes_of_cache(self, cache: MultiHeadAttentionCache) -> list:
        E = self._output_shape or (cache.query.shape[-1],)
        return [cache.query.shape[:2] + tuple(E), cache.probs.shape]

    # ----------------------------------------------------------------- calling
    def __call__(self, query, value=None, key=None, query_mask=None, value_mask=None,
                 key_mask=None, attention_mask=None, return_attention_scores=False,
                 training=None, use_causal_mask=False, **kwargs):
        """Keras' call: `mha(query, value, key=None, attention_mask=None, ...)`; also
        `mha([query, value(, key)])`, scratch's list form."""
        from .symbolic import KerasTensor, call_symbolic

        if value is None and isinstance(query, (list, tuple)) and 2 <= len(query) <= 3:
            query, value, key = (list(query) + [None])[:3]
        if value is None:
            raise ValueError(f"MultiHeadAttention {self.name!r} needs a `value` tensor. "
                             "Received: value=None")
        inputs = [query, value] + ([key] if key is not None else [])
        call_kwargs = dict(kwargs)
        if return_attention_scores:
            call_kwargs["return_attention_scores"] = True
        if use_causal_mask:
            call_kwargs["use_causal_mask"] = True
        if any(isinstance(t, KerasTensor) for t in inputs + [attention_mask]):
            if value_mask is not None or key_mask is not None:
                raise ValueError(
                    f"MultiHeadAttention {self.name!r}: in a model the masks come from the "
                    "tensors themselves (e.g. Embedding(mask_zero=True)). Received: "
                    f"value_mask={value_mask!r}, key_mask={key_mask!r}"
                )
            if attention_mask is not None:
                if not isinstance(attention_mask, KerasTensor):
                    raise TypeError(
                        f"MultiHeadAttention {self.name!r}: in a model, `attention_mask` must "
                        "be a symbolic tensor (e.g. an Input). Received: "
                        f"type={type(attention_mask).__name__}"
                    )
                inputs.append(attention_mask)
                call_kwargs["attention_mask_is_input"] = True
            shapes = [t.shape for t in inputs[:2 + (key is not None)]]
            if not self.built:
                self.build(shapes)
            out = self.compute_output_shape(shapes)
            scores = (out[0], self.num_heads, shapes[0][1], shapes[1][1])
            return call_symbolic(self, inputs, call_kwargs,
                                 output_shapes=[out, scores] if return_attention_scores
                                 else out)
        if attention_mask is not None:
            call_kwargs["attention_mask"] = np.asarray(attention_mask)
        if value_mask is not None:
            call_kwargs["value_mask"] = value_mask
        if key_mask is not None:
            call_kwargs["key_mask"] = key_mask
        return super().__call__(inputs, training=training, **call_kwargs)

    def keras_call_arguments(self, inputs: list, kwargs: dict) -> tuple[list, dict]:
        """A graph node's call in Keras' convention: (query, value) positional, the key and
        the attention mask as keywords. scratch's node holds them all in one input list."""
        inputs, kwargs = list(inputs), dict(kwargs)
        if kwargs.pop("attention_mask_is_input", False):
            kwargs["attention_mask"] = inputs.pop()
        if len(inputs) == 3:
            kwargs["key"] = inputs.pop()
        return inputs, kwargs

    def _scale(self, dtype) -> np.floating:
        """1/√d_k as Keras casts the Python float: through float32 (`ops.cast`, tf.cast), so
        in float64 it is float64(float32(1/√d_k))."""
        return backend.keras_cast(1.0 / math.sqrt(float(self.key_dim)), dtype)

    def keras_cleared_masks(self, inputs: list, kwargs: dict) -> list:
        """The inputs (query, value, key) whose Keras masks this layer clears as it runs:
        Keras' `call` sets them to None on the tensors (`set_keras_mask(query, None)`, ...),
        so later layers that read masks at run time no longer see them (the model's walk,
        scratch/models/functional.py, does the same; docs/KERAS_NUMERICS.md §Attention)."""
        return list(inputs[:-1] if kwargs.get("attention_mask_is_input") else inputs)

    def _combined_mask(self, T: int, S: int, query_mask, value_mask, key_mask,
                       attention_mask, use_causal_mask: bool) -> Array | None:
        """Keras' `_compute_attention_mask`: every mask AND-ed, (B or 1, T, S) bool, or None."""
        allowed = None

        def both(mask):
            return mask if allowed is None else allowed & mask

        if query_mask is not None:
            allowed = both(query_mask[:, :, None])  # (B, T, 1)
        if value_mask is not None:
            allowed = both(value_mask[:, None, :])  # (B, 1, S)
        if key_mask is not None:
            allowed = both(key_mask[:, None, :])
        if use_causal_mask:
            allowed = both(causal_mask(T, S))  # (1, T, S)
        if self.sliding_window is not None:
            i, j = np.arange(T)[:, None], np.arange(S)[None, :]
            allowed = both((np.abs(i - j) < self.sliding_window)[None])
        if attention_mask is not None:
            allowed = both(attention_mask)
        return allowed

    def _unpack(self, inputs, mask, attention_mask, value_mask, key_mask, mask_input):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(
                f"MultiHeadAttention {self.name!r}.forward takes a list [query, value] or "
                f"[query, value, key]. Received: inputs of type {type(inputs).__name__}"
            )
        xs = list(inputs)
        masks = list(mask) if isinstance(mask, (list, tuple)) else [None] * len(xs)
        if mask_input:  # a graph's attention-mask tensor, last in the list
            attention_mask, _ = xs.pop(), masks.pop()
        if not 2 <= len(xs) <= 3 or len(masks) != len(xs):
            raise ValueError(
                f"MultiHeadAttention {self.name!r}.forward takes a list [query, value] or "
                f"[query, value, key] (and one mask per entry). Received: {len(xs)} inputs, "
                f"mask={mask!r}"
            )
        _check_sequences(self, xs, ["query", "value", "key"][:len(xs)])
        query, value = xs[0], xs[1]
        key = xs[2] if len(xs) == 3 else value
        self._check_axes(query.shape, value.shape, key.shape)
        for x, projection in [(query, self.query_dense), (value, self.value_dense),
                              (key, self.key_dense)]:
            self._check_last_dim(x.shape, projection.params["kernel"].shape[0])
        query_mask = _bool_mask(masks[0], query.shape[:2], "a query mask", self)
        if len(xs) == 3:
            key_mask = key_mask if key_mask is not None else masks[2]
        value_mask = _bool_mask(value_mask if value_mask is not None else masks[1],
                                value.shape[:2], "a value mask", self)
        key_mask = _bool_mask(key_mask, key.shape[:2], "a key mask", self)
        if attention_mask is not None:
            attention_mask = np.asarray(attention_mask).astype(bool, copy=False)
            target = (query.shape[0], query.shape[1], value.shape[1])
            try:
                np.broadcast_shapes(attention_mask.shape, target)
                ok = attention_mask.ndim <= 3
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(
                    f"MultiHeadAttention {self.name!r} expected an attention_mask of shape "
                    f"(batch, T, S) = {target} (or broadcastable to it). Received: "
                    f"attention_mask.shape={attention_mask.shape}"
                )
        return xs, query, value, key, query_mask, value_mask, key_mask, attention_mask

    def forward(self, inputs, training: bool = False, mask=None, *, attention_mask=None,
                value_mask=None, key_mask=None, return_attention_scores: bool = False,
                use_causal_mask: bool = False, attention_mask_is_input: bool = False):
        xs, query, value, key, q_mask, v_mask, k_mask, attention_mask = self._unpack(
            inputs, mask, attention_mask, value_mask, key_mask, attention_mask_is_input)
        T, S = query.shape[1], value.shape[1]
        allowed = self._combined_mask(T, S, q_mask, v_mask, k_mask, attention_mask,
                                      bool(use_causal_mask))
        if allowed is not None:  # (…, T, S) → (B or 1, 1, T, S): one mask for every head
            while allowed.ndim < 4:
                allowed = np.expand_dims(allowed, -3)
        scale = self._scale(query.dtype)
        p = self.params
        bias = (lambda name: p[f"{name}/bias"]) if self.use_bias else (lambda name: None)
        # (B, T, H, d) projections, then heads first: (B, H, T, d)
        q = projection_forward(query, p["query/kernel"], bias("query"), 1).transpose(0, 2, 1, 3)
        k = projection_forward(key, p["key/kernel"], bias("key"), 1).transpose(0, 2, 1, 3)
        v = projection_forward(value, p["value/kernel"], bias("value"), 1).transpose(0, 2, 1, 3)
        scale_first = self.dropout > 0 or bool(return_attention_scores)
        if scale_first:  # Keras' _compute_attention: Q/√d_k, then the Softmax layer
            q = q * scale
            scores = q @ k.swapaxes(-1, -2)
            probs, softmax = masked_softmax_forward(scores, allowed, "softmax_layer")
        else:  # ops.dot_product_attention: (Q·Kᵀ)/√d_k
            scores = (q @ k.swapaxes(-1, -2)) * scale
            probs, softmax = masked_softmax_forward(scores, allowed, "dot_product_attention")
        keep = _draw_keep(self, probs.shape, self.dropout, query.dtype, training)
        probs_dropped = probs if keep is None else dropout_forward(probs, self.dropout, keep)
        context = (probs_dropped @ v).transpose(0, 2, 1, 3)  # (B, T, H, d_v)
        out = projection_forward(context, p["attention_output/kernel"],
                                 bias("attention_output"), 2)
        self._cache = MultiHeadAttentionCache(
            query, value, key, len(xs), bool(attention_mask_is_input), q, k, v, scale_first,
            softmax, probs, keep, probs_dropped, context, bool(return_attention_scores))
        return [out, probs] if return_attention_scores else out

    def backward(self, dy, *, need_dx: bool = True, need_grads: bool = True) -> list:
        c = self._require_cache()
        d_out, d_probs_out = (dy if c.returns_scores else (dy, None))
        E = self._output_shape or (c.query.shape[-1],)
        d_out = self._check_dy(d_out, c.query.shape[:2] + tuple(E))
        scale = self._scale(d_out.dtype)
        p = self.params
        grads: dict[str, Array] = {}

        def project_back(name, dz, x, n_in, need_x):
            dx, g = projection_backward(dz, x, p[f"{name}/kernel"], self.use_bias, n_in,
                                        need_dx=need_x, need_grads=need_grads)
            grads.update({f"{name}/{w}": a for w, a in g.items()})
            return dx

        d_context = project_back("attention_output", d_out, c.context, 2, True)
        d_context = d_context.transpose(0, 2, 1, 3)  # (B, H, T, d_v)
        dv = c.probs_dropped.swapaxes(-1, -2) @ d_context  # Pᵀ·dC
        d_probs = d_context @ c.v.swapaxes(-1, -2)  # dC·Vᵀ
        if c.keep is not None:
            d_probs = dropout_backward(d_probs, c.keep, self.dropout)
        if d_probs_out is not None:
            d_probs = d_probs + self._check_dy(d_probs_out, c.probs.shape)
        d_scores = masked_softmax_backward(d_probs, c.softmax)
        if not c.scale_first:  # scores = (Q·Kᵀ)·s
            d_scores = d_scores * scale
        dq = d_scores @ c.k
        dk = d_scores.swapaxes(-1, -2) @ c.q
        if c.scale_first:  # scores = (Q·s)·Kᵀ
            dq = dq * scale
        # the projections, back from heads first (B, H, T, d) to (B, T, H, d)
        d_query = project_back("query", dq.transpose(0, 2, 1, 3), c.query, 1, need_dx)
        d_key = project_back("key", dk.transpose(0, 2, 1, 3), c.key, 1, need_dx)
        d_value = project_back("value", dv.transpose(0, 2, 1, 3), c.value, 1, need_dx)
        self.grads = {name: grads[name] for name in p} if need_grads else {}
        extra = [None] if c.mask_input else []
        if not need_dx:
            return [None] * (c.n_inputs + len(extra))
        if c.n_inputs == 2:  # the value was also the key
            return [d_query, d_value + d_key] + extra
        return [d_query, d_value, d_key] + extra

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout,
                "use_bias": self.use_bias, "use_gate": self.use_gate,
                "output_shape": self._output_shape, "attention_axes": self.attention_axes,
                "sliding_window": self.sliding_window,
                "kernel_initializer": _serialize_init(self.kernel_initializer),
                "bias_initializer": _serialize_init(self.bias_initializer),
                "seed": self.seed}
