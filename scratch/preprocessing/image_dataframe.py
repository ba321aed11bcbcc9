"""`ImageDataGenerator.flow_from_dataframe`'s iterator: Keras' legacy `DataFrameIterator`.

A DataFrame lists the images (a column of file names) and their targets, where
`flow_from_directory` (Lectures 63–67) reads the classes from sub-folders::

    df = pd.DataFrame({"filename": ["0_808.jpg", "1_616.jpg", ...],
                       "class": ["nonfood", "food", ...]})
    train_generator = gen.flow_from_dataframe(df, directory="Food-5K/training",
                                              target_size=(200, 200), batch_size=128)

What Keras does, in its order (keras/src/legacy/preprocessing/image.py):

1. checks the columns against `class_mode` (TypeError / ValueError, nothing read yet);
2. with `validate_filenames`, keeps the rows whose `directory/filename` is a file with an
   image extension (png, jpg, jpeg, bmp, ppm, tif, tiff), warning how many it dropped;
3. for the class modes ("categorical", "binary", "sparse"): the classes are `classes` (their
   order, duplicates dropped; rows with no class in it are dropped, lists keep the classes in
   it) or else every label found, sorted; `class_indices` = {name: index};
4. with `subset` (the generator's `validation_split` = v): rows [0, int(v·n)) are
   "validation", [int(v·n), n) "training", in the DataFrame's order (no shuffling first);
5. `classes` (one index per row, a list of them for multi-label rows), `filenames`,
   `sample_weight` (weight_col), `labels` ("raw": the y_col values, "multi_output": one
   array per column), printed as "Found N validated image filenames belonging to K classes.".

The DataFrame is only read through its columns (`df[col]`), so pandas is the caller's
dependency, not scratch's.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from .image import _IMAGE_SUFFIXES, FileBatchIterator


def _column(df, col) -> list:
    """The column's values as a Python list (a DataFrame's or any mapping of sequences)."""
    return list(df[col])


class DataFrameIterator(FileBatchIterator):
    """Batches of augmented images listed in a DataFrame (see the module docstring).

    Attributes (as Keras): `filenames` (as in x_col), `filepaths` (joined to `directory`),
    `classes` (a list: one class index per image, or a list of them), `class_indices`,
    `labels`, `sample_weight`, `samples`, `image_shape`.
    """

    allowed_class_modes = {"binary", "categorical", "input", "multi_output", "raw", "sparse",
                           None}

    def __init__(self, dataframe, directory=None, image_data_generator=None, x_col="filename",
                 y_col="class", weight_col=None, target_size=(256, 256), color_mode="rgb",
                 classes=None, class_mode="categorical", batch_size=32, shuffle=True,
                 seed=None, subset=None, interpolation="nearest", keep_aspect_ratio=False,
                 dtype=None, validate_filenames=True):
        self._set_processing(image_data_generator, target_size, color_mode, subset,
                             interpolation, keep_aspect_ratio, dtype)
        self.directory = directory or ""
        self.class_mode = class_mode
        self._check_params(dataframe, x_col, y_col, weight_col, classes)
        names = _column(dataframe, x_col)
        rows = list(range(len(names)))
        if validate_filenames:
            rows = self._valid_rows(names, x_col)
        with_classes = class_mode not in ("input", "multi_output", "raw", None)
        if with_classes:
            labels = _column(dataframe, y_col)
            rows, classes, labels = self._filter_classes(rows, labels, classes, y_col)
            self.class_indices = dict(zip(classes, range(len(classes))))
        if self.split:
            start, stop = (int(f * len(rows)) for f in self.split)
            rows = rows[start:stop]
        if with_classes:
            self.classes = [self._class_index(labels[r]) for r in rows]
        self.filenames = [names[r] for r in rows]
        self.sample_weight = None if weight_col is None else \
            np.asarray(dataframe[weight_col])[rows]
        if class_mode == "multi_output":
            self._targets = [np.array(_column(dataframe, col))[rows] for col in y_col]
        if class_mode == "raw":
            self._targets = np.asarray(dataframe[y_col])[rows]
        self.samples = len(self.filenames)
        found = f"Found {self.samples} {'validated' if validate_filenames else 'non-validated'}"
        print(f"{found} image filenames." if not with_classes else
              f"{found} image filenames belonging to {len(classes)} classes.")
        self.filepaths = [os.path.join(self.directory, f) for f in self.filenames]
        self._start(self.samples, batch_size, shuffle, seed)

    @property
    def labels(self):
        return self._targets if self.class_mode in ("multi_output", "raw") else self.classes

    def _check_params(self, df, x_col, y_col, weight_col, classes) -> None:
        """Keras' checks of the columns against `class_mode`, before anything is read."""
        mode = self.class_mode
        if mode not in self.allowed_class_modes:
            raise ValueError(f"Invalid class_mode: {mode}; expected one of: "
                             f"{self.allowed_class_modes}")
        if mode == "multi_output" and not isinstance(y_col, list):
            raise TypeError(f'If class_mode="{mode}", y_col must be a list. Received '
                            f"{type(y_col).__name__}.")
        if not all(isinstance(v, str) for v in _column(df, x_col)):
            raise TypeError(f"All values in column x_col={x_col} must be strings.")
        if mode in ("binary", "sparse") and \
                not all(isinstance(v, str) for v in _column(df, y_col)):
            raise TypeError(f'If class_mode="{mode}", y_col="{y_col}" column values must be '
                            "strings.")
        if mode == "binary":
            if classes:
                if len(set(classes)) != 2:
                    raise ValueError('If class_mode="binary" there must be 2 classes. '
                                     f"{len(set(classes))} class/es were given.")
            elif len(set(_column(df, y_col))) != 2:
                raise ValueError('If class_mode="binary" there must be 2 classes. Found '
                                 f"{len(set(_column(df, y_col)))} classes.")
        if mode == "categorical" and \
                not all(isinstance(v, (str, list, tuple)) for v in _column(df, y_col)):
            raise TypeError(f'If class_mode="{mode}", y_col="{y_col}" column values must be '
                            "type string, list or tuple.")
        if classes and mode in ("input", "multi_output", "raw", None):
            warnings.warn(f'`classes` will be ignored given the class_mode="{mode}"',
                          UserWarning, stacklevel=4)
        if weight_col and not np.issubdtype(np.asarray(df[weight_col]).dtype, np.number):
            raise TypeError(f"Column weight_col={weight_col} must be numeric.")

    def _valid_rows(self, names: list, x_col) -> list:
        """The rows whose file exists and has an image extension; a warning for the rest."""
        rows = [r for r, name in enumerate(names)
                if name.lower().endswith(_IMAGE_SUFFIXES)
                and os.path.isfile(os.path.join(self.directory, name))]
        if len(rows) < len(names):
            warnings.warn(f'Found {len(names) - len(rows)} invalid image filename(s) in '
                          f'x_col="{x_col}". These filename(s) will be ignored.',
                          UserWarning, stacklevel=4)
        return rows

    @staticmethod
    def _filter_classes(rows: list, labels: list, classes, y_col):
        """The classes (given: their order without repeats; else all labels found, sorted),
        the rows left with at least one of them, and each row's labels within them."""
        if classes:
            classes = list(dict.fromkeys(classes))
            wanted = set(classes)

            def keep(label):
                if isinstance(label, (list, tuple)):
                    return [c for c in label if c in wanted] or None
                if isinstance(label, str):
                    return label if label in wanted else None
                raise TypeError(f"Expect string, list or tuple but found {type(label)} in "
                                f"{y_col} column ")

            labels = list(labels)
            for r in rows:
                labels[r] = keep(labels[r])
        else:
            found = set()
            for label in (labels[r] for r in rows):
                found.update(label if isinstance(label, (list, tuple)) else [label])
            classes = sorted(found)
        return [r for r in rows if labels[r] is not None], classes, labels

    def _class_index(self, label):
        if isinstance(label, (list, tuple)):
            return [self.class_indices[c] for c in label]
        return self.class_indices[label]
