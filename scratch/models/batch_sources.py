"""Batches from a generator, an iterator or a Sequence: `fit(validation_data=...)` and
`evaluate(...)` on data that is not arrays, read the way Keras 3 reads it.

The course's transfer-learning notebooks (Lecture 66, "Transfer Learning Code (pt 1)")
validate on a `flow_from_directory` iterator::

    r = model.fit(train_generator, validation_data=valid_generator, epochs=10,
                  steps_per_epoch=..., validation_steps=int(np.ceil(Nvalid / batch_size)))

Two kinds of source, as Keras 3 (`keras/src/trainers/epoch_iterator.py` and the PyDataset and
generator data adapters):

* **A Sequence** (`len(data)` batches and `data[i]`, as `ImageDataGenerator`'s iterators and
  Keras' `PyDataset` / `utils.Sequence` have): every pass starts again from batch 0 and reads
  data[0], data[1], …: `steps` batches, at most `len(data)` (fewer than asked: Keras'
  "ran out of data" warning), all of them without `steps`; then `data.on_epoch_end()` (a
  shuffled iterator draws its next order). So each validation of a fit covers the same
  batches, the whole set with `validation_steps = ⌈N / batch_size⌉` or None.
* **Any other iterable** (a Python generator, `iter(...)` of batches) is one stream for the
  whole fit: each pass takes the next `steps` batches, or all that are left without `steps`.
  A stream that ends early gives the batches it had, with Keras' warning; one that gives none
  is an error (an evaluation of nothing has no loss). Keras 2 (tf_keras) reads a generator
  this way too; Keras 3 on TensorFlow gives the first two batches it peeked at again at the
  start of every pass, then continues the stream past what its prefetch read ahead, which
  nothing can reproduce: scratch keeps Keras 2's order there.

Each batch is a tuple (x, y) or (x, y, sample_weight); the model checks it like array data.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator


class BatchSource:
    """One `validation_data` (or `evaluate` x) that yields batches; `batches()` is one pass.

    Args:
        data: a Sequence (len and [i]) or any iterable of (x, y[, sample_weight]) tuples.
        steps: batches per pass (`validation_steps` / `steps`), or None for all of them.
        what: the argument's name, for the messages.
    """

    def __init__(self, data, steps: int | None, what: str):
        self.sequence = hasattr(data, "__len__") and hasattr(data, "__getitem__")
        if not self.sequence and not hasattr(data, "__iter__"):
            raise ValueError(
                f"`{what}` must be a tuple (x, y) or (x, y, sample_weight), or a generator, "
                "iterator or Sequence of such batches. Received: an object of type "
                f"{type(data).__name__}")
        self.data, self.steps, self.what = data, steps, what
        self._stream: Iterator | None = None

    def count(self) -> int | None:
        """Batches in one pass, where known before reading it (a progress bar's length):
        `steps`, or a Sequence's length; None for a generator without `steps`."""
        if self.sequence:
            n = len(self.data)
            return n if self.steps is None else min(self.steps, n)
        return self.steps

    def batches(self) -> Iterator:
        """The raw batches of one pass (see the module docstring for which ones)."""
        read = 0
        if self.sequence:
            n = len(self.data)
            for i in range(n if self.steps is None else min(self.steps, n)):
                read += 1
                yield self.data[i]
            if hasattr(self.data, "on_epoch_end"):
                self.data.on_epoch_end()
        else:
            if self._stream is None:
                self._stream = iter(self.data)
            for _ in range(self.steps) if self.steps is not None else itertools.count():
                try:
                    batch = next(self._stream)
                except StopIteration:
                    break
                read += 1
                yield batch
        if read == 0:
            raise ValueError(f"`{self.what}` gave no batches: a generator that has ended "
                             "cannot be evaluated again (pass one that never ends, with "
                             "`validation_steps`, or a Sequence such as an ImageDataGenerator "
                             "iterator). Received: 0 batches")
        if self.steps is not None and read < self.steps:
            warnings.warn(
                f"Your input ran out of data: `{self.what}` gave {read} batches where "
                f"{self.steps} were asked for. Make sure it can generate at least "
                "`steps` batches per pass (validation_steps * epochs for a generator).",
                UserWarning, stacklevel=4)
