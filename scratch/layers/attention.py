"""Attention layers: Keras' `Attention` (Luong-style dot-product attention) and
`MultiHeadAttention` (Vaswani et al., 2017), with their backward passes written out.

The course reads text with recurrent layers and 1-D convolutions over embeddings (Lecture 41,
"Recurrent Neural Networks", to Lecture 59, "Text Classification with CNNs"); attention is
what a Keras user reaches for next. One attention step, for one sample and one head:

    Q (Tq, d_k) queries, K (Tv, d_k) keys, V (Tv, d_v) values

    S = Q·Kᵀ / √d_k                  scores (Tq, Tv): how well query i matches key j
    S̃ = S where allowed, else a large negative number (three Keras rules, below)
    P = softmax(S̃)                   along the keys: each row of P sums to 1
    O = P·V                           (Tq, d_v): each query's weighted average of the values

Backward, for the cotangent dO:

    dV = Pᵀ·dO          dP = dO·Vᵀ
    dS = P ⊙ (dP − Σ_j dP ⊙ P)      the softmax's vector-Jacobian product
                                     (`scratch.activations.Softmax.backward`, reused here)
    dQ = dS·K / √d_k    dK = dSᵀ·Q / √d_k

`Attention` applies this to its inputs directly (no projections; the scale is an optional
trainable scalar, or the scores are Σ tanh(q + k), "concat"); `MultiHeadAttention` first
projects the inputs to h heads with its own weights, runs the step per head and projects the
concatenated heads back (scratch/layers/multi_head_attention.py).

Masks, exactly as Keras 3.15 applies them (keras/src/layers/attention/ and
keras/src/backend/tensorflow/nn.py; docs/KERAS_NUMERICS.md §Attention): a position j is
*allowed* for query i when every mask says so. Where it is not, the score becomes:

    rule "attention"              S − 1e9         (Attention: the gradient passes to S)
    rule "softmax_layer"          −1e9            (MultiHeadAttention with dropout or
                                                   return_attention_scores: Keras' Softmax
                                                   layer; the probabilities of disallowed
                                                   positions are then set to 0)
    rule "dot_product_attention"  −0.7·3.38953e38 (MultiHeadAttention otherwise:
                                                   ops.dot_product_attention)

so exp underflows to 0 at disallowed positions. A query row with no allowed position (a
padded query step) gets uniform weights under the last two rules; the Softmax layer then
zeroes them, dot_product_attention does not. The two MultiHeadAttention roads also scale at
different places (Q/√d_k before the product, or the product after it), so scratch takes the
road Keras takes.

Dropout (rate p, training only) drops attention weights, not inputs: P_d = keep ? P/(1−p) : 0
with the keep mask drawn as Keras' Dropout draws it (the layer's SeedGenerator, Philox), so the
same seed drops the same weights in both engines (docs/RANDOMNESS.md).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import activations, random
from ..typing import Array, Shape
from .base import Layer, as_list, shape_tuple
from .dropout import dropout_backward, dropout_forward

__all__ = ["Attention", "masked_softmax_forward", "masked_softmax_backward", "causal_mask"]

# The large numbers of Keras' three masking rules (module docstring), as Python floats: each
# is rounded to the scores' dtype where it is used, as TensorFlow converts them.
ATTENTION_MASK_OFFSET = 1.0e9  # Attention._apply_scores: scores − 1e9 (65504 in float16)
SOFTMAX_LAYER_FILL = -1.0e9  # layers.Softmax with a mask: _large_negative_number
DOT_PRODUCT_ATTENTION_FILL = 3.38953e38 * -0.7  # backend.tensorflow.nn._get_large_negative

_SOFTMAX = activations.Softmax(axis=-1)


# ------------------------------------------------------------------------------ masked softmax
class MaskedSoftmaxCache(NamedTuple):
    x: Array  # the scores after masking, the softmax's input
    p: Array  # the softmax's output (before the Softmax layer's zeroing)
    allowed: Array | None  # bool, broadcastable to the scores; None: no mask
    rule: str


def masked_softmax_forward(scores: Array, allowed: Array | None,
                           rule: str) -> tuple[Array, MaskedSoftmaxCache]:
    """P = softmax(S̃) along the last axis, S̃ masked by one of Keras' rules.

    Math:
        "attention":              S̃ = allowed ? S : S − 1e9;            P = softmax(S̃)
        "softmax_layer":          S̃ = allowed ? S : −1e9;               P = allowed ? softmax(S̃) : 0
        "dot_product_attention":  S̃ = allowed ? S : −0.7·3.38953e38;    P = softmax(S̃)

    Shapes:
        scores (..., Tq, Tv); allowed bool broadcastable to it, or None → P like scores.
    """
    dtype = scores.dtype.type
    if allowed is None:
        x = scores
    elif rule == "attention":
        x = np.where(allowed, scores, scores - dtype(ATTENTION_MASK_OFFSET))
    elif rule == "softmax_layer":
        x = np.where(allowed, scores, dtype(SOFTMAX_LAYER_FILL))
    elif rule == "dot_product_attention":
        x = np.where(allowed, scores, dtype(DOT_PRODUCT_ATTENTION_FILL))
    else:
        raise ValueError(f"Unknown masking rule. Received: rule={rule!r}")
    p = _SOFTMAX(x)
    out = p
    if allowed is not None and rule == "softmax_layer":
        out = np.where(allowed, p, dtype(0))
    return out, MaskedSoftmaxCache(x, p, allowed, rule)


def masked_softmax_backward(dout: Array, cache: MaskedSoftmaxCache) -> Array:
    """dL/dS for the cotangent dL/dP of `masked_softmax_forward`.

    Math:
        dP' = allowed ? dP : 0                  ("softmax_layer": the zeroing's gradient)
        dS̃ = P ⊙ (dP' − Σ_j dP' ⊙ P)            (the softmax's VJP)
        dS = dS̃                                 ("attention": both branches pass it)
        dS = allowed ? dS̃ : 0                   (the other rules: the fill is a constant)
    """
    allowed = cache.allowed
    zero = dout.dtype.type(0)
    if allowed is not None and cache.rule == "softmax_layer":
        dout = np.where(allowed, dout, zero)
    dx = _SOFTMAX.backward(dout, cache.x, cache.p)
    if allowed is None or cache.rule == "attention":
        return dx
    return np.where(allowed, dx, zero)


def _draw_keep(layer, shape, rate: float, dtype, training: bool) -> Array | None:
    """The dropout keep mask of one call (None when nothing is dropped)."""
    if not training or rate == 0.0:
        return None
    return random.dropout_keep_mask(shape, rate, dtype, seed=layer.seed_generator)


def _check_rate(rate, name: str) -> float:
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.floating)) \
            or not 0 <= rate <= 1:
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a float value between "
            f"0 and 1. Received: {name}={rate!r}"
        )
    return float(rate)


def _check_sequences(layer, xs: list[Array], names: list[str]) -> None:
    """Float arrays of the layer's dtype, each (N, T, D), with one batch size."""
    for x, name in zip(xs, names, strict=True):
        layer._check_float_input(x)
        if x.ndim != 3:
            raise ValueError(
                f"{type(layer).__name__} {layer.name!r} expected `{name}` of rank 3 "
                f"(batch, steps, features). Received: {name}.shape={x.shape}"
            )
    if len({x.shape[0] for x in xs}) > 1:
        raise ValueError(
            f"{type(layer).__name__} {layer.name!r}: the inputs must have one batch size. "
            f"Received: shapes {[x.shape for x in xs]}"
        )


def _bool_mask(mask, shape: tuple, what: str, layer) -> Array | None:
    """A Keras mask as a bool array of `shape` (None stays None)."""
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise ValueError(
            f"{type(layer).__name__} {layer.name!r} expected {what} of shape {shape}. "
            f"Received: mask.shape={mask.shape}"
        )
    return mask.astype(bool, copy=False)


def causal_mask(Tq: int, Tv: int) -> Array:
    """(1, Tq, Tv): query i may attend to positions j ≤ i (Keras' cumsum construction)."""
    return (np.arange(Tq)[:, None] >= np.arange(Tv)[None, :])[None]


# ------------------------------------------------------------------------------ Attention
class AttentionCache(NamedTuple):
    q: Array
    k: Array
    v: Array
    n_inputs: int  # 2 ([query, value]: the value is also the key) or 3
    raw: Array  # "dot": Q·Kᵀ before the scale; "concat": tanh(scale·(q + k)) (B, Tq, Tv, D)
    softmax: MaskedSoftmaxCache
    weights: Array  # P after dropout: what multiplies V (and what Keras returns)
    keep: Array | None
    q_mask: Array | None  # (B, Tq)
    returns_scores: bool


class Attention(Layer):
    """Dot-product (Luong-style) attention over a list [query, value] or [query, value, key]
    (keras.layers.Attention).

    Math (per sample; K = V when no key is given):
        score_mode "dot":     S = Q·Kᵀ, times the trainable scalar `scale` if use_scale
        score_mode "concat":  S[i, j] = c · Σ_d tanh(scale · (Q[i, d] + K[j, d]))
                              (c = the trainable scalar `concat_score_weight`; `scale` only
                              if use_scale)
        S̃ = S − 1e9 where the value mask or the causal mask forbids j  (rule "attention")
        P = softmax(S̃) along j;  P_d = dropout(P) in training;  O = P_d·V
        O[i] = 0 where the query mask is False
    Backward (dO):
        dV = P_dᵀ·dO;  dP = dropout'(dO·Vᵀ);  dS = softmax'(dP)
        dot:    dQ = s·dS·K,  dK = s·dSᵀ·Q,  d scale = Σ dS ⊙ Q·Kᵀ
        concat: dU = c·dS ⊙ (1 − tanh²(U)) with U = scale·(Q[i] + K[j]);
                dQ = scale·Σ_j dU,  dK = scale·Σ_i dU,  d scale = Σ dU ⊙ (Q[i] + K[j]),
                d concat_score_weight = Σ dS ⊙ Σ_d tanh(U)

    Args:
        use_scale: learn a scalar that multiplies the scores (weight `scale`, shape (),
            initialized to 1).
        score_mode: "dot" or "concat" ("concat" adds the weight `concat_score_weight`).
        dropout: fraction of the attention weights dropped in training.
        seed: seeds the dropout's SeedGenerator.

    Call arguments:
        inputs: [query (N, Tq, D), value (N, Tv, Dv)] or [query, value, key (N, Tv, D)].
        mask: [query_mask (N, Tq), value_mask (N, Tv)] (a model passes its Keras masks).
        return_attention_scores: also return P_d (N, Tq, Tv) (after dropout, as Keras).
        use_causal_mask: query i attends only to positions j ≤ i.

    Shapes:
        → (N, Tq, Dv); the output keeps the query's mask. Weights, in Keras' order:
        `scale` () if use_scale, `concat_score_weight` () if score_mode == "concat".

    Raises:
        ValueError: a score_mode other than "dot"/"concat", a dropout outside [0, 1], inputs
            that are not a list of 2 or 3 sequences of one batch size, or masks of another
            shape.
    """

    supports_masking = True

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(
                "Invalid value for argument score_mode. Expected one of {'dot', 'concat'}. "
                f"Received: score_mode={score_mode}"
            )
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = _check_rate(dropout, "dropout")
        self.seed = seed
        if self.dropout > 0:  # as Keras: made (and its seed drawn) in the constructor
            self.seed_generator = random.SeedGenerator(seed)

    # ----------------------------------------------------------------- shapes
    def _input_shapes(self, input_shape) -> list[Shape]:
        if not isinstance(input_shape, (list, tuple)) or not input_shape or not all(
                isinstance(s, (list, tuple)) for s in input_shape):
            raise ValueError(
                f"{type(self).__name__} layer must be called on a list of inputs, namely "
                f"[query, value] or [query, value, key]. Received: input_shape={input_shape}"
            )
        if not 2 <= len(input_shape) <= 3:
            raise ValueError(
                f"{type(self).__name__} layer accepts inputs list of length 2 or 3, namely "
                f"[query, value] or [query, value, key]. Received length: {len(input_shape)}."
            )
        return [shape_tuple(s) for s in input_shape]

    def build(self, input_shape) -> None:
        self._input_shapes(input_shape)
        if self.use_scale:
            self.add_weight("scale", (), initializer="ones")
        if self.score_mode == "concat":
            self.add_weight("concat_score_weight", (), initializer="ones")
        self.built = True

    def compute_output_shape(self, input_shape):
        shapes = self._input_shapes(input_shape)
        return shapes[0][:-1] + (shapes[1][-1],)

    def _scores_shape(self, input_shape) -> Shape:
        shapes = self._input_shapes(input_shape)
        return shapes[0][:-1] + (shapes[-1][-2],)

    def compute_mask(self, inputs, mask=None):
        out = None
        if isinstance(mask, (list, tuple)) and mask and mask[0] is not None:
            out = np.asarray(mask[0])
        if isinstance(self._cache, AttentionCache) and self._cache.returns_scores:
            return [out, None]
        return out

    def _output_shapes_of_cache(self, cache: AttentionCache) -> list:
        return [cache.q.shape[:-1] + (cache.v.shape[-1],), cache.weights.shape]

    # ----------------------------------------------------------------- calling
    def __call__(self, inputs, training=None, return_attention_scores=False,
                 use_causal_mask=False, **kwargs):
        from .symbolic import KerasTensor, call_symbolic

        if return_attention_scores:
            kwargs["return_attention_scores"] = True
        if use_causal_mask:
            kwargs["use_causal_mask"] = True
        if any(isinstance(t, KerasTensor) for t in as_list(inputs)):
            shapes = [t.shape for t in as_list(inputs)]
            out = self.compute_output_shape(shapes)
            return call_symbolic(self, inputs, kwargs, output_shapes=[
                out, self._scores_shape(shapes)] if return_attention_scores else out)
        return super().__call__(inputs, training=training, **kwargs)

    def _unpack(self, inputs, mask):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(
                f"{type(self).__name__} layer must be called on a list of inputs, namely "
                f"[query, value] or [query, value, key]. Received: inputs of type "
                f"{type(inputs).__name__}."
            )
        self._input_shapes([np.shape(x) for x in inputs])
        xs = list(inputs)
        _check_sequences(self, xs, ["query", "value", "key"][:len(xs)])
        q, v = xs[0], xs[1]
        k = xs[2] if len(xs) == 3 else v
        if q.shape[-1] != k.shape[-1] or k.shape[1] != v.shape[1]:
            raise ValueError(
                f"Attention {self.name!r} expected query (N, Tq, D), value (N, Tv, Dv) and "
                f"key (N, Tv, D). Received: shapes {[x.shape for x in xs]}"
            )
        q_mask = v_mask = None
        if mask is not None:
            if not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3:
                raise ValueError(
                    f"{type(self).__name__} layer mask must be a list of length 2 or 3, "
                    f"namely [query_mask, value_mask]. Received: mask={mask}."
                )
            q_mask = _bool_mask(mask[0], q.shape[:2], "a query mask", self)
            v_mask = _bool_mask(mask[1], v.shape[:2], "a value mask", self)
        return q, v, k, q_mask, v_mask

    def forward(self, inputs, training: bool = False, mask=None,
                return_attention_scores: bool = False, use_causal_mask: bool = False):
        q, v, k, q_mask, v_mask = self._unpack(inputs, mask)
        dtype = q.dtype.type
        scale = self.params["scale"] if self.use_scale else None
        if self.score_mode == "dot":
            raw = q @ k.swapaxes(-1, -2)  # Q·Kᵀ (B, Tq, Tv)
            scores = raw * scale if scale is not None else raw
        else:
            u = q[:, :, None, :] + k[:, None, :, :]  # (B, Tq, Tv, D)
            raw = np.tanh(scale * u if scale is not None else u)
            scores = self.params["concat_score_weight"] * np.sum(raw, axis=-1)
        # Keras' score mask: the value mask (B, 1, Tv), and the causal mask (1, Tq, Tv)
        allowed = None if v_mask is None else v_mask[:, None, :]
        if use_causal_mask:
            causal = causal_mask(q.shape[1], v.shape[1])
            allowed = causal if allowed is None else allowed & causal
        weights, softmax = masked_softmax_forward(scores, allowed, "attention")
        keep = _draw_keep(self, weights.shape, self.dropout, q.dtype, training)
        if keep is not None:
            weights = dropout_forward(weights, self.dropout, keep)
        out = weights @ v
        if q_mask is not None:
            out = np.where(q_mask[:, :, None], out, dtype(0))
        self._cache = AttentionCache(q, k, v, len(inputs), raw, softmax, weights, keep, q_mask,
                                     bool(return_attention_scores))
        return [out, weights] if return_attention_scores else out

    def backward(self, dy, *, need_dx: bool = True, need_grads: bool = True) -> list:
        c = self._require_cache()
        if c.returns_scores:
            d_out, d_weights = dy
        else:
            d_out, d_weights = dy, None
        d_out = self._check_dy(d_out, c.q.shape[:-1] + (c.v.shape[-1],))
        zero = d_out.dtype.type(0)
        if c.q_mask is not None:
            d_out = np.where(c.q_mask[:, :, None], d_out, zero)
        dv = c.weights.swapaxes(-1, -2) @ d_out  # P_dᵀ·dO
        dw = d_out @ c.v.swapaxes(-1, -2)  # dO·Vᵀ
        if d_weights is not None:
            dw = dw + self._check_dy(d_weights, c.weights.shape)
        if c.keep is not None:
            dw = dropout_backward(dw, c.keep, self.dropout)
        d_scores = masked_softmax_backward(dw, c.softmax)
        grads: dict[str, Array] = {}
        scale = self.params["scale"] if self.use_scale else None
        if self.score_mode == "dot":
            d_raw = d_scores * scale if scale is not None else d_scores
            if scale is not None:
                grads["scale"] = np.asarray(np.sum(d_scores * c.raw), dtype=scale.dtype)
            dq = d_raw @ c.k
            dk = d_raw.swapaxes(-1, -2) @ c.q
        else:
            weight = self.params["concat_score_weight"]
            d_tanh = (weight * d_scores)[..., None] * (1 - c.raw * c.raw)  # dU (B, Tq, Tv, D)
            if scale is not None:
                u = c.q[:, :, None, :] + c.k[:, None, :, :]
                grads["scale"] = np.asarray(np.sum(d_tanh * u), dtype=scale.dtype)
                d_tanh = d_tanh * scale
            grads["concat_score_weight"] = np.asarray(
                np.sum(d_scores * np.sum(c.raw, axis=-1)), dtype=weight.dtype)
            dq = np.sum(d_tanh, axis=2)
            dk = np.sum(d_tanh, axis=1)
        self.grads = grads if need_grads else {}
        if c.n_inputs == 2:  # the value was also the key
            return [dq, dv + dk]
        return [dq, dv, dk]

    def get_config(self) -> dict:
        return {**super().get_config(), "use_scale": self.use_scale,
                "score_mode": self.score_mode, "dropout": self.dropout, "seed": self.seed}
