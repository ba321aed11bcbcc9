"""keras_ref: tf.keras mirrors of scratch models (the test oracle and the road to GPUs).

    kmodel = keras_ref.to_keras(scratch_model)     # identical weights
    model = keras_ref.from_keras(kmodel)
    report = keras_ref.compare(model, x, y, steps=3)   # where the numbers first differ

`keras_ref.compare` is the function; its module is `keras_ref.compare` in `sys.modules`
(`from keras_ref.compare import ParityReport`).
"""

from .compare import ParityReport, ParityRow, compare, compare_main
from .convert import (
                      UnsupportedError,
                      compile_like,
                      from_keras,
                      keras,
                      layer_from_keras,
                      layer_to_keras,
                      loss_from_keras,
                      loss_to_keras,
                      optimizer_from_keras,
                      optimizer_to_keras,
                      to_keras,
)

__all__ = ["to_keras", "from_keras", "layer_to_keras", "layer_from_keras",
           "optimizer_to_keras", "optimizer_from_keras", "loss_to_keras", "loss_from_keras",
           "compile_like", "keras", "UnsupportedError", "compare", "compare_main",
           "ParityReport", "ParityRow"]
