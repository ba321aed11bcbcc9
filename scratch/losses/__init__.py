"""Keras losses in NumPy, with the value *and* the gradient Keras' autodiff would produce.

The package, by audience:

    formulas.py    the per-sample math pairs *_forward / *_backward (the course's equations)
    reduction.py   the pipeline around them: casts, rank fix-up, weights, masks, reductions
    classes.py     the Keras classes and functions, `get` / `serialize` / `deserialize`
    fast.py        the Numba twins of the cross-entropies on logits (a fast path)

Usage mirrors `keras.losses` (docs/KERAS_NUMERICS.md §Losses)::

    loss = losses.get("sparse_categorical_crossentropy")
    value = loss(y_true, y_pred, sample_weight=None)              # numpy scalar, y_pred's dtype
    value, dy_pred = loss.value_and_grad(y_true, y_pred)          # dL/dy_pred, y_pred's shape
    value, dz = loss.value_and_grad(y_true, y_pred, logits=z)     # hidden-logits path: dL/dz

The pipeline every loss follows (Keras' `Loss.__call__` + `LossFunctionWrapper.call`):

    1. cast     y_true, y_pred -> y_pred's dtype (float32 or float64; integer data -> floatx())
    2. rank     squeeze_or_expand_to_same_rank(y_true, y_pred): if the ranks differ by one and the
                higher-rank tensor ends in a 1, expand the other one if it is rank 1, otherwise
                squeeze the higher-rank one. (N,) against (N,1) becomes (N,1) against (N,1).
    3. sample   values = ℓ(y_true, y_pred) reduced over the LAST axis: mean for MSE, MAE, Huber,
                BCE; sum over classes for CCE and SCCE. values.shape = y.shape[:-1].
    4. weights  w = sample_weight merged with the mask (mask -> valid·(total/valid) for "mean" and
                "sum_over_batch_size", 0/1 otherwise); squeeze_or_expand(values, w); values·w
                (NumPy/TF broadcasting, exactly as Keras multiplies).
    5. reduce   "sum_over_batch_size"/"mean": Σ(values·w) / size(values·w)   (0 if the size is 0)
                "sum": Σ(values·w);  "mean_with_sample_weight": Σ(values·w) / Σw
                None/"none": values·w, unreduced. A scalar or (0,)-shaped values·w is returned as
                it is, whatever the reduction (Keras' `reduce_values`).

Sample weights never change the "sum_over_batch_size" divisor; the divisor is the number of
per-sample loss *elements* (N for (N,k) outputs, N·T for (N,T,k) outputs).

Gradients follow TensorFlow's autodiff of Keras' formulas exactly:

* the 1e-7 clip ``clip(p, ε, 1−ε)`` passes the gradient where ε ≤ p ≤ 1−ε (bounds included) and
  gives 0 outside;
* CCE renormalises before clipping, so its gradient contains the renormalisation:
  dℓ/dp_c = −y_c/p_c + Σ_j y_j/Σp (no clipping active);
* SCCE clips, takes logs and applies a softmax cross-entropy to them (renormalising after the
  clip): dℓ/dp_c = (1/Σ_j clip(p_j) − [c = y]/clip(p_c))·[ε ≤ p_c ≤ 1−ε];
* the fused TF kernels ``softmax_cross_entropy_with_logits`` / ``sparse_…`` return
  dℓ/dz = softmax(z) − y, also when Σ_c y_c ≠ 1 (the exact derivative would be (Σy)·softmax − y);
* |e| has gradient 0 at e = 0 (MAE, Huber's linear branch); Huber uses its quadratic branch at
  |e| = δ;
* reduction None/"none" has no scalar to differentiate: `value_and_grad` then returns the
  gradient of Σ values, which is what `tf.GradientTape.gradient` returns for a non-scalar target.

Hidden logits (docs/KERAS_NUMERICS.md §Hidden logits): when the probabilities came from a
sigmoid/softmax layer whose pre-activation ``z`` is known, Keras silently evaluates
BCE/CCE/SCCE with the from_logits formula on ``z``. `value_and_grad(..., logits=z)` does the
same and returns dL/dz (where Keras drops the logits — a rank fix-up of y_pred, SCCE's
ignore_class — the probability formula is used and chained through the activation: see
`Loss.value_and_grad`).

Deliberate differences from Keras, all of them errors where Keras silently computes garbage:
SCCE labels that are out of range, negative (and not ``ignore_class``) or not integer-valued;
y_true/y_pred shapes that do not agree after the rank fix-up (Keras broadcasts MSE/MAE/Huber).
`Huber.get_config()` also stores ``delta`` (Keras drops it, so its round trip resets delta).
"""

from __future__ import annotations

from . import formulas
from .classes import (
    AutoCrossentropy,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CosineSimilarity,
    Huber,
    KLDivergence,
    Loss,
    MeanAbsoluteError,
    MeanSquaredError,
    SparseCategoricalCrossentropy,
    binary_crossentropy,
    categorical_crossentropy,
    cosine_similarity,
    deserialize,
    get,
    huber,
    kl_divergence,
    kld,
    mae,
    mean_absolute_error,
    mean_squared_error,
    mse,
    serialize,
    sparse_categorical_crossentropy,
)
from .fast import (
    _mean_and_grad,
    bce_logits_backward_fast,
    bce_logits_forward_fast,
    bce_logits_mean_fast,
    scce_logits_backward_fast,
    scce_logits_forward_fast,
)
from .formulas import *  # noqa: F403 (the per-sample pairs, formulas.__all__)
from .reduction import (
    REDUCTIONS,
    _apply_mask,
    class_weight_to_sample_weight,
    is_binary_or_sparse_categorical,
    reduce_weighted_values,
    squeeze_or_expand_to_same_rank,
    standardize_reduction,
)

__all__ = [
    "Loss", "MeanSquaredError", "MeanAbsoluteError", "Huber", "BinaryCrossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "AutoCrossentropy",
    "KLDivergence", "CosineSimilarity",
    "mean_squared_error", "mse", "mean_absolute_error", "mae", "huber", "binary_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy", "kl_divergence", "kld",
    "cosine_similarity", "get", "serialize",
    "deserialize", "squeeze_or_expand_to_same_rank", "standardize_reduction",
    "is_binary_or_sparse_categorical", "class_weight_to_sample_weight", "reduce_weighted_values",
    "REDUCTIONS",
    # the fast twins of the per-sample pairs (formulas.__all__, added below)
    "bce_logits_forward_fast",
    "bce_logits_backward_fast", "bce_logits_mean_fast", "scce_logits_forward_fast",
    "scce_logits_backward_fast", "_apply_mask", "_mean_and_grad",
]
__all__ += formulas.__all__
