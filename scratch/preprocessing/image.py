"""Data augmentation (course Lecture 34): Keras' `ImageDataGenerator`, `flow` and
`flow_from_directory` (Lectures 63–67), and the image file functions (`load_img`,
`img_to_array`, `array_to_img`, `save_img`, from `image_files.py`).

Augmentation invents new training images from the old ones (shifted, flipped, rotated,
zoomed) on the fly: `flow(x, y, batch_size)` returns an endless iterator of augmented
batches, which `model.fit(iterator, steps_per_epoch=...)` (or the deprecated
`fit_generator`) consumes, exactly as in the course:

    data_generator = ImageDataGenerator(width_shift_range=0.1, height_shift_range=0.1,
                                        horizontal_flip=True)
    train_generator = data_generator.flow(x_train, y_train, batch_size)
    r = model.fit(train_generator, steps_per_epoch=x_train.shape[0] // batch_size, epochs=50)

Each image gets its own random affine map (Keras' `apply_affine_transform`): rotation by θ,
shift by (tx, ty) pixels, shear, zoom (zx, zy), composed as R·T·S·Z about the image centre,
and resampled with `scipy.ndimage.affine_transform` (spline order `interpolation_order`,
points outside the image filled by `fill_mode`: "constant" (cval), "nearest", "reflect" or
"wrap"). Flips come after the affine map. Parameters are drawn as Keras draws them:

    θ  ~ U(−rotation_range, rotation_range) degrees
    tx ~ U(−h, h)·H if height_shift_range = h < 1 (a fraction), pixels if ≥ 1; an int or a
         list draws one value of it with a random sign; ty likewise from width_shift_range
    zx, zy ~ U(1 − z, 1 + z) for zoom_range = z (or U(lo, hi) for [lo, hi])
    flip if U(0, 1) < 0.5, when horizontal_flip / vertical_flip

Keras 3.15 quirk, reproduced for parity: `get_random_transform` draws `tx` from
height_shift_range (scaled by H) and `ty` from width_shift_range (scaled by W), but Keras 3's
`apply_affine_transform` swaps the matrix to NumPy's (row, column) order, so `tx` ends up
moving columns and `ty` rows: with channels_last images, width_shift_range shifts the image
vertically and height_shift_range horizontally (by a fraction of the other side). For square
images (the course's) the only effect is which flag names which axis.

Reproducibility: with `seed=s`, batch k of the iterator draws from a generator seeded with
s + k (the permutation of a new epoch first, then every image's parameters in order), which
is the stream Keras' legacy iterator gets from `np.random.seed(s + k)`: the batches equal
tf.keras' `ImageDataGenerator(...).flow(..., seed=s)` batches, but no global random state
is touched. Without a seed, the draws come from NumPy's global generator, as in Keras.

The module is over the project's 500 lines because `ImageDataGenerator` carries Keras' whole
set of arguments (augmentation, featurewise statistics, rescaling) and its iterators (`flow`,
`flow_from_directory`, and `flow_from_dataframe`'s in image_dataframe.py) share one batch
machinery (`_BatchIterator`, and `FileBatchIterator` for those that read files).
"""

from __future__ import annotations

import os
import threading
import warnings

import numpy as np
from scipy import ndimage

from .. import backend
from .image_files import array_to_img, img_to_array, load_img, save_img

__all__ = ["ImageDataGenerator", "NumpyArrayIterator", "DirectoryIterator", "FileBatchIterator",
           "apply_affine_transform", "transform_matrix_offset_center", "flip_axis",
           "load_img", "img_to_array", "array_to_img", "save_img"]

_FILL_MODES = ("constant", "nearest", "reflect", "wrap")


# ------------------------------------------------------------------------------ transforms
def flip_axis(x: np.ndarray, axis: int) -> np.ndarray:
    """Reverse one axis of an image (a horizontal flip is axis 1 of an (H, W, C) image)."""
    return np.flip(np.asarray(x), axis=axis)


def transform_matrix_offset_center(matrix: np.ndarray, x: int, y: int) -> np.ndarray:
    """Conjugate a 3×3 homogeneous transform so that it acts about the image centre.

    Math:
        M_c = T(o)·M·T(−o),   o = (x/2 − 0.5, y/2 − 0.5)
    """
    o_x, o_y = float(x) / 2 - 0.5, float(y) / 2 - 0.5
    offset = np.array([[1, 0, o_x], [0, 1, o_y], [0, 0, 1]])
    reset = np.array([[1, 0, -o_x], [0, 1, -o_y], [0, 0, 1]])
    return offset @ matrix @ reset


def apply_affine_transform(x: np.ndarray, theta=0.0, tx=0.0, ty=0.0, shear=0.0, zx=1.0, zy=1.0,
                           fill_mode: str = "nearest", cval: float = 0.0, order: int = 1):
    """Rotate, shift, shear and zoom one (H, W, C) image about its centre (Keras' function).

    Math (homogeneous 3×3, applied to output coordinates to find the input sample point):
        R = [[cos θ, −sin θ, 0], [sin θ, cos θ, 0], [0, 0, 1]]      θ in degrees
        T = [[1, 0, tx], [0, 1, ty], [0, 0, 1]]                       (tx rows, ty columns)
        S = [[1, −sin s, 0], [0, cos s, 0], [0, 0, 1]]
        Z = [[zx, 0, 0], [0, zy, 0], [0, 0, 1]]
        M = T(o)·(R·T·S·Z)·T(−o),  then rows/columns swapped (Keras' "x, y" convention)
        out[:, :, c] = scipy.ndimage.affine_transform(x[:, :, c], M[:2, :2], M[:2, 2])

    Shapes:
        x (H, W, C) → (H, W, C), same dtype.
    """
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(
            f"apply_affine_transform expected one image (H, W, C). Received: x.shape={x.shape}"
        )
    matrix = None

    def compose(m):
        return m if matrix is None else matrix @ m

    if theta != 0:
        t = np.deg2rad(theta)
        matrix = compose(np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0],
                                   [0, 0, 1]]))
    if tx != 0 or ty != 0:
        matrix = compose(np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]]))
    if shear != 0:
        s = np.deg2rad(shear)
        matrix = compose(np.array([[1, -np.sin(s), 0], [0, np.cos(s), 0], [0, 0, 1]]))
    if zx != 1 or zy != 1:
        matrix = compose(np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]]))
    if matrix is None:
        return x
    matrix = transform_matrix_offset_center(matrix, x.shape[0], x.shape[1])
    # Keras builds the matrix in (x, y) = (column, row) order; swap to NumPy's (row, column).
    matrix[:, [0, 1]] = matrix[:, [1, 0]]
    matrix[[0, 1]] = matrix[[1, 0]]
    channels = [ndimage.affine_transform(x[:, :, c], matrix[:2, :2], matrix[:2, 2],
                                         order=order, mode=fill_mode, cval=cval)
                for c in range(x.shape[2])]
    # Keras stacks channel-first and moves the axis back: keep its memory layout, so that
    # later reductions (samplewise_center) sum in the same order, bit for bit.
    return np.moveaxis(np.stack(channels, axis=0), 0, -1)


def apply_channel_shift(x: np.ndarray, intensity: float) -> np.ndarray:
    """Add `intensity` to every channel, clipped to the image's original [min, max]."""
    return np.clip(x + intensity, np.min(x), np.max(x))


# ------------------------------------------------------------------------------ generator
def _truthy(value) -> bool:
    """Keras' `if self.width_shift_range:` for numbers, lists and arrays."""
    return bool(np.size(value)) if isinstance(value, np.ndarray) else bool(value)


def _check_range(name: str, value) -> None:
    values = np.atleast_1d(np.asarray(value))
    if values.dtype.kind not in "fiu" or np.any(values < 0):
        raise ValueError(
            f"`{name}` expected a non-negative float, int or list of numbers. "
            f"Received: {name}={value!r}"
        )


class ImageDataGenerator:
    """Keras' (legacy) `ImageDataGenerator`: random augmentation plus normalization.

    Math:
        per image: draw (θ, tx, ty, shear, zx, zy, flips, channel shift) as described in
        the module docstring, warp with `apply_affine_transform`, flip, then standardize:
        x ← preprocessing_function(x); x ← x·rescale; x ← x − mean(x) (samplewise_center);
        x ← x/(std(x) + 1e-6) (samplewise_std_normalization); featurewise: the statistics
        of `fit(x)` (per channel).

    Args:
        rotation_range: degrees (int/float).
        width_shift_range, height_shift_range: fraction of the width/height (< 1), pixels
            (≥ 1), or an int / list of allowed pixel shifts.
        shear_range: shear angle in degrees.
        zoom_range: z (→ [1 − z, 1 + z]) or [lower, upper].
        channel_shift_range: range of a random shift added to every channel.
        fill_mode: "constant", "nearest" (default), "reflect" or "wrap".  cval: for "constant".
        horizontal_flip, vertical_flip: random flips.
        rescale: multiply every image by this factor (after the augmentation, as Keras does).
        preprocessing_function: applied to every image first in `standardize`.
        featurewise_center, featurewise_std_normalization, samplewise_center,
        samplewise_std_normalization: Keras' normalizations (featurewise ones need `fit`).
        data_format: "channels_last" only.  validation_split: fraction for `flow(subset=...)`.
        interpolation_order: spline order of the resampling (1 = bilinear).
        dtype: dtype of the batches (default `scratch.backend.floatx()`).

    Shapes:
        `flow` takes x (N, H, W, C) and yields (batch, H, W, C) [, y batch [, weights]].

    Raises:
        ValueError: an unknown fill_mode, a bad range or data_format, or zca_whitening /
            brightness_range (not implemented here).
    """

    def __init__(self, featurewise_center=False, samplewise_center=False,
                 featurewise_std_normalization=False, samplewise_std_normalization=False,
                 zca_whitening=False, zca_epsilon=1e-6, rotation_range=0,
                 width_shift_range=0.0, height_shift_range=0.0, brightness_range=None,
                 shear_range=0.0, zoom_range=0.0, channel_shift_range=0.0,
                 fill_mode="nearest", cval=0.0, horizontal_flip=False, vertical_flip=False,
                 rescale=None, preprocessing_function=None, data_format=None,
                 validation_split=0.0, interpolation_order=1, dtype=None):
        if zca_whitening or brightness_range is not None:
            raise ValueError(
                "scratch's ImageDataGenerator does not implement zca_whitening or "
                f"brightness_range. Received: zca_whitening={zca_whitening}, "
                f"brightness_range={brightness_range}"
            )
        if data_format not in (None, "channels_last"):
            raise ValueError(
                "`data_format` should be 'channels_last' (channel after row and column; "
                f"the only layout scratch supports). Received: {data_format}"
            )
        if fill_mode not in _FILL_MODES:
            raise ValueError(
                f"`fill_mode` expected one of {', '.join(map(repr, _FILL_MODES))}. "
                f"Received: fill_mode={fill_mode!r}"
            )
        for name, value in (("rotation_range", rotation_range),
                            ("width_shift_range", width_shift_range),
                            ("height_shift_range", height_shift_range),
                            ("shear_range", shear_range),
                            ("channel_shift_range", channel_shift_range)):
            _check_range(name, value)
        if isinstance(zoom_range, (float, int)) and not isinstance(zoom_range, bool):
            self.zoom_range = [1 - zoom_range, 1 + zoom_range]
        elif isinstance(zoom_range, (list, tuple)) and len(zoom_range) == 2 and all(
                isinstance(v, (float, int)) for v in zoom_range):
            self.zoom_range = [zoom_range[0], zoom_range[1]]
        else:
            raise ValueError(
                "`zoom_range` should be a float or a tuple or list of two floats. "
                f"Received: {zoom_range}"
            )
        if validation_split and not 0 < validation_split < 1:
            raise ValueError(
                f"`validation_split` must be strictly between 0 and 1.  Received: "
                f"{validation_split}"
            )
        self.featurewise_center = featurewise_center or featurewise_std_normalization
        self.featurewise_std_normalization = featurewise_std_normalization
        self.samplewise_center = samplewise_center or samplewise_std_normalization
        self.samplewise_std_normalization = samplewise_std_normalization
        self.zca_whitening, self.zca_epsilon = False, zca_epsilon
        self.rotation_range = rotation_range
        self.width_shift_range = width_shift_range
        self.height_shift_range = height_shift_range
        self.shear_range = shear_range
        self.channel_shift_range = channel_shift_range
        self.brightness_range = None
        self.fill_mode, self.cval = fill_mode, cval
        self.horizontal_flip, self.vertical_flip = horizontal_flip, vertical_flip
        self.rescale = rescale
        self.preprocessing_function = preprocessing_function
        self.data_format = "channels_last"
        self.row_axis, self.col_axis, self.channel_axis = 1, 2, 3
        self._validation_split = validation_split
        self.interpolation_order = interpolation_order
        self.dtype = backend.standardize_dtype(dtype)
        self.mean = self.std = None

    # -------------------------------------------------------------- random parameters
    @staticmethod
    def _shift(rng, value, size: int) -> float:
        if isinstance(value, (list, tuple, np.ndarray)) or (
                isinstance(value, (int, np.integer)) and not isinstance(value, bool)):
            shift = rng.choice(value) * rng.choice([-1, 1])  # a pixel count, random sign
        else:
            shift = rng.uniform(-value, value)
        if np.max(value) < 1:
            shift *= size
        return shift

    def get_random_transform(self, img_shape, seed=None, rng=None) -> dict:
        """Draw one image's transform parameters, in Keras' order.

        Args:
            img_shape: (H, W, C).
            seed: seeds a fresh generator (Keras' `seed`), overriding `rng`.
            rng: a `np.random.RandomState` (default: NumPy's global generator).

        Returns:
            dict with theta, tx, ty, shear, zx, zy, flip_horizontal, flip_vertical,
            channel_shift_intensity, brightness (Keras' keys).
        """
        if seed is not None:
            rng = np.random.RandomState(seed)
        rng = np.random.mtrand._rand if rng is None else rng
        theta = rng.uniform(-self.rotation_range, self.rotation_range) \
            if self.rotation_range else 0
        tx = self._shift(rng, self.height_shift_range, img_shape[0]) \
            if _truthy(self.height_shift_range) else 0
        ty = self._shift(rng, self.width_shift_range, img_shape[1]) \
            if _truthy(self.width_shift_range) else 0
        shear = rng.uniform(-self.shear_range, self.shear_range) if self.shear_range else 0
        if self.zoom_range[0] == 1 and self.zoom_range[1] == 1:
            zx, zy = 1, 1
        else:
            zx, zy = rng.uniform(self.zoom_range[0], self.zoom_range[1], 2)
        flip_horizontal = (rng.random_sample() < 0.5) * self.horizontal_flip
        flip_vertical = (rng.random_sample() < 0.5) * self.vertical_flip
        channel_shift = None
        if self.channel_shift_range != 0:
            channel_shift = rng.uniform(-self.channel_shift_range, self.channel_shift_range)
        return {"theta": theta, "tx": tx, "ty": ty, "shear": shear, "zx": zx, "zy": zy,
                "flip_horizontal": flip_horizontal, "flip_vertical": flip_vertical,
                "channel_shift_intensity": channel_shift, "brightness": None}

    def apply_transform(self, x: np.ndarray, params: dict) -> np.ndarray:
        """Apply drawn parameters to one (H, W, C) image: affine map, channel shift, flips."""
        x = apply_affine_transform(x, params.get("theta", 0), params.get("tx", 0),
                                   params.get("ty", 0), params.get("shear", 0),
                                   params.get("zx", 1), params.get("zy", 1),
                                   fill_mode=self.fill_mode, cval=self.cval,
                                   order=self.interpolation_order)
        if params.get("channel_shift_intensity") is not None:
            x = apply_channel_shift(x, params["channel_shift_intensity"])
        if params.get("flip_horizontal", False):
            x = flip_axis(x, 1)
        if params.get("flip_vertical", False):
            x = flip_axis(x, 0)
        return x

    def random_transform(self, x: np.ndarray, seed=None) -> np.ndarray:
        """One randomly augmented copy of the (H, W, C) image x."""
        return self.apply_transform(x, self.get_random_transform(np.shape(x), seed))

    def standardize(self, x: np.ndarray) -> np.ndarray:
        """Keras' normalization of an image or batch (in place where Keras does it)."""
        if self.preprocessing_function:
            x = self.preprocessing_function(x)
        if self.rescale:
            x *= self.rescale
        if self.samplewise_center:
            x -= np.mean(x, keepdims=True)
        if self.samplewise_std_normalization:
            x /= np.std(x, keepdims=True) + 1e-6
        for flag, stat, what in ((self.featurewise_center, self.mean, "featurewise_center"),
                                 (self.featurewise_std_normalization, self.std,
                                  "featurewise_std_normalization")):
            if flag and stat is None:
                warnings.warn(f"This ImageDataGenerator specifies `{what}`, but it hasn't "
                              "been fit on any training data. Fit it first by calling "
                              "`.fit(numpy_data)`.", UserWarning, stacklevel=2)
        if self.featurewise_center and self.mean is not None:
            x -= self.mean
        if self.featurewise_std_normalization and self.std is not None:
            x /= self.std + 1e-6
        return x

    def fit(self, x, augment=False, rounds=1, seed=None) -> None:
        """Per-channel mean/std of sample data for the featurewise normalizations.

        Shapes:
            x (N, H, W, C); mean and std become (1, 1, C).
        """
        x = np.array(x, dtype=self.dtype)
        if x.ndim != 4:
            raise ValueError(
                f"Input to `.fit()` should have rank 4. Got array with shape: {x.shape}"
            )
        rng = np.random.RandomState(seed) if seed is not None else None
        if self.rescale:
            x *= self.rescale
        if augment:
            x = np.stack([self.apply_transform(img, self.get_random_transform(img.shape,
                                                                              rng=rng))
                          for _ in range(rounds) for img in x]).astype(self.dtype)
        if self.featurewise_center:
            self.mean = np.mean(x, axis=(0, 1, 2)).reshape(1, 1, -1)
            x -= self.mean
        if self.featurewise_std_normalization:
            self.std = np.std(x, axis=(0, 1, 2)).reshape(1, 1, -1)

    def flow(self, x, y=None, batch_size=32, shuffle=True, sample_weight=None, seed=None,
             subset=None, ignore_class_split=False, **kwargs) -> NumpyArrayIterator:
        """An endless iterator of augmented batches (x_batch, y_batch[, weights])."""
        for key in ("save_to_dir",):
            if kwargs.get(key):
                raise ValueError(f"scratch's flow does not support `{key}`.")
        return NumpyArrayIterator(x, y, self, batch_size=batch_size, shuffle=shuffle,
                                  sample_weight=sample_weight, seed=seed, subset=subset,
                                  ignore_class_split=ignore_class_split)

    def flow_from_directory(self, directory, target_size=(256, 256), color_mode="rgb",
                            classes=None, class_mode="categorical", batch_size=32, shuffle=True,
                            seed=None, save_to_dir=None, save_prefix="", save_format="png",
                            follow_links=False, subset=None, interpolation="nearest",
                            keep_aspect_ratio=False) -> DirectoryIterator:
        """An endless iterator of augmented batches read from a folder of class folders.

        `directory/<class>/.../*.png|jpg|jpeg|bmp|ppm|tif|tiff`: one class per sub-folder
        (sorted names, or `classes`), every image loaded with `load_img(target_size,
        color_mode, interpolation)`, then augmented and standardized as in `flow`. Batches are
        (x (batch, H, W, C), y) with y by `class_mode`: "categorical" (one-hot), "binary" or
        "sparse" (the class index, floatx), "input" (x itself) or None (x alone). With
        `validation_split` on the generator, `subset="validation"` takes the first
        `validation_split` of each class's files and `"training"` the rest, as Keras.
        """
        if save_to_dir:
            raise ValueError("scratch's flow_from_directory does not support `save_to_dir`.")
        return DirectoryIterator(directory, self, target_size=target_size,
                                 color_mode=color_mode, classes=classes, class_mode=class_mode,
                                 batch_size=batch_size, shuffle=shuffle, seed=seed,
                                 follow_links=follow_links, subset=subset,
                                 interpolation=interpolation,
                                 keep_aspect_ratio=keep_aspect_ratio)

    def flow_from_dataframe(self, dataframe, directory=None, x_col="filename", y_col="class",
                            weight_col=None, target_size=(256, 256), color_mode="rgb",
                            classes=None, class_mode="categorical", batch_size=32,
                            shuffle=True, seed=None, save_to_dir=None, save_prefix="",
                            save_format="png", subset=None, interpolation="nearest",
                            validate_filenames=True, **kwargs):
        """An endless iterator of augmented batches of the image files a DataFrame lists.

        `dataframe[x_col]` holds file names (joined to `directory` when given), `y_col` the
        targets as `class_mode` reads them ("categorical": a class name or a list of them,
        "binary"/"sparse": a class name, "raw": any values (a list of columns too),
        "multi_output": a list of columns, "input" or None: no targets); `weight_col` a
        per-image sample weight. Images and batches as `flow_from_directory`; the rules
        (checks, filtering, the split): `image_dataframe.DataFrameIterator`. The DataFrame is
        the user's pandas DataFrame: scratch reads its columns and never imports pandas.
        """
        from .image_dataframe import DataFrameIterator

        for key, what in (("has_ext", "filenames in the dataframe have to match the exact "
                                      "filenames on disk"),
                          ("sort", "batches come in the order of the filenames when "
                                   "`shuffle` is False"),
                          ("drop_duplicates", "drop duplicates with the DataFrame's "
                                              "drop_duplicates method")):
            if key in kwargs:
                warnings.warn(f"{key} is deprecated: {what}.", DeprecationWarning,
                              stacklevel=2)
        if class_mode == "other":
            warnings.warn('`class_mode="other"` is deprecated, please use `class_mode="raw"`.',
                          DeprecationWarning, stacklevel=2)
            class_mode = "raw"
        if save_to_dir:
            raise ValueError("scratch's flow_from_dataframe does not support `save_to_dir`.")
        return DataFrameIterator(dataframe, directory, self, x_col=x_col, y_col=y_col,
                                 weight_col=weight_col, target_size=target_size,
                                 color_mode=color_mode, classes=classes,
                                 class_mode=class_mode, batch_size=batch_size,
                                 shuffle=shuffle, seed=seed, subset=subset,
                                 interpolation=interpolation,
                                 validate_filenames=validate_filenames)


class _BatchIterator:
    """What Keras' legacy `Iterator` does for both iterators: the order and the random stream.

    Iterating (`next(it)`) walks the samples in batches forever, reshuffling at the start of
    every pass when `shuffle`; the last batch of a pass is smaller when n % batch_size ≠ 0.
    `len(it)` = ⌈n / batch_size⌉ (the default steps_per_epoch), `it[i]` is batch i of the
    current order (Keras' Sequence protocol), and `on_epoch_end()` reshuffles. A subclass
    sets n, batch_size, shuffle, seed and writes `_batch(index_array, rng)`.
    """

    def _start(self, n: int, batch_size, shuffle, seed) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(
                f"`batch_size` must be a positive integer. Received: batch_size={batch_size!r}"
            )
        self.n, self.batch_size = n, int(batch_size)
        self.shuffle, self.seed = bool(shuffle), seed
        self.batch_index = 0
        self.total_batches_seen = 0
        self.index_array = None
        self.lock = threading.Lock()

    def _rng(self):
        """The generator of the next batch: seeded with seed + batches seen (Keras' stream)."""
        if self.seed is None:
            return np.random.mtrand._rand
        return np.random.RandomState(self.seed + self.total_batches_seen)

    def _set_index_array(self, rng) -> None:
        self.index_array = rng.permutation(self.n) if self.shuffle else np.arange(self.n)

    def __len__(self) -> int:
        return (self.n + self.batch_size - 1) // self.batch_size

    def reset(self) -> None:
        self.batch_index = 0

    def on_epoch_end(self) -> None:
        self._set_index_array(np.random.mtrand._rand)

    def __iter__(self):
        return self

    def __next__(self):
        with self.lock:
            rng = self._rng()
            if self.batch_index == 0:
                self._set_index_array(rng)
            current = (self.batch_index * self.batch_size) % self.n if self.n else 0
            if self.n > current + self.batch_size:
                self.batch_index += 1
            else:
                self.batch_index = 0
            self.total_batches_seen += 1
            index_array = self.index_array[current:current + self.batch_size]
        return self._batch(index_array, rng)

    def __getitem__(self, idx: int):
        if idx >= len(self):
            raise ValueError(f"Asked to retrieve element {idx}, but the Sequence has length "
                             f"{len(self)}")
        rng = self._rng()
        self.total_batches_seen += 1
        if self.index_array is None:
            self._set_index_array(rng)
        return self._batch(self.index_array[self.batch_size * idx:self.batch_size * (idx + 1)],
                           rng)

    def _batch(self, index_array, rng):
        raise NotImplementedError


class NumpyArrayIterator(_BatchIterator):
    """Batches of augmented images from arrays: Keras' legacy `NumpyArrayIterator`.

    The batches come in the order of `_BatchIterator` (Keras' `Iterator`).

    Shapes:
        x (N, H, W, C); y (N, ...) or None; sample_weight (N,) or None.
    """

    def __init__(self, x, y, image_data_generator: ImageDataGenerator, batch_size=32,
                 shuffle=False, sample_weight=None, seed=None, subset=None,
                 ignore_class_split=False):
        self.dtype = image_data_generator.dtype
        if y is not None and len(x) != len(y):
            raise ValueError(
                "`x` (images tensor) and `y` (labels) should have the same length. Found: "
                f"x.shape = {np.asarray(x).shape}, y.shape = {np.asarray(y).shape}"
            )
        if sample_weight is not None and len(x) != len(sample_weight):
            raise ValueError(
                "`x` (images tensor) and `sample_weight` should have the same length. Found: "
                f"x.shape = {np.asarray(x).shape}, sample_weight.shape = "
                f"{np.asarray(sample_weight).shape}"
            )
        if subset is not None:
            if subset not in ("training", "validation"):
                raise ValueError(f"Invalid subset name: {subset}; expected \"training\" or "
                                 "\"validation\".")
            split = int(len(x) * image_data_generator._validation_split)
            if y is not None and not ignore_class_split and not np.array_equal(
                    np.unique(y[:split]), np.unique(y[split:])):
                raise ValueError(
                    "Training and validation subsets have different number of classes after "
                    "the split. If your numpy arrays are sorted by the label, you might want "
                    "to shuffle them."
                )
            part = slice(None, split) if subset == "validation" else slice(split, None)
            x = x[part]
            y = None if y is None else y[part]
            sample_weight = None if sample_weight is None else sample_weight[part]
        self.x = np.asarray(x, dtype=self.dtype)
        if self.x.ndim != 4:
            hint = " (add the channel axis: np.expand_dims(x, -1))" if self.x.ndim == 3 else ""
            raise ValueError(
                "Input data in `NumpyArrayIterator` should have rank 4. You passed an array "
                f"with shape {self.x.shape}{hint}"
            )
        self.y = None if y is None else np.asarray(y)
        self.sample_weight = None if sample_weight is None else np.asarray(sample_weight)
        self.image_data_generator = image_data_generator
        self._start(len(self.x), batch_size, shuffle, seed)

    def _batch(self, index_array, rng):
        gen = self.image_data_generator
        batch_x = np.zeros((len(index_array),) + self.x.shape[1:], dtype=self.dtype)
        for i, j in enumerate(index_array):
            params = gen.get_random_transform(self.x[j].shape, rng=rng)
            # a copy (as Keras' astype): standardize() works in place and must never
            # touch the stored images, even when no transform was drawn
            batch_x[i] = gen.standardize(gen.apply_transform(self.x[j].astype(self.dtype),
                                                             params))
        if self.y is None:
            return batch_x
        out = (batch_x, self.y[index_array])
        if self.sample_weight is not None:
            out += (self.sample_weight[index_array],)
        return out


_IMAGE_SUFFIXES = ("png", "jpg", "jpeg", "bmp", "ppm", "tif", "tiff")


def _class_files(directory, split, follow_links):
    """The image files under one class folder, sorted as Keras walks them (folders by path,
    files by name), relative to the parent; with `split` = (a, b) the fraction [a, b)."""
    walk = sorted(os.walk(directory, followlinks=follow_links), key=lambda w: w[0])
    files = [os.path.join(root, f) for root, _, names in walk for f in sorted(names)
             if f.lower().endswith(_IMAGE_SUFFIXES)]
    if split:
        files = files[int(split[0] * len(files)):int(split[1] * len(files))]
    name = os.path.basename(directory)
    return [os.path.join(name, os.path.relpath(f, directory)) for f in files]


class FileBatchIterator(_BatchIterator):
    """What Keras' `BatchFromFilesMixin` does for the iterators that read image files
    (`DirectoryIterator`, `DataFrameIterator`): the image settings, the subset's fraction,
    and a batch made of the files `filepaths[j]` and the targets of `class_mode`.

    A subclass sets `filepaths`, `classes` (a class index, or a list of them, per file),
    `class_indices`, `class_mode`, `sample_weight` and `labels`.

    Shapes:
        x (batch, target_h, target_w, C) with C = 3 (rgb), 4 (rgba) or 1 (grayscale);
        y (batch, num_classes) for "categorical" (several ones for a list of classes),
        (batch,) for "binary"/"sparse", x itself for "input", labels[index] for "raw",
        a list of them for "multi_output"; no y for None.
    """

    sample_weight = None

    def _set_processing(self, image_data_generator, target_size, color_mode, subset,
                        interpolation, keep_aspect_ratio, dtype) -> None:
        if color_mode not in ("rgb", "rgba", "grayscale"):
            raise ValueError(f"Invalid color mode: {color_mode}; expected \"rgb\", \"rgba\", "
                             "or \"grayscale\".")
        split = None
        if subset is not None:
            fraction = image_data_generator._validation_split
            if subset not in ("training", "validation"):
                raise ValueError(f"Invalid subset name: {subset};expected \"training\" or "
                                 "\"validation\"")
            split = (0, fraction) if subset == "validation" else (fraction, 1)
        self.image_data_generator = image_data_generator
        self.subset, self.split = subset, split
        self.target_size = tuple(target_size)
        self.color_mode = color_mode
        self.interpolation, self.keep_aspect_ratio = interpolation, keep_aspect_ratio
        self.image_shape = self.target_size + ({"rgb": 3, "rgba": 4, "grayscale": 1}[color_mode],)
        self.dtype = image_data_generator.dtype if dtype is None else \
            backend.standardize_dtype(dtype)

    def _batch(self, index_array, rng):
        gen = self.image_data_generator
        batch_x = np.zeros((len(index_array),) + self.image_shape, dtype=self.dtype)
        for i, j in enumerate(index_array):
            img = load_img(self.filepaths[j], color_mode=self.color_mode,
                           target_size=self.target_size, interpolation=self.interpolation,
                           keep_aspect_ratio=self.keep_aspect_ratio)
            x = img_to_array(img)
            img.close()
            params = gen.get_random_transform(x.shape, rng=rng)
            batch_x[i] = gen.standardize(gen.apply_transform(x, params))
        mode = self.class_mode
        if mode is None:
            return batch_x
        if mode == "input":
            batch_y = batch_x.copy()
        elif mode in ("binary", "sparse"):
            batch_y = np.array([self.classes[j] for j in index_array], dtype=self.dtype)
        elif mode == "categorical":
            batch_y = np.zeros((len(batch_x), len(self.class_indices)), dtype=self.dtype)
            for i, j in enumerate(index_array):
                batch_y[i, self.classes[j]] = 1.0
        elif mode == "multi_output":
            batch_y = [target[index_array] for target in self.labels]
        else:  # "raw"
            batch_y = self.labels[index_array]
        if self.sample_weight is None:
            return batch_x, batch_y
        return batch_x, batch_y, self.sample_weight[index_array]


class DirectoryIterator(FileBatchIterator):
    """Batches of augmented images read from class folders: Keras' legacy `DirectoryIterator`.

    Attributes (as Keras): `filenames` (relative to `directory`), `filepaths`, `classes`
    (int32 class index per file), `class_indices` ({name: index}), `num_classes`, `samples`,
    `image_shape`. Batches come in the order of `_BatchIterator`; the images are read when
    their batch is made (`FileBatchIterator`).
    """

    allowed_class_modes = {"categorical", "binary", "sparse", "input", None}

    def __init__(self, directory, image_data_generator: ImageDataGenerator,
                 target_size=(256, 256), color_mode="rgb", classes=None,
                 class_mode="categorical", batch_size=32, shuffle=True, seed=None,
                 follow_links=False, subset=None, interpolation="nearest",
                 keep_aspect_ratio=False, dtype=None):
        self._set_processing(image_data_generator, target_size, color_mode, subset,
                             interpolation, keep_aspect_ratio, dtype)
        if class_mode not in self.allowed_class_modes:
            raise ValueError(f"Invalid class_mode: {class_mode}; expected one of: "
                             f"{self.allowed_class_modes}")
        self.directory, self.class_mode = directory, class_mode
        if not classes:
            classes = [d for d in sorted(os.listdir(directory))
                       if os.path.isdir(os.path.join(directory, d))]
        self.num_classes = len(classes)
        self.class_indices = dict(zip(classes, range(len(classes))))
        self.filenames, labels = [], []
        for name in classes:
            found = _class_files(os.path.join(directory, name), self.split, follow_links)
            self.filenames += found
            labels += [self.class_indices[name]] * len(found)
        self.samples = len(self.filenames)
        self.classes = np.array(labels, dtype="int32")
        print(f"Found {self.samples} images belonging to {self.num_classes} classes.")
        self.filepaths = [os.path.join(directory, f) for f in self.filenames]
        self._start(self.samples, batch_size, shuffle, seed)

    @property
    def labels(self):
        return self.classes
