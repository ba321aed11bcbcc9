"""Embedding (course Lecture 54): integer ids → rows of a trainable matrix.

One-hot encoding word k and multiplying by a (V, D) matrix selects row k, so the layer skips
the product and indexes the matrix directly:

    y[n, t] = E[ids[n, t]]                  E = embeddings (V, D)

Its backward is a scatter-add: every occurrence of id v sends its cotangent row to row v,
and repeated ids accumulate. The ids themselves get no gradient (they are integers).

Two implementations of the scatter-add, chosen by `backend.fast_paths` (or `layer.fast_path`): the
readable `embedding_backward` (np.add.at) and the Numba kernel
`scratch._kernels.embedding.embedding_scatter_add`, which performs the same additions in the
same order (bit-identical; a test checks it), many times faster
(docs/PERFORMANCE.md §Numba loops).
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from .. import backend, initializers, regularizers
from .._kernels import load as load_kernels
from ..optimizers.base import RowSparseGradient
from ..typing import Array, Shape
from .base import Layer
from .core import _serialize_init

__all__ = ["Embedding", "embedding_forward", "embedding_backward"]


def embedding_forward(ids: Array, embeddings: Array) -> Array:
    """y = E[ids]: one row of E per id.

    Math:
        y[..., d] = E[ids[...], d]

    Shapes:
        ids (N, ...) integers in [0, V); embeddings (V, D) → y (N, ..., D).
    """
    return np.take(embeddings, ids, axis=0)


def embedding_backward(dy: Array, ids: Array, input_dim: int) -> Array:
    """dE for the cotangent dy of y = E[ids] (readable version, np.add.at).

    Math:
        dE[v] = Σ_{positions p with ids[p] = v} dy[p]      (repeated ids accumulate)

    Shapes:
        dy (N, ..., D); ids (N, ...) → dE (V, D) with V = input_dim, in dy's dtype.
    """
    D = dy.shape[-1]
    dE = np.zeros((input_dim, D), dtype=dy.dtype)
    np.add.at(dE, ids.reshape(-1), dy.reshape(-1, D))
    return dE


class EmbeddingCache(NamedTuple):
    ids: Array  # the ids as intp, shape (N, ...)
    y_shape: tuple


class Embedding(Layer):
    """Turns non-negative integer ids into dense vectors (keras.layers.Embedding).

    Math:
        y[n, t] = E[x[n, t]]                      E: (input_dim, output_dim)
        dE[v] = Σ_{(n,t): x[n,t] = v} dy[n, t]     (scatter-add; no gradient for x)
        mask (mask_zero=True): m[n, t] = (x[n, t] ≠ 0)

    Args:
        input_dim: V, the vocabulary size (largest id + 1). With the course's Tokenizer,
            ids run from 1 to len(word_index), so V = len(word_index) + 1.
        output_dim: D, the size of each vector.
        embeddings_initializer: Keras default "uniform" = RandomUniform(−0.05, 0.05).
        mask_zero: treat id 0 as padding: the output carries the mask x ≠ 0, which the next
            layers (RNNs, GlobalAveragePooling1D, losses) honour. Row 0 still exists.
        weights: optional initial matrix (V, D) (or a one-element list of it), e.g.
            pretrained word vectors (Keras accepts this argument too).
        input_length: Keras 2's argument, ignored with Keras 3's warning.
        embeddings_regularizer: a penalty on E added to the loss (`scratch.regularizers`);
            activity_regularizer: on y. embeddings_constraint: only None.

    Shapes:
        input (N, ...) ids: an integer array, or a float array holding whole numbers (a
        model whose Input has the default float dtype passes its ids as floats, as in the
        course) → output (N, ..., D) in the layer's dtype. Weight: embeddings (V, D).

    Raises:
        ValueError: input_dim/output_dim not a positive integer; an id < 0 or ≥ input_dim
            (checked before anything is cached; TF raises InvalidArgumentError here).
        TypeError: ids that are not whole numbers (1.5, NaN, booleans, strings): Keras would
            silently truncate them.
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, activity_regularizer=None, input_length=None, **kwargs):
        for name, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                    or value <= 0:
                raise ValueError(
                    f"`{name}` must be a positive integer. Received: {name}={value!r} "
                    f"(of type {type(value).__name__})."
                )
        if embeddings_constraint is not None:
            raise ValueError(
                "Embedding: scratch does not implement `embeddings_constraint`; only None is "
                f"accepted. Received: embeddings_constraint={embeddings_constraint!r}"
            )
        if input_length is not None:
            warnings.warn("Argument `input_length` is deprecated. Just remove it.",
                          UserWarning, stacklevel=2)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        # Resolved now, as Keras does: an unseeded random initializer draws its seed here.
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self.fast_path = None  # True/False: this layer's choice; None: backend.fast_paths
        if weights is not None:
            self.build(None)
            self.built = True
            if not (isinstance(weights, list) and len(weights) == 1):
                weights = [weights]
            self.set_weights(weights)

    def _casts_ints(self) -> bool:
        return False  # ids stay integers

    def build(self, input_shape=None) -> None:
        if "embeddings" not in self.params:
            self.add_weight("embeddings", (self.input_dim, self.output_dim),
                            self.embeddings_initializer,
                            regularizer=self.embeddings_regularizer)
        self.built = True

    @property
    def embeddings(self) -> Array:
        if "embeddings" not in self.params:
            raise AttributeError("You must build the layer before accessing `embeddings`.")
        return self.params["embeddings"]

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape) + (self.output_dim,)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return np.not_equal(np.asarray(inputs), 0)

    def _check_ids(self, x) -> Array:
        """The ids as intp after validation; raises before any state is touched."""
        if not isinstance(x, np.ndarray):
            raise TypeError(
                f"Embedding {self.name!r} expected a NumPy array of integer ids. "
                f"Received: type={type(x).__name__}"
            )
        kind = x.dtype.kind
        if kind == "f":
            bad = ~np.isfinite(x) | (x != np.floor(x)) if x.size else np.zeros(0, bool)
            if bad.any():
                value = x.reshape(-1)[np.argmax(bad.reshape(-1))]
                raise TypeError(
                    f"Embedding {self.name!r} expected integer ids (whole numbers). "
                    f"Received: a non-integer value {value.item()!r} in x (dtype={x.dtype})"
                )
        elif kind not in "iu":
            raise TypeError(
                f"Embedding {self.name!r} expected integer ids. Received: x.dtype={x.dtype}"
            )
        if x.ndim < 1:
            raise ValueError(
                f"Embedding {self.name!r} expected ids with a batch axis (rank >= 1). "
                f"Received: shape={x.shape}"
            )
        if x.size:
            lo, hi = x.min(), x.max()
            if lo < 0 or hi >= self.input_dim:
                value = lo if lo < 0 else hi
                raise ValueError(
                    f"Embedding {self.name!r} expected ids in [0, input_dim) = "
                    f"[0, {self.input_dim}). Received: an id equal to {value.item()!r}"
                )
        return x.astype(np.intp, copy=False)

    def forward(self, x: Array, training: bool = False) -> Array:
        ids = self._check_ids(x)
        y = embedding_forward(ids, self.params["embeddings"])
        self._cache = EmbeddingCache(ids, y.shape)
        return y

    def backward(self, dy: Array, *, need_dx: bool = True, need_grads: bool = True):
        """Fill grads["embeddings"] (dE) and return None: ids have no gradient."""
        cache = self._require_cache()
        dy = self._check_dy(dy, cache.y_shape)
        if dy.dtype != self.dtype:
            raise TypeError(f"Embedding {self.name!r} computes in {self.dtype}. "
                            f"Received: dy.dtype={dy.dtype}")
        dE = self._scatter(dy, cache.ids)
        # Keras receives this gradient as IndexedSlices and squares it row by row before
        # summing (Adam/RMSprop/Adagrad): keep Σ dy_p² per row too.
        self.grads = {"embeddings": RowSparseGradient.from_rows(
            dE, lambda: self._scatter(dy, cache.ids, squares=True))}
        return None

    def _scatter(self, dy: Array, ids: Array, squares: bool = False) -> Array:
        """embedding_backward of dy (of dy * dy with `squares`), by the Numba kernels on the
        fast path (bit-identical)."""
        if not backend.use_fast_path(self):
            return embedding_backward(dy * dy if squares else dy, ids, self.input_dim)
        dE = np.zeros((self.input_dim, self.output_dim), dtype=dy.dtype)
        load_kernels("embedding").embedding_scatter_add(
            ids.reshape(-1).astype(np.int64, copy=False),
            np.ascontiguousarray(dy.reshape(-1, self.output_dim)), dE, squares)
        return dE

    def get_config(self) -> dict:
        return {**super().get_config(), "input_dim": self.input_dim,
                "output_dim": self.output_dim,
                "embeddings_initializer": _serialize_init(self.embeddings_initializer),
                "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "embeddings_constraint": None, "mask_zero": self.mask_zero}
