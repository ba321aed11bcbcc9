"""`image_dataset_from_directory`: Keras' folder-of-classes loader, as NumPy batches."""

from __future__ import annotations

import os

import numpy as np

from ..preprocessing.image_files import decode_like_tf, resize_like_tf

ALLOWLIST_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


class ImageDataset:
    """Batches (x float32 (B, H, W, C)[, y]) of images read from disk, re-iterable.

    `class_names` and `file_paths` as on Keras' dataset; `len(ds)` batches per pass; every
    `iter(ds)` is one pass (an epoch), in a new order when `shuffle` (from the seed).
    """

    def __init__(self, file_paths, labels, label_mode, class_names, image_size, channels,
                 interpolation, batch_size, shuffle, seed):
        self.file_paths, self.class_names = list(file_paths), class_names
        self._labels = None if labels is None else np.asarray(labels, dtype="int32")
        self._label_mode, self._image_size, self._channels = label_mode, image_size, channels
        self._interpolation, self._batch_size = interpolation, batch_size
        self._shuffle, self._rng = shuffle, np.random.RandomState(seed)

    def __len__(self):
        if self._batch_size is None:
            return len(self.file_paths)
        return -(-len(self.file_paths) // self._batch_size)

    def _y(self, index):
        label = self._labels[index]
        if self._label_mode == "binary":
            return label.astype("float32")[..., None]
        if self._label_mode == "categorical":
            return np.eye(len(self.class_names), dtype="float32")[label]
        return label

    def _x(self, index):
        return np.stack([resize_like_tf(decode_like_tf(self.file_paths[i], self._channels),
                                        self._image_size, self._interpolation) for i in index])

    def __iter__(self):
        order = np.arange(len(self.file_paths))
        if self._shuffle:
            self._rng.shuffle(order)
        step = self._batch_size or 1
        for start in range(0, len(order), step):
            index = order[start:start + step]
            x = self._x(index)
            if self._batch_size is None:
                x, index = x[0], index[0]
            yield x if self._label_mode is None else (x, self._y(index))


def _index_directory(directory, labels, class_names, shuffle, seed, follow_links):
    """(file paths, int32 labels or None, class names), in Keras' `index_directory` order."""
    if labels == "inferred":
        subdirs = [d for d in sorted(os.listdir(directory))
                   if os.path.isdir(os.path.join(directory, d)) and not d.startswith(".")]
        if class_names is not None:
            if not set(class_names).issubset(subdirs):
                raise ValueError("The `class_names` passed did not match the names of the "
                                 f"subdirectories of the target directory. Expected: {subdirs} "
                                 f"(or a subset of it), but received: class_names={class_names}")
            subdirs = list(class_names)
    else:
        subdirs = [""]
    names, found = [], []
    for index, sub in enumerate(subdirs):
        folder = os.path.join(directory, sub)
        walk = sorted(os.walk(folder, followlinks=follow_links), key=lambda w: w[0])
        for root, _, files in walk:
            for f in sorted(files):
                if f.lower().endswith(ALLOWLIST_FORMATS):
                    names.append(os.path.join(os.path.basename(folder),
                                              os.path.relpath(os.path.join(root, f), folder)))
                    found.append(index)
    if labels == "inferred":
        labels = np.array(found, dtype="int32")
    elif labels is None:
        subdirs = None
    else:
        if len(labels) != len(names):
            raise ValueError("Expected the lengths of `labels` to match the number of files in "
                             f"the target directory. len(labels) is {len(labels)} while we "
                             f"found {len(names)} files in directory {directory}.")
        subdirs = [str(label) for label in sorted(set(labels))]
    if labels is None:
        print(f"Found {len(names)} files.")
    else:
        print(f"Found {len(names)} files belonging to {len(subdirs)} classes.")
    paths = [os.path.join(directory, n) for n in names]
    if shuffle:
        np.random.RandomState(seed).shuffle(paths)
        if labels is not None:
            labels = np.array(labels)
            np.random.RandomState(seed).shuffle(labels)
    return paths, labels, subdirs


def _split(paths, labels, validation_split, subset):
    if not validation_split:
        return paths, labels
    n_val = int(validation_split * len(paths))
    if subset == "training":
        print(f"Using {len(paths) - n_val} files for training.")
        part = slice(None, -n_val)
    elif subset == "validation":
        print(f"Using {n_val} files for validation.")
        part = slice(-n_val, None)
    else:
        raise ValueError(f'`subset` must be either "training" or "validation", received: '
                         f"{subset}")
    return paths[part], None if labels is None else labels[part]


def image_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                 class_names=None, color_mode="rgb", batch_size=32,
                                 image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None, interpolation="bilinear",
                                 follow_links=False, crop_to_aspect_ratio=False,
                                 pad_to_aspect_ratio=False, data_format=None, verbose=True):
    """Images in class folders as an iterable of NumPy batches, as `keras.utils.
    image_dataset_from_directory`.

    The files, their order, the class names, the labels and the training/validation split
    are Keras' (the same `np.random.RandomState(seed)` shuffle of the file list), and each
    image is decoded and resized as `tf.image.resize` does (bilinear or nearest with
    half-pixel centres). Batches: x (B, H, W, C) float32 (uint8 with "nearest", as TF) and
    y int32 (B,) ("int"), float32 (B, num_classes) ("categorical") or float32 (B, 1)
    ("binary"); x alone for `label_mode=None`. JPEG pixels can differ from TF's by a few
    levels (TF decodes with libjpeg's fast integer IDCT, Pillow with the accurate one), and
    so can colour images read as "grayscale" (Pillow's and libpng's/libjpeg's conversions).

    How it differs from Keras' tf.data dataset: it is a plain Python iterable of NumPy arrays
    (`fit` takes it as it takes a generator; no `.map`, `.cache`, `.prefetch` or
    `.unbatch`), the images are read in the main thread when their batch is made, and with
    `shuffle=True` each pass is shuffled with a NumPy generator seeded from `seed` instead of
    tf.data's shuffle buffer (`batch_size * 8` files): the same files and labels in every
    pass, in another order than tf.keras'. `crop_to_aspect_ratio`, `pad_to_aspect_ratio` and
    interpolations other than "bilinear"/"nearest" are not implemented.

    Returns:
        An `ImageDataset` with `class_names` and `file_paths`, or a list [training,
        validation] for `subset="both"`.
    """
    del verbose
    if data_format not in (None, "channels_last"):
        raise ValueError("`data_format` should be 'channels_last'. "
                         f"Received: data_format={data_format}")
    if crop_to_aspect_ratio or pad_to_aspect_ratio:
        raise ValueError("scratch's image_dataset_from_directory does not implement "
                         "crop_to_aspect_ratio or pad_to_aspect_ratio.")
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple)):
            raise ValueError("`labels` argument should be a list/tuple of integer labels, of "
                             "the same size as the number of image files in the target "
                             f"directory. Received: labels={labels}")
        if class_names:
            raise ValueError('You can only pass `class_names` if `labels="inferred"`. '
                             f"Received: labels={labels}, and class_names={class_names}")
    if label_mode not in ("int", "categorical", "binary", None):
        raise ValueError('`label_mode` argument must be one of "int", "categorical", '
                         f'"binary", or None. Received: label_mode={label_mode}')
    if labels is None or label_mode is None:
        labels = label_mode = None
    channels = {"rgb": 3, "rgba": 4, "grayscale": 1}.get(color_mode)
    if channels is None:
        raise ValueError('`color_mode` must be one of {"rgb", "rgba", "grayscale"}. '
                         f"Received: color_mode={color_mode}")
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    elif not isinstance(image_size, (list, tuple)) or len(image_size) != 2:
        raise ValueError("Invalid `image_size` value. Expected a tuple of 2 integers. "
                         f"Received: image_size={image_size}")
    interpolation = interpolation.lower()
    if validation_split is not None and not 0 < validation_split < 1:
        raise ValueError("`validation_split` must be between 0 and 1, received: "
                         f"{validation_split}")
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError("If `subset` is set, `validation_split` must be set, and inversely.")
    if subset not in ("training", "validation", "both", None):
        raise ValueError('`subset` must be either "training", "validation" or "both", '
                         f"received: {subset}")
    if validation_split and shuffle and seed is None:
        raise ValueError("If using `validation_split` and shuffling the data, you must "
                         "provide a `seed` argument, to make sure that there is no overlap "
                         "between the training and validation subset.")
    if seed is None:
        seed = np.random.randint(1e6)   # noqa: NPY002 (Keras draws it from the global state)
    paths, labels, class_names = _index_directory(directory, labels, class_names, shuffle,
                                                  seed, follow_links)
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError('When passing `label_mode="binary"`, there must be exactly 2 '
                         f"class_names. Received: class_names={class_names}")

    def dataset(part, shuffled):
        p, y = _split(paths, labels, validation_split, part)
        if not p:
            raise ValueError(f"No images found in directory {directory}. Allowed formats: "
                             f"{ALLOWLIST_FORMATS}")
        return ImageDataset(p, y, label_mode, class_names, tuple(image_size), channels,
                            interpolation, batch_size, shuffled, seed)

    if subset == "both":
        return [dataset("training", shuffle), dataset("validation", False)]
    return dataset(subset, shuffle)
