"""The course examples run end to end on scratch (and never import TensorFlow).

The examples run with ``--epochs 1``, each into its own temporary folder, all in one Python
process started once for the module (each with its own captured output and exit status). The
tests check the exit status, the lines that prove an example did its job, that every PNG it
promises was written and is a real PNG, and that TensorFlow was never imported. The benchmark
runner gets a smoke run of the scratch side (no TensorFlow), so it cannot rot unnoticed.
Whole file: about 15 s of CPU (20–30 s wall on a busy 2-core machine).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# example file → (PNG files it writes, text its output must contain)
CASES = {
    "lecture10_logistic_regression.py": (
        ["logistic_regression_loss", "logistic_regression_accuracy"],
        ["Train score:", "Test score:"]),
    "lecture12_moores_law.py": (
        ["moore_data", "moore_log_data", "moore_loss"],
        ["slope a =", "Time to double:"]),
    "lecture15_predictions.py": (
        ["predictions_probabilities", "predictions_line_fit"],
        ["np.allclose(Yhat, Yhat2): True", "OK: predictions match the manual computations"]),
    "lecture24_ann_digits.py": (
        ["ann_digits_loss", "ann_digits_accuracy", "ann_digits_confusion_matrix",
         "ann_digits_misclassified"],
        ["keras.datasets.mnist is not in Keras' cache", "x_train.shape: (1348, 28, 28)",
         "Confusion matrix, without normalization"]),
    "lecture32_cnn_digits.py": (
        ["cnn_digits_loss", "cnn_digits_accuracy", "cnn_digits_confusion_matrix",
         "cnn_digits_misclassified"],
        ["keras.datasets.fashion_mnist is not in Keras' cache", "(1348, 28, 28, 1)",
         "Confusion matrix, without normalization"]),
    "lecture33_cnn_cifar10.py": (
        ["cnn_cifar10_loss", "cnn_cifar10_accuracy"],
        ["keras.datasets.cifar10 is not in Keras' cache", "x_train.shape: (1348, 32, 32, 3)",
         "y_train.shape: (1348,)", "number of classes: 10", "test accuracy:"]),
    "lecture36_vgg_augmented.py": (
        ["vgg_augmented_loss", "vgg_augmented_accuracy", "vgg_augmented_samples"],
        ["test accuracy"]),
    "lecture39_43_forecasting.py": (
        ["ar_forecast", "ar_loss", "ar_noisy_forecast", "ar_noisy_wrong_forecast",
         "ar_wrong_forecast", "rnn_linear_forecast", "rnn_linear_loss", "rnn_relu_forecast",
         "rnn_relu_loss", "rnn_tanh_forecast", "rnn_tanh_loss"],
        ["Lecture 40: AR(2)"]),
    "lecture47_sin_t2.py": (
        [f"sin_t2_{m}_{k}" for m in ("linear", "lstm", "simple_rnn")
         for k in ("forecast", "loss", "one_step")] + ["sin_t2_series"],
        ["lstm: mean |one-step error|"]),
    "lecture48_long_distance.py": (
        [f"long_distance_{k}_{m}" for k in (
            "gru_T20_long", "linear_T10_short", "lstm_T10_long", "lstm_T20_long",
            "lstm_T30_long", "lstm_maxpool_T30_long", "simple_rnn_T10_long",
            "simple_rnn_T10_short") for m in ("accuracy", "loss")] + ["long_distance_summary"],
        ["lstm_maxpool_T30_long"]),
    "lecture50_lstm_digits.py": (
        ["lstm_digits_accuracy", "lstm_digits_loss", "lstm_digits_predictions"],
        ["keras.datasets.mnist is not in Keras' cache", "x_train.shape: (1348, 28, 28)",
         "test accuracy"]),
    "lecture56_text_preprocessing.py": ([], ["OK: the same sequences and padding as tf.keras"]),
    "lecture57_text_lstm.py": (["text_lstm_loss", "text_lstm_accuracy"],
                               ["Found", "final val_accuracy:"]),
    "lecture59_text_cnn.py": (["text_cnn_loss", "text_cnn_accuracy"], ["final val_accuracy:"]),
    "lecture61_recommender.py": (["recommender_loss"], ["test MSE:"]),
    "lecture63_67_transfer_vgg.py": (
        ["transfer_vgg_loss", "transfer_vgg_accuracy", "transfer_vgg_logreg_loss"],
        ["Found 48 images belonging to 2 classes.", "approach 1 (frozen VGG16 + new head)",
         "approach 2, scikit-learn LogisticRegression:", "features: (48, 512)"]),
    "lecture67_transfer_features.py": (
        ["transfer_pretrain_accuracy", "transfer_logreg_loss", "transfer_logreg_accuracy"],
        ["scikit-learn LogisticRegression:", "scratch logistic regression:"]),
    "lecture69_gan_digits.py": (["gan_images/0", "gan_images/1", "gan_losses"],
                                ["keras.datasets.mnist is not in Keras' cache",
                                 "x_train.shape: (1348, 28, 28)", "epoch: 1/1"]),
    "lecture25_regression_surface.py": (
        ["regression_data", "regression_loss", "regression_surface",
         "regression_extrapolation"],
        ["final loss after 1 epochs:"]),
}

# Runs each example as `python examples/<file> --epochs 1 --out <dir>` would, all in ONE
# process (scikit-learn and matplotlib are imported once: that is most of an example's time),
# each with its own captured output, exit status and output folder; then records whether
# TensorFlow was ever imported.
_WRAPPER = """
import contextlib, io, json, runpy, sys, traceback
examples, jobs, report = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
sys.path.insert(0, examples)
results = {}
for key, path, argv in jobs:
    buf = io.StringIO()
    code = 0
    sys.argv = [path, *argv]
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        try:
            runpy.run_path(path, run_name="__main__")
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if not isinstance(e.code, (int, type(None))):
                print(e.code)
        except BaseException:
            traceback.print_exc()
            code = 1
    results[key] = {"code": code, "output": buf.getvalue()}
results["tensorflow imported"] = "tensorflow" in sys.modules
with open(report, "w") as f:
    json.dump(results, f)
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["MPLBACKEND"] = "Agg"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    # a Keras cache that cannot exist: the examples that read keras.datasets take their
    # bundled fallback (a machine's real ~/.keras must not change what the tests run)
    env["KERAS_HOME"] = os.path.join(os.devnull, "keras")
    return env


def _run(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run every example (and one bad command line) once; {key: {"code", "output", "out"}}."""
    root = tmp_path_factory.mktemp("examples")
    jobs, outs = [], {}
    for name in sorted(CASES):
        outs[name] = root / Path(name).stem
        jobs.append([name, str(EXAMPLES / name), ["--epochs", "1", "--out", str(outs[name])]])
    outs["bad epochs"] = root / "bad"
    jobs.append(["bad epochs", str(EXAMPLES / "lecture12_moores_law.py"),
                 ["--epochs", "0", "--out", str(outs["bad epochs"])]])
    report = root / "report.json"
    proc = _run(["-c", _WRAPPER, str(EXAMPLES), json.dumps(jobs), str(report)], cwd=root)
    assert proc.returncode == 0 and report.is_file(), \
        f"the example runner failed:\n{(proc.stdout + proc.stderr)[-4000:]}"
    results = json.loads(report.read_text())
    for key, out in outs.items():
        results[key]["out"] = out
    return results


def test_every_example_is_tested():
    found = {p.name for p in EXAMPLES.glob("lecture*.py")}
    assert found == set(CASES), f"examples without a test case: {sorted(found - set(CASES))}"


def test_examples_never_import_tensorflow(runs):
    assert runs["tensorflow imported"] is False


@pytest.mark.parametrize("name", sorted(CASES))
def test_example_runs_and_writes_pngs(name, runs):
    pngs, expected_text = CASES[name]
    code, log, out = runs[name]["code"], runs[name]["output"], runs[name]["out"]
    assert code == 0, f"{name} exited {code}:\n{log[-4000:]}"
    for text in expected_text:
        assert text in log, f"{name}: {text!r} missing from the output:\n{log[-4000:]}"
    for png in pngs:
        path = out / f"{png}.png"
        assert path.is_file(), f"{name} did not write {path.name}:\n{log[-2000:]}"
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000, \
            f"{path.name} is not a plausible PNG ({len(data)} bytes)"
    written = {str(p.relative_to(out).with_suffix("")) for p in out.rglob("*.png")}
    assert written == set(pngs), f"{name} wrote unexpected files: {sorted(written - set(pngs))}"


def test_example_rejects_bad_epochs(runs):
    assert runs["bad epochs"]["code"] == 2
    assert "--epochs expected a positive integer. Received: epochs=0" in \
        runs["bad epochs"]["output"]


def test_benchmark_runner_lists_and_selects():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import run as bench_run
    finally:
        sys.path.pop(0)
    available = bench_run.discover()
    assert "dense" in available
    assert bench_run.select(available, ["bench_dense"]) == [available["dense"]]
    assert bench_run.select(available, ["dense.py", "dense"]) == [available["dense"]]
    assert bench_run.select(available, []) == list(available.values())
    with pytest.raises(ValueError, match="Unknown benchmark 'nope'"):
        bench_run.select(available, ["nope"])


def test_dense_benchmark_smoke_without_tf(tmp_path):
    proc = _run([str(ROOT / "benchmarks" / "run.py"), "dense", "--", "--no-tf", "--repeats",
                 "1", "--steps", "2", "--only", "l12", "l24-step-32"], cwd=tmp_path)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    blas = [line for line in proc.stdout.splitlines() if line.startswith("BLAS (scratch):")]
    assert len(blas) == 1, proc.stdout
    assert "1 thread" in blas[0] and "threads" not in blas[0], \
        f"scratch's BLAS threads were not all pinned to 1: {blas[0]}"
    assert "L12 linear regression fit, 200 epochs" in proc.stdout
    assert "L24 dense net train step, batch 32" in proc.stdout
    assert "L10" not in proc.stdout  # --only selected two cases
