"""keras_ref: tf.keras mirrors of scratch models (the test oracle and the road to GPUs).

    kmodel = keras_ref.to_keras(scratch_model)     # identical weights
    model = keras_ref.from_keras(kmodel)
"""

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
           "compile_like", "keras", "UnsupportedError"]
