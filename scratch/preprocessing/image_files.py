"""Images from and to disk, as `keras.utils.load_img` & co. (course Lectures 63–67).

Pillow does the decoding, encoding and resizing, as in Keras; it is imported inside the
functions (the engine does not depend on it: `pip install 'scratch[images]'`).

`resize_like_tf` is the other resampler: what `tf.image.resize` computes (bilinear and
nearest with half-pixel centres, no antialiasing), used by `image_dataset_from_directory`,
whose Keras version decodes and resizes with TensorFlow instead of Pillow.
"""

from __future__ import annotations

import io
import pathlib
import warnings

import numpy as np

from .. import backend

_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")


def _pil():
    try:
        from PIL import Image
    except ImportError as e:
        raise ImportError("Reading and writing images needs Pillow: pip install Pillow (or "
                          "pip install 'scratch[images]').") from e
    return Image


def _channels_last(data_format):
    if data_format not in (None, "channels_last"):
        raise ValueError("`data_format` should be 'channels_last' (the only layout scratch "
                         f"supports). Received: data_format={data_format}")


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest",
             keep_aspect_ratio=False):
    """Read an image file into a PIL image, as `keras.utils.load_img`.

    Args:
        path: a path (str, bytes, pathlib.Path) or an `io.BytesIO`.
        color_mode: "rgb", "rgba" or "grayscale" (16- and 32-bit grayscale stay as they are).
        target_size: (height, width) to resize to, or None for the file's size.
        interpolation: Pillow's resampling: "nearest" (Keras' default), "bilinear",
            "bicubic", "hamming", "box" or "lanczos".
        keep_aspect_ratio: crop the centre to the target's aspect ratio before resizing.

    Returns:
        A PIL image (`img_to_array` turns it into a (H, W, C) array).
    """
    Image = _pil()
    if isinstance(path, io.BytesIO):
        img = Image.open(path)
    elif isinstance(path, (pathlib.Path, bytes, str)):
        if isinstance(path, pathlib.Path):
            path = str(path.resolve())
        with open(path, "rb") as f:
            img = Image.open(io.BytesIO(f.read()))
    else:
        raise TypeError(f"path should be path-like or io.BytesIO, not {type(path)}")
    if color_mode == "grayscale":
        if img.mode not in ("L", "I;16", "I"):
            img = img.convert("L")
    elif color_mode in ("rgba", "rgb"):
        if img.mode != color_mode.upper():
            img = img.convert(color_mode.upper())
    else:
        raise ValueError('color_mode must be "grayscale", "rgb", or "rgba"')
    if target_size is None:
        return img
    size = (target_size[1], target_size[0])   # Pillow counts (width, height)
    if img.size == size:
        return img
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"Invalid interpolation method {interpolation} specified. Supported "
                         f"methods are {', '.join(_INTERPOLATIONS)}")
    resample = getattr(Image.Resampling, interpolation.upper())
    if not keep_aspect_ratio:
        return img.resize(size, resample)
    width, height = img.size
    crop_h = min(height, width * size[1] // size[0])
    crop_w = min(width, height * size[0] // size[1])
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    return img.resize(size, resample, box=[left, top, left + crop_w, top + crop_h])


def img_to_array(img, data_format=None, dtype=None):
    """A PIL image (or array) as a (H, W, C) array of `dtype` (default floatx), as Keras."""
    _channels_last(data_format)
    x = np.asarray(img, dtype=backend.floatx() if dtype is None else dtype)
    if x.ndim == 2:
        return x.reshape(x.shape[0], x.shape[1], 1)
    if x.ndim != 3:
        raise ValueError(f"Unsupported image shape: {x.shape}")
    return x


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A (H, W, C) array (C = 1, 3 or 4) as a PIL image, as Keras.

    With `scale` the values are mapped linearly onto [0, 255] (min → 0, max → 255); then they
    are cast to uint8 (or to 32-bit "I" for one channel above 255).
    """
    _channels_last(data_format)
    Image = _pil()
    x = np.asarray(x, dtype=backend.floatx() if dtype is None else dtype)
    if x.ndim != 3:
        raise ValueError("Expected image array to have rank 3 (single image). Got array with "
                         f"shape: {x.shape}")
    if scale:
        x = x - np.min(x)
        x_max = np.max(x)
        if x_max != 0:
            x /= x_max
        x *= 255
    channels = x.shape[2]
    if channels in (3, 4):
        return Image.fromarray(x.astype("uint8"), "RGB" if channels == 3 else "RGBA")
    if channels == 1:
        if np.max(x) > 255:
            return Image.fromarray(x[:, :, 0].astype("int32"), "I")
        return Image.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError(f"Unsupported channel number: {channels}")


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Write a (H, W, C) array to an image file (format from the suffix), as Keras."""
    if file_format is None and isinstance(path, (str, pathlib.Path)):
        file_format = pathlib.Path(path).suffix[1:].lower()
    if file_format and file_format.lower() == "jpg":
        file_format = "jpeg"
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format == "jpeg":
        warnings.warn("The JPEG format does not support RGBA images, converting to RGB.",
                      stacklevel=2)
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)


def decode_like_tf(path, channels: int) -> np.ndarray:
    """An image file as a (H, W, channels) uint8 array, with the channel conversions of
    `tf.image.decode_image(..., channels=channels)` for 8-bit RGB, RGBA and gray files."""
    Image = _pil()
    with open(path, "rb") as f:
        img = Image.open(io.BytesIO(f.read()))
        img.load()
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[channels]
    if img.mode != mode:
        img = img.convert(mode)
    x = np.asarray(img, dtype=np.uint8)
    return x.reshape(x.shape[0], x.shape[1], -1)


def resize_like_tf(x: np.ndarray, size, interpolation="bilinear") -> np.ndarray:
    """`tf.image.resize(x, size, method)` for one (H, W, C) image, half-pixel centres: float32
    for bilinear, the input's dtype for nearest (as TF).

    bilinear: source coordinate s = (i + 0.5)·in/out − 0.5, the two neighbours
    ⌊s⌋ and ⌈s⌉ clamped to the image, weight s − ⌊s⌋ (TF's ResizeBilinear, no antialias).
    nearest: source index ⌊(i + 0.5)·in/out⌋, clamped (TF's ResizeNearestNeighbor).
    """
    out_h, out_w = int(size[0]), int(size[1])
    in_h, in_w = x.shape[:2]
    if interpolation == "nearest":
        rows = np.minimum(np.floor((np.arange(out_h) + 0.5) * (in_h / out_h)), in_h - 1)
        cols = np.minimum(np.floor((np.arange(out_w) + 0.5) * (in_w / out_w)), in_w - 1)
        return x[rows.astype(int)][:, cols.astype(int)]
    if interpolation != "bilinear":
        raise ValueError("scratch's image_dataset_from_directory resizes with 'bilinear' or "
                         f"'nearest'. Received: interpolation={interpolation!r}")
    x = np.asarray(x, dtype=np.float32)
    if (in_h, in_w) == (out_h, out_w):
        return x.copy()

    def axis(n_out, n_in):
        s = (np.arange(n_out, dtype=np.float32) + np.float32(0.5)) \
            * np.float32(n_in / n_out) - np.float32(0.5)
        lo = np.floor(s)
        frac = (s - lo).astype(np.float32)
        return (np.clip(lo, 0, n_in - 1).astype(int), np.clip(np.ceil(s), 0, n_in - 1)
                .astype(int), frac)

    r0, r1, fr = axis(out_h, in_h)
    c0, c1, fc = axis(out_w, in_w)
    fc = fc[None, :, None]
    top = x[r0][:, c0] + (x[r0][:, c1] - x[r0][:, c0]) * fc
    bottom = x[r1][:, c0] + (x[r1][:, c1] - x[r1][:, c0]) * fc
    return top + (bottom - top) * fr[:, None, None]
