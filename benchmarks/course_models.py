"""Course models written once for any engine: `keras` is the `scratch` module or `tf.keras`.

Nothing here imports an engine, so a process that measures one engine (bench_memory.py's
children) loads that engine only.
"""

from __future__ import annotations


def lecture32_model(keras):
    """The Lecture 32 network: three stride-2 Conv2D, Dropout, Dense 512, softmax."""
    L = keras.layers
    i = L.Input(shape=(28, 28, 1))
    x = L.Conv2D(32, (3, 3), strides=2, activation="relu")(i)
    x = L.Conv2D(64, (3, 3), strides=2, activation="relu")(x)
    x = L.Conv2D(128, (3, 3), strides=2, activation="relu")(x)
    x = L.Flatten()(x)
    x = L.Dropout(0.2)(x)
    x = L.Dense(512, activation="relu")(x)
    x = L.Dropout(0.2)(x)
    x = L.Dense(10, activation="softmax")(x)
    return keras.models.Model(i, x)


def lecture36_model(keras, shape=(32, 32, 3), classes: int = 10):
    """The Lecture 36 network (inspired by VGG): three blocks of two Conv2D(3×3, same, relu)
    each followed by BatchNormalization, then MaxPooling2D; Dropout, Dense 1024, softmax.
    The course trains it on CIFAR-10 (32×32×3) at batch 32."""
    L = keras.layers
    i = L.Input(shape=shape)
    x = i
    for filters in (32, 64, 128):
        for _ in range(2):
            x = L.Conv2D(filters, (3, 3), activation="relu", padding="same")(x)
            x = L.BatchNormalization()(x)
        x = L.MaxPooling2D((2, 2))(x)
    x = L.Flatten()(x)
    x = L.Dropout(0.2)(x)
    x = L.Dense(1024, activation="relu")(x)
    x = L.Dropout(0.2)(x)
    x = L.Dense(classes, activation="softmax")(x)
    return keras.models.Model(i, x)


def image_rows_lstm(keras, units: int = 128):
    """Lecture 50: the rows of a 28×28 image as a sequence, LSTM(units), softmax."""
    L = keras.layers
    i = L.Input(shape=(28, 28))
    return keras.models.Model(i, L.Dense(10, activation="softmax")(L.LSTM(units)(i)))
