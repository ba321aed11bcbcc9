"""The main job: `python -m scratch demo`, with and without TensorFlow."""

from __future__ import annotations

import importlib.util
import re

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

from scratch.__main__ import main  # noqa: E402


def test_demo_side_by_side(tf_keras, tmp_path, capsys):
    assert main(["demo", "--epochs", "2", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if re.match(r"\s+\d+ \|", line)]
    assert len(rows) == 2
    for row in rows:  # same loss in both engines, to float32 accuracy
        assert float(row.split("|")[-1]) < 1e-5
    diff = float(re.search(r"max \|w_scratch − w_keras\| = (\S+)", out).group(1))
    assert diff < 1e-5
    assert "faster" in out or "slower" in out
    assert (tmp_path / "demo_dense_loss.png").is_file()


def test_demo_without_tensorflow_runs_scratch_alone(tmp_path, capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorflow" else real(name, *a))
    assert main(["demo", "--epochs", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "TensorFlow is not installed" in out and "pip install" in out
    assert "tf.keras loss" not in out
    assert (tmp_path / "demo_dense_loss.png").is_file()
