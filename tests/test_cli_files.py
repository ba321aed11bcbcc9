"""`python -m scratch inspect PATH` and `python -m scratch parity PATH` on Keras files."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

import scratch
from scratch.__main__ import main
from scratch.models import Sequential

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _trained(tmp_path):
    scratch.utils.set_random_seed(0)
    L = scratch.layers
    model = Sequential([scratch.Input(shape=(6, 2)), L.LSTM(3, name="memory"),
                        L.Dense(4, activation="relu", name="hidden"),
                        L.Dense(2, activation="softmax", name="out")], name="clf")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    rng = np.random.default_rng(0)
    model.fit(rng.standard_normal((8, 6, 2)).astype("float32"), rng.integers(0, 2, 8),
              epochs=1, batch_size=4, verbose=0)
    paths = {ext: str(tmp_path / f"clf{ext}") for ext in (".keras", ".weights.h5", ".h5")}
    model.save(paths[".keras"])
    model.save_weights(paths[".weights.h5"])
    model.save(paths[".h5"])
    return model, paths


def test_inspect_prints_summary_compile_and_weight_shapes(tmp_path, capsys):
    _, paths = _trained(tmp_path)
    assert main(["inspect", paths[".keras"]]) == 0
    out = capsys.readouterr().out
    assert "Keras archive (keras_version 3.15.1" in out
    assert 'Model: "clf"' in out and "memory (LSTM)" in out and "out (Dense)" in out
    assert "optimizer Adam" in out and "iterations=2" in out
    assert "layers/lstm/cell/vars" in out and "recurrent_kernel" in out and "(3, 12)" in out
    assert "layers/dense_1/vars  (out)" in out and "(4, 2)" in out


def test_inspect_weights_only_and_legacy_files(tmp_path, capsys):
    _, paths = _trained(tmp_path)
    assert main(["inspect", paths[".weights.h5"]]) == 0
    out = capsys.readouterr().out
    assert "Keras weights file (no model config)" in out
    assert "optimizer/vars  (adam" in out and "layers/dense/vars  (hidden)" in out
    assert main(["inspect", paths[".h5"]]) == 0
    out = capsys.readouterr().out
    assert "legacy HDF5 model file" in out and "hidden (Dense)" in out


def test_inspect_reports_bad_files(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "absent.keras")]) == 1
    assert "no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"PK\x03\x04 not really")
    assert main(["inspect", str(bad)]) == 1
    assert "not a valid `.keras` file" in capsys.readouterr().err


def test_inspect_runs_as_a_module_without_tensorflow(tmp_path):
    _, paths = _trained(tmp_path)
    code = ("import sys; from scratch.__main__ import main; rc = main(['inspect', sys.argv[1]]);"
            "print('TF-IMPORTED' if 'tensorflow' in sys.modules else 'NO-TF'); sys.exit(rc)")
    r = subprocess.run([sys.executable, "-c", code, paths[".keras"]], capture_output=True,
                       text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Total params" in r.stdout and r.stdout.strip().endswith("NO-TF")


def _rows(out: str, layer: str) -> list[str]:
    """The report's table rows of one layer (its name sits in the layer column)."""
    return [l for l in out.splitlines() if f" {layer} " in l and l.rstrip().endswith(
        ("ok", "FAIL"))]


def test_parity_reports_every_layer_and_step(tmp_path, tf_keras, capsys):
    """`python -m scratch parity m.keras --steps 2 --x data.npz`: keras_ref's parity report
    (forward, backward and step rows, each judged by the tolerance table), exit status 0."""
    _, paths = _trained(tmp_path)
    rng = np.random.default_rng(1)
    data = str(tmp_path / "data.npz")
    np.savez(data, x=rng.standard_normal((6, 6, 2)).astype("float32"), y=rng.integers(0, 2, 6))
    assert main(["parity", paths[".keras"], "--steps", "2", "--x", data]) == 0
    out = capsys.readouterr().out
    for layer in ("memory (LSTM)", "hidden (Dense)", "out (Dense)"):
        rows = _rows(out, layer)
        assert rows and all(r.rstrip().endswith("ok") for r in rows), out
    for quantity in ("forward", "input_grad", "weight_grad", "weights_after_steps"):
        assert quantity in out
    assert "all within tolerance" in out


def test_parity_of_a_file_written_by_tf_keras(tmp_path, tf_keras, capsys):
    k = tf_keras.layers
    i = tf_keras.Input(shape=(5, 5, 1), name="img")
    a = k.Conv2D(2, 3, activation="relu", name="conv")(i)
    b = k.GlobalAveragePooling2D(name="gap")(a)
    kmodel = tf_keras.Model(i, [k.Dense(3, name="head")(b), b])
    path = str(tmp_path / "tf.keras")
    kmodel.save(path)
    assert main(["parity", path]) == 0
    out = capsys.readouterr().out
    assert "no training configuration" in out  # no loss: forward and a random cotangent
    assert _rows(out, "conv (Conv2D)") and "all within tolerance" in out


def test_parity_fails_when_the_engines_disagree(tmp_path, tf_keras, capsys, monkeypatch):
    """A tampered bias: the report names that layer first, and the exit status is 1."""
    _, paths = _trained(tmp_path)
    real = scratch.saving.load_model

    def tampered(path, **kwargs):
        model = real(path, **kwargs)
        model.get_layer("hidden").params["bias"][0] += 1e-3
        return model

    monkeypatch.setattr(scratch.saving, "load_model", tampered)
    assert main(["parity", paths[".keras"], "--steps", "1"]) == 1
    out = capsys.readouterr().out
    assert any(r.rstrip().endswith("FAIL") for r in _rows(out, "hidden (Dense)")), out
    assert all(r.rstrip().endswith("ok") for r in _rows(out, "memory (LSTM)"))
    first = [l for l in out.splitlines() if l.startswith("First divergence:")]
    assert first and "hidden" in first[0], out


def test_parity_reports_a_file_scratch_cannot_load(tmp_path, capsys):
    bad = tmp_path / "x.keras"
    bad.write_text("nope")
    assert main(["parity", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and str(bad) in err
