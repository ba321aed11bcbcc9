"""`scratch.tape`: a gradient tape over the engine's own hand-written backward passes.

    with scratch.GradientTape() as tape:
        y_pred = model(x, training=True)
        loss = loss_fn(y, y_pred)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))

Modules:

    tensor.py          `Tensor` (what `layer(x)`/`model(x)` return: an ndarray with
                       `.numpy()`) and `Variable` (a weight, as `model.trainable_variables`)
    rules.py           the operations the tape differentiates, each forward with its backward
    steps.py           what one recorded step keeps and how it runs backward
    recorder.py        who records what (levels of recorders), the NumPy hooks, the replay
    gradient_tape.py   `GradientTape`, and `CallRecording` (one call of a subclassed layer)

This is not autodiff of arbitrary NumPy: every step replays a backward the engine already
has (a layer's `backward`, a loss's gradient, an activation's derivative, one line per
operation in rules.py). Anything else applied to a recorded value makes the gradient raise a
ValueError naming it, so a gradient is never silently wrong.
"""

from .gradient_tape import GradientTape
from .tensor import Tensor, Variable

__all__ = ["GradientTape", "Tensor", "Variable"]
