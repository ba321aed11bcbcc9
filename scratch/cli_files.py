"""`python -m scratch inspect PATH` and `python -m scratch parity PATH`: look into Keras files.

    $ python -m scratch inspect m.keras      # summary, compile settings, every weight's shape
    $ python -m scratch parity m.keras       # the file in scratch and in tf.keras, layer by
                                             # layer, on the same random inputs

`inspect` needs only scratch. `parity` imports TensorFlow (inside the command), loads the file in
both engines, runs both on random inputs (seed 0; batch 4, other free axes 5) and prints, for
every layer output, the largest absolute difference and the same relative to max(1, max|tf|),
checked against the project's tolerance table (kind "forward"). Both return 0 on success and 1
when the file cannot be read or a difference exceeds the tolerance. A file that cannot be read
(missing, not a regular file, malformed, too large for memory) is reported on one line,
`error: <what is wrong>`, on stderr, never as a traceback.
"""

from __future__ import annotations

import os
import sys

import numpy as np

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


# ------------------------------------------------------------------------------ parity
def _random_inputs(model, rng) -> list[np.ndarray]:
    vocab = [getattr(l, "input_dim", None) for l in _all_layers(model)
             if type(l).__name__ == "Embedding"]
    vocab = min([v for v in vocab if v], default=2)
    out = []
    for t in model.inputs:
        shape = tuple(4 if i == 0 else (5 if d is None else d) for i, d in enumerate(t.shape))
        if np.dtype(t.dtype).kind in "iu":
            out.append(rng.integers(0, vocab, size=shape).astype(t.dtype))
        else:
            out.append(rng.standard_normal(shape).astype(t.dtype))
    return out


def _all_layers(model) -> list:
    from .models import Model

    out = []
    for layer in model.layers:
        out.append(layer)
        if isinstance(layer, Model):
            out += _all_layers(layer)
    return out


def _probe_points(model) -> list[tuple[str, str, object]]:
    """(label, layer name, scratch tensor) for every output of every layer call."""
    from .layers.core import InputLayer

    counts: dict[str, int] = {}
    for node in model._nodes:
        counts[node.layer.name] = counts.get(node.layer.name, 0) + 1
    points = []
    for node in model._nodes:
        layer = node.layer
        if isinstance(layer, InputLayer) or counts[layer.name] > 1:
            continue  # shared layers: only their effect on the model outputs is compared
        for i, t in enumerate(node.outputs):
            label = f"{layer.name} ({type(layer).__name__})"
            if len(node.outputs) > 1:
                label += f"[{i}]"
            points.append((label, layer.name, t))
    return points


def parity(path) -> int:
    """Load a Keras file in scratch and in tf.keras; print per-layer output differences."""
    import warnings

    from . import saving
    from .layers.base import as_list
    from .models import Model
    from .testing import tolerance

    path = os.fspath(path)
    if not os.path.exists(path):
        return _err(f"no such file: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = saving.load_model(path, compile=False)
    except _LOAD_ERRORS as e:
        return _err(f"scratch cannot load {path}: {e or type(e).__name__}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    try:
        import tensorflow as tf
    except ImportError:
        return _err("`parity` compares with tf.keras: install tensorflow (pip install "
                    "tensorflow) to use it.")
    keras = tf.keras
    try:
        kmodel = keras.models.load_model(path, compile=False)
    except Exception as e:  # noqa: BLE001 - any tf.keras failure is reported, not raised
        return _err(f"tf.keras cannot load {path}: {e}")
    xs = _random_inputs(model, np.random.default_rng(0))
    points = _probe_points(model)
    probe = Model(model.inputs, [t for _, _, t in points] + list(model.outputs))
    ys = as_list(probe.predict(xs if len(xs) > 1 else xs[0], verbose=0))
    kouts = []
    for _, name, t in points:
        klayer = kmodel.get_layer(name)
        kout = as_list(klayer.output)
        kouts.append(kout[t.index] if len(kout) > 1 else kout[0])
    kprobe = keras.Model(kmodel.inputs, kouts + as_list(kmodel.outputs))
    kys = [np.asarray(y) for y in as_list(kprobe(xs, training=False))]
    dtype = model.dtype
    rtol, atol_factor = tolerance("forward", dtype)
    labels = [p[0] for p in points] + [f"model output {i}" for i in range(len(model.outputs))]
    print(f"{path}: scratch vs tf.keras {keras.__version__}, {dtype}, inputs "
          + ", ".join(_shape(x.shape) for x in xs) + " (seed 0)")
    print(f"tolerance (kind 'forward'): rtol={rtol}, atol={atol_factor}·max(1, max|tf|)\n")
    print(f"{'output':<48} {'shape':<18} {'max |Δ|':>11} {'max |Δ|/s':>11}  status")
    failed = 0
    for label, y, ky in zip(labels, ys, kys):
        if y.shape != ky.shape:
            print(f"{label:<48} {_shape(y.shape):<18} shape differs from tf.keras' "
                  f"{_shape(ky.shape)}  FAIL")
            failed += 1
            continue
        scale = max(1.0, float(np.max(np.abs(ky), initial=0.0)))
        diff = float(np.max(np.abs(y.astype(np.float64) - ky.astype(np.float64)), initial=0.0))
        ok = np.allclose(y, ky, rtol=rtol, atol=atol_factor * scale, equal_nan=True)
        failed += not ok
        print(f"{label:<48} {_shape(y.shape):<18} {diff:>11.3e} {diff / scale:>11.3e}  "
              f"{'ok' if ok else 'FAIL'}")
    print(f"\n{len(labels) - failed}/{len(labels)} outputs within tolerance")
    return 1 if failed else 0
