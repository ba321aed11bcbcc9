"""`python -m scratch inspect PATH`: look into a Keras file without TensorFlow.

    $ python -m scratch inspect m.keras      # summary, compile settings, every weight's shape

`inspect` needs only scratch and returns 0, or 1 when the file cannot be read: a file that
cannot be read (missing, not a regular file, malformed, too large for memory) is reported on
one line, `error: <what is wrong>`, on stderr, never as a traceback. (`python -m scratch
parity` is keras_ref's parity report: `keras_ref.compare_main`.)
"""

from __future__ import annotations

import os
import sys

# What loading a bad file raises: FileFormatError, UnsupportedError and weights that do not
# fit are ValueErrors; a missing or unreadable file is an OSError; the loaders report running
# out of memory as a FileFormatError, MemoryError stays here for the printing that follows.
_LOAD_ERRORS = (ValueError, OSError, MemoryError)


def _err(msg: str) -> int:
    """Print `msg` as one line on stderr; return the exit status 1."""
    print("error: " + " ".join(msg.split()), file=sys.stderr)
    return 1


def _shape(s) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in s) + \
        ("," if len(s) == 1 else "") + ")"


def _print_weights(model) -> None:
    from .saving.weights_h5 import model_entries

    print("\nWeights (file group: index name shape dtype):")
    total = 0
    for entry in model_entries(model):
        if not entry.arrays:
            continue
        print(f"  {entry.path}/vars  ({entry.name})")
        for i, (name, w) in enumerate(zip(entry.weight_names, entry.arrays)):
            print(f"    {i}  {name:<20} {_shape(w.shape):<16} {w.dtype}")
            total += w.size
    print(f"  {total:,} values")


def _print_store(store) -> None:
    """The groups and datasets of an open weights file, from its metadata (no data read)."""
    print("Weights (file group: index shape dtype):")
    for path in sorted(store):
        stored = store[path]
        if not stored.datasets:
            continue
        print(f"  {path or '.'}/vars  ({stored.name})")
        for i, ds in enumerate(stored.datasets):
            print(f"    {i}  {_shape(ds.shape):<16} {ds.dtype}")


def _print_compile(model) -> None:
    opt = getattr(model, "optimizer", None)
    if not getattr(model, "compiled", False) or opt is None:
        print("\nNot compiled (no training configuration in the file).")
        return
    cfg = opt.get_config()
    print(f"\nCompiled: optimizer {type(opt).__name__} (learning_rate={cfg['learning_rate']}, "
          f"iterations={opt.iterations}, {len(opt._slots)} slot arrays), "
          f"loss={model._loss_spec!r}, metrics={model._metric_spec!r}")


def inspect(path) -> int:
    """Print the summary, compile settings and weight shapes of a Keras model file."""
    import warnings

    from . import saving

    path = os.fspath(path)
    if not os.path.exists(path):
        return _err(f"no such file: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if path.endswith(".weights.h5"):
                saving.check_regular_file(path)
                with saving.reading(path), saving.open_store(path, path) as store:
                    print(f"{path}: Keras weights file (no model config)")
                    _print_store(store)
                return 0
            if path.endswith(".keras"):
                with saving.open_archive(path) as archive:
                    meta = archive.metadata
                header = (f"{path}: Keras archive (keras_version "
                          f"{meta.get('keras_version', '?')}, saved {meta.get('date_saved', '?')})")
            else:
                header = f"{path}: legacy HDF5 model file"
            model = saving.load_model(path)
        print(header)
        model.summary()
        _print_compile(model)
        _print_weights(model)
    except _LOAD_ERRORS as e:
        return _err(str(e) or type(e).__name__)
    return 0
