"""`python -m scratch inspect PATH` and `python -m scratch parity PATH` on Keras files."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

import scratch
import scratch.cli_files as cli_files
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


def test_parity_matches_tf_keras_layer_by_layer(tmp_path, tf_keras, capsys):
    _, paths = _trained(tmp_path)
    for ext in (".keras", ".h5"):
        assert cli_files.parity(paths[ext]) == 0
        out = capsys.readouterr().out
        for label in ("memory (LSTM)", "hidden (Dense)", "out (Dense)", "model output 0"):
            line = [l for l in out.splitlines() if l.startswith(label)]
            assert line and line[0].rstrip().endswith("ok"), out
        assert "4/4 outputs within tolerance" in out


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
    assert "conv (Conv2D)" in out and "5/5 outputs within tolerance" in out


def test_parity_fails_when_the_engines_disagree(tmp_path, tf_keras, capsys, monkeypatch):
    _, paths = _trained(tmp_path)
    real = scratch.saving.load_model

    def tampered(path, **kwargs):
        model = real(path, **kwargs)
        model.get_layer("hidden").params["bias"][0] += 1e-3
        return model

    monkeypatch.setattr(scratch.saving, "load_model", tampered)
    assert cli_files.parity(paths[".keras"]) == 1
    out = capsys.readouterr().out
    assert [l for l in out.splitlines() if l.startswith("hidden (Dense)")][0].endswith("FAIL")
    assert [l for l in out.splitlines() if l.startswith("memory (LSTM)")][0].endswith("ok")


def test_parity_reports_a_file_scratch_cannot_load(tmp_path, capsys):
    bad = tmp_path / "x.keras"
    bad.write_text("nope")
    assert cli_files.parity(str(bad)) == 1
    assert "scratch cannot load" in capsys.readouterr().err
