"""Peak memory (resident set size) of a training run: scratch beside tf.keras.

Each engine trains in its own fresh Python process, which imports that engine only (the
model is written once, as course code, against the `keras` module it is given), so neither
sees the other's libraries:

* l32: the Lecture 32 CNN (three stride-2 Conv2D, Dropout, Dense 512, softmax; Adam, sparse
  categorical cross-entropy, accuracy), `fit` 2 epochs at batch 128 on 1,024 images 28×28×1;
* lstm: Input(28, 28) → LSTM(128) → Dense(10, softmax), the same fit on 1,024 sequences.

A child reports its resident memory once the engine is imported and the model built and
compiled ("before fit"), and the peak while `fit` ran (Linux: the process' high-water mark,
reset just before `fit` through /proc/self/clear_refs; elsewhere the whole process' peak
from getrusage). "fit's own" is the peak less the memory before fit: what training itself
added (activations, gradients, optimizer state, tf.keras' traced graphs). The whole peak
includes each engine's import (TensorFlow's is large).

Run: ``python benchmarks/bench_memory.py [--only l32 lstm] [--no-tf] [--json PATH]``. Memory
figures move little between runs, unlike times.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # record, roof, course_models

from course_models import image_rows_lstm, lecture32_model  # noqa: E402

WORKLOADS = {"l32": "L32 CNN fit, 2 epochs, batch 128",
             "lstm": "LSTM(128) fit, 2 epochs, batch 128"}
SAMPLES = 1024


def _rss_kb(field: str = "VmRSS") -> int | None:
    """A field of /proc/self/status in kB (None off Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset the process' resident high-water mark (Linux ≥ 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def build(keras, workload: str):
    """The workload's model (benchmarks/course_models.py), compiled as the course does."""
    model = lecture32_model(keras) if workload == "l32" else image_rows_lstm(keras)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def child(engine: str, workload: str) -> dict:
    """Run in a fresh process: import `engine`, build, measure, fit, measure."""
    import numpy as np

    t0 = time.perf_counter()
    if engine == "scratch":
        import scratch as keras
    else:
        import tensorflow as tf

        keras = tf.keras
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    shape = (SAMPLES, 28, 28, 1) if workload == "l32" else (SAMPLES, 28, 28)
    x = rng.random(shape, dtype=np.float32)
    y = rng.integers(0, 10, SAMPLES)
    model = build(keras, workload)
    before = _rss_kb()
    exact = _reset_peak()
    t1 = time.perf_counter()
    model.fit(x, y, epochs=2, batch_size=128, verbose=0)
    seconds = time.perf_counter() - t1
    if exact:
        peak = _rss_kb("VmHWM")
    else:
        import resource

        scale = 1 if sys.platform != "darwin" else 1 / 1024  # bytes on macOS
        peak = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale)
    return {"engine": engine, "workload": workload, "label": WORKLOADS[workload],
            "rss_before_fit_mb": before / 1024 if before else None,
            "peak_mb": peak / 1024 if peak else None,
            "fit_own_mb": (peak - before) / 1024 if peak and before and exact else None,
            "peak_is_fit_only": exact, "fit_seconds": seconds,
            "import_build_seconds": t1 - t0}


def run_child(engine: str, workload: str) -> dict | None:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}
    out = subprocess.run([sys.executable, __file__, "--child", engine, workload],
                         capture_output=True, text=True, env=env, timeout=600)
    if out.returncode != 0:
        print(f"{engine} {workload}: exit {out.returncode}\n{out.stderr[-2000:]}",
              file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def _mb(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.0f} MB"


def main(argv=None) -> int:
    import record

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="*", default=list(WORKLOADS), help="l32 lstm")
    p.add_argument("--no-tf", action="store_true", help="measure scratch alone")
    p.add_argument("--child", nargs=2, metavar=("ENGINE", "WORKLOAD"), help=argparse.SUPPRESS)
    record.add_arguments(p)
    # run.py hands every benchmark the same extra options: the timing ones mean nothing here
    args, ignored = p.parse_known_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    unknown = [k for k in args.only if k not in WORKLOADS]
    if unknown:
        p.error(f"--only expected {' or '.join(WORKLOADS)}. Received: {unknown}")
    if ignored:
        print(f"(options for the timing benchmarks ignored here: {' '.join(ignored)})")
    use_tf = not args.no_tf and importlib.util.find_spec("tensorflow") is not None
    engines = ["scratch", "tf.keras"] if use_tf else ["scratch"]
    print("peak resident memory of a training run, each engine in its own process\n")
    head = (f"{'workload':<40} {'scratch peak':>12} {'tf.keras peak':>13} "
            f"{'scratch fit':>11} {'tf.keras fit':>12}")
    print(head + "\n" + "-" * len(head))
    results = []
    for key in args.only:
        got = {e: run_child("scratch" if e == "scratch" else "tf", key) for e in engines}
        s, k = got.get("scratch"), got.get("tf.keras")
        results += [r for r in (s, k) if r]
        print(f"{WORKLOADS[key]:<40} {_mb(s and s['peak_mb']):>12} "
              f"{_mb(k and k['peak_mb']):>13} {_mb(s and s['fit_own_mb']):>11} "
              f"{_mb(k and k['fit_own_mb']):>12}", flush=True)
    print("\npeak = the process' resident high-water mark during fit (imports included); "
          "fit = that peak less the memory before fit")
    if args.json:
        record.write_fragment(args.json, "memory", [], None, {"samples": SAMPLES}, results)
    failed = len(results) < len(engines) * len(args.only)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
