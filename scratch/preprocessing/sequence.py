"""`pad_sequences` (course Lecture 55): lists of word indices → one (N, T) array.

    from scratch.preprocessing.sequence import pad_sequences
    data = pad_sequences(sequences, maxlen=T, padding="pre", truncating="pre")

Keras 3 semantics (`keras.utils.pad_sequences`, also `tf.keras.preprocessing.sequence`).
Pre-padding is the default because an RNN reading left to right then ends on real words:
RNNs have trouble carrying information from the distant past (Lecture 55).
"""

from __future__ import annotations

import numpy as np

__all__ = ["pad_sequences"]


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre",
                  value=0.0) -> np.ndarray:
    """Pad (or truncate) every sequence to the same length T.

    Math (sequence s of length L, T = maxlen or the longest L):
        truncating="pre":  keep s[L−T:] (the last T);   "post": keep s[:T] (the first T)
        padding="pre":     row = [value]·(T − L') + kept;   "post": kept + [value]·(T − L')

    Args:
        sequences: a list of N sequences (lists or arrays of numbers; each item may itself
            be an array, all of one shape).
        maxlen: T; None pads to the longest sequence.
        dtype: the output dtype (default "int32"); `object` or a string dtype for strings.
        padding: "pre" or "post": where the padding goes.
        truncating: "pre" or "post": which end of a too-long sequence is cut.
        value: the padding value (default 0, the index no word has).

    Shapes:
        N sequences → (N, T) + the items' shape.

    Raises:
        ValueError: sequences not a list of iterables, bad padding/truncating, items of
            different shapes, maxlen negative, or a string `value` with a numeric dtype.
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError("`sequences` must be iterable.")
    if padding not in ("pre", "post"):
        raise ValueError(f'Padding type "{padding}" not understood. Expected "pre" or '
                         f'"post". Received: padding={padding!r}')
    if truncating not in ("pre", "post"):
        raise ValueError(f'Truncating type "{truncating}" not understood. Expected "pre" or '
                         f'"post". Received: truncating={truncating!r}')
    lengths = []
    sample_shape: tuple = ()
    found = False
    for x in sequences:
        try:
            lengths.append(len(x))
        except TypeError as e:
            raise ValueError(
                f"`sequences` must be a list of iterables. Found non-iterable: {x!s}"
            ) from e
        if not found and len(x):
            sample_shape = np.asarray(x).shape[1:]
            found = True
    if maxlen is None:
        if not lengths:
            raise ValueError("pad_sequences needs `maxlen` when `sequences` is empty. "
                             "Received: sequences=[]")
        maxlen = int(np.max(lengths))
    elif isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 0:
        raise ValueError(f"`maxlen` must be None or a non-negative integer. "
                         f"Received: maxlen={maxlen!r}")
    maxlen = int(maxlen)
    is_str = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not is_str:
        raise ValueError(f"`dtype` {dtype} is not compatible with `value`'s type: "
                         f"{type(value)}\nYou should set `dtype=object` for variable length "
                         "strings.")
    out = np.full((len(lengths), maxlen) + sample_shape, value, dtype=dtype)
    if maxlen == 0:
        if any(lengths):
            raise ValueError("pad_sequences cannot fit non-empty sequences into maxlen=0. "
                             "Received: maxlen=0")
        return out
    for idx, s in enumerate(sequences):
        if not len(s):
            continue
        kept = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        kept = np.asarray(kept, dtype=dtype)
        if kept.shape[1:] != sample_shape:
            raise ValueError(
                f"Shape of sample {kept.shape[1:]} of sequence at position {idx} is "
                f"different from expected shape {sample_shape}"
            )
        if padding == "post":
            out[idx, :len(kept)] = kept
        else:
            out[idx, -len(kept):] = kept
    return out
