"""The benchmarks' record, roof, comparison, chart, scaling and memory code (issue 15), run at
tiny sizes: no timing is asserted, only that the figures are counted right and the files a
user keeps are written with their fields."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import scratch

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def bench():
    """The benchmarks' modules (record, roof, run, scaling), imported from benchmarks/."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield {name: importlib.import_module(name)
               for name in ("roof", "record", "run", "scaling", "bench_memory")}
    finally:
        sys.path.remove(str(BENCHMARKS))


def _env():
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MPLBACKEND": "Agg",
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


# ----------------------------------------------------------------------------- FLOP counts
def _dense_net(batch_dims=(28, 28)):
    L = scratch.layers
    return scratch.models.Sequential([L.Input(shape=batch_dims), L.Flatten(),
                                      L.Dense(128, activation="relu"), L.Dropout(0.2),
                                      L.Dense(10, activation="softmax")])


def test_dense_flops_by_hand(bench):
    m = _dense_net()
    B = 32
    first, second = B * 784 * 128, B * 128 * 10  # multiply-adds of the two products
    assert bench["roof"].model_flops(m, B, training=False) == 2 * (first + second)
    # training: forward, both weight gradients, dx of the second layer only (the first
    # layer's input is data)
    assert bench["roof"].model_flops(m, B) == 2 * (2 * first + 3 * second) == 13_090_816


def test_conv2d_flops_by_hand(bench):
    L = scratch.layers
    i = L.Input(shape=(28, 28, 1))
    x = L.Conv2D(32, (3, 3), strides=2)(i)          # 13×13 outputs
    x = L.MaxPooling2D((2, 2))(x)                    # 6×6, no products
    x = L.Conv2D(64, (3, 3), padding="same")(x)      # 6×6 outputs
    m = scratch.models.Model(i, x)
    B = 8
    c1 = B * 13 * 13 * (3 * 3 * 1) * 32
    c2 = B * 6 * 6 * (3 * 3 * 32) * 64
    assert bench["roof"].model_flops(m, B, training=False) == 2 * (c1 + c2)
    assert bench["roof"].model_flops(m, B) == 2 * (2 * c1 + 3 * c2)
    assert bench["roof"].conv_macs(B, 13 * 13, 9, 1, 32) == c1


def test_lstm_flops_by_hand(bench):
    L = scratch.layers
    i = L.Input(shape=(28, 28))
    m = scratch.models.Model(i, L.Dense(10)(L.LSTM(128)(i)))
    B, T, D, H = 128, 28, 28, 128
    x_part, h_part = B * T * D * 4 * H, B * T * H * 4 * H  # x_t W and h_{t-1} U, every step
    dense = B * H * 10
    assert bench["roof"].model_flops(m, B, training=False) == 2 * (x_part + h_part + dense)
    # backward: dW and dU (x_part + h_part), the gradient through time (h_part), no dx
    # (the input is data); the Dense: dW and dx
    assert bench["roof"].model_flops(m, B) == 2 * (
        (x_part + h_part) + (x_part + h_part) + h_part + 3 * dense) == 1_615_790_080
    assert bench["roof"].recurrent_macs(B, T, D, H, 4) == (x_part, h_part)


def test_model_gemms_lists_the_products_an_im2col_engine_runs(bench):
    """`model_gemms`: a convolution's products are on its im2col matrix (rows = output
    pixels, columns = kh·kw·C taps), a recurrent layer's recurrent product is one GEMM per
    step (and one per step again backward); their FLOPs are `model_flops`."""
    roof, L = bench["roof"], scratch.layers
    i = L.Input(shape=(8, 8, 3))
    m = scratch.models.Model(i, L.Dense(4)(L.Flatten()(L.Conv2D(5, 3, padding="same")(i))))
    B = 2
    conv, dense = (B * 64, 27, 5), (B, 320, 4)
    assert roof.model_gemms(m, B, training=False) == [conv, dense]
    assert sorted(roof.model_gemms(m, B)) == sorted(
        [conv, (27, B * 64, 5), dense, (B, 4, 320), (320, B, 4)])  # no dx into the data
    assert roof.gemm_flops(roof.model_gemms(m, B)) == roof.model_flops(m, B)
    j = L.Input(shape=(6, 3))
    r = scratch.models.Model(j, L.GRU(4)(j))
    steps = roof.model_gemms(r, B)
    assert steps.count((B, 4, 12)) == 6 and steps.count((B, 12, 4)) == 6  # h U, dz Uᵀ
    assert (B * 6, 3, 12) in steps and (4, B * 6, 12) in steps  # X W, dU = Hᵀ dZ
    assert roof.gemm_flops(steps) == roof.model_flops(r, B)


def test_gemm_floor_row_times_the_products_and_says_what_they_leave(bench):
    """A products-alone row runs the GEMMs (a runner writes every product's output), and
    its note compares its time with what the parent's target allows; a merged record
    recomputes that note from the merged medians."""
    roof, record = bench["roof"], bench["record"]
    run = roof.gemm_runner([(3, 4, 5), (3, 4, 5), (2, 2, 2)])
    run()
    parent = record.Row("w", "a workload", [0.010], tf=[0.008], target=2.0)
    row = record.gemm_floor_row(parent, [(16, 16, 16)], repeats=2, steps=1, threads=1)
    assert row.key == "w-gemms" and row.floor_of == "w" and len(row.scratch) == 2
    assert row.work == 2 * 16 ** 3 and row.speedup is None
    assert "allows 4.00 ms" in row.note
    assert record.floor_note(0.002, 0.008, 2.0) == (
        "2x tf.keras' fastest allows 4.00 ms: these products alone take 50% of it")
    assert record.floor_note(0.002, None, 2.0) == ""
    floor = record.Row("w-gemms", record.GEMMS_LABEL, [0.006], floor_of="w")
    frag = {"rows": [parent.to_dict(), floor.to_dict()]}
    faster = {"rows": [record.Row("w", "a workload", [0.010], tf=[0.004], target=2.0).to_dict(),
                       floor.to_dict()]}
    merged = record.merge_passes([(False, frag), (True, faster)])
    note = {r["key"]: r["note"] for r in merged["rows"]}["w-gemms"]
    assert note == "2x tf.keras' fastest allows 2.00 ms: these products alone take 300% of it"
    table = record.markdown_table(merged).splitlines()  # run.py --markdown: the README's table
    assert len(table) == 4 and table[0].startswith("| workload | scratch |")
    assert table[2] == ("| a workload | 10.00 ms | oneDNN: 4.00 ms | **0.40×** (0.40) | "
                        "≥ 2× ✗ | — |")
    assert table[3] == ("| its matrix products alone | 6.00 ms | — | — | "
                        "300 % of the 2.00 ms that 2× allows | — |")


def test_frozen_nested_model_passes_gradients_without_weight_gradients(bench):
    """A GAN's combined model: G learns; D is frozen but G needs the gradient through it."""
    L = scratch.layers
    z = L.Input(shape=(4,))
    G = scratch.models.Model(z, L.Dense(6)(L.Dense(5)(z)))
    d_in = L.Input(shape=(6,))
    D = scratch.models.Model(d_in, L.Dense(1)(L.Dense(3)(d_in)))
    D.trainable = False
    u = L.Input(shape=(4,))
    combined = scratch.models.Model(u, D(G(u)))
    B = 2
    g1, g2, d1, d2 = B * 4 * 5, B * 5 * 6, B * 6 * 3, B * 3 * 1
    g_step = (g1 + g2) + (g1 + g2) + g2      # forward, dW of both, dx of the second
    d_pass = (d1 + d2) + (d1 + d2)           # forward, dx of both (to reach G), no dW
    assert bench["roof"].model_flops(combined, B) == 2 * (g_step + d_pass)
    assert bench["roof"].model_flops(D, B, input_needs_grad=True) == 2 * d_pass


def test_pool_bytes_and_rates(bench):
    roof = bench["roof"]
    x, y = (2, 4, 4, 3), (2, 2, 2, 3)
    assert roof.pool_bytes(x, y) == 4 * (96 + 24 + 24 + 96 + 96)
    limits = roof.Roof({1: 100.0, 2: 200.0}, {1: 10.0, 2: 20.0})
    a = roof.achieved(50e9, 1.0, "flops", limits)
    assert a["rate"] == pytest.approx(50.0) and a["unit"] == "GFLOP/s"
    assert a["roof_pct"] == {"1": pytest.approx(50.0), "2": pytest.approx(25.0)}
    b = roof.achieved(5e9, 1.0, "bytes", limits)
    assert b["unit"] == "GB/s" and b["roof_pct"]["2"] == pytest.approx(25.0)
    assert roof.achieved(None, 1.0, "flops", limits)["rate"] is None


def test_roof_measures_at_tiny_sizes_and_round_trips(bench):
    roof = bench["roof"]
    r = roof.measure(gemm_n=32, bandwidth_mb=0.5, tries=1)
    assert r.gemm_gflops[1] > 0 and r.bandwidth_gbs[1] > 0
    assert set(r.gemm_gflops) == ({1, 2} if (os.cpu_count() or 1) >= 2 else {1})
    assert roof.Roof.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    assert "GFLOP/s" in r.describe()


# ----------------------------------------------------------------------------- the record
def test_make_bench_writes_the_record_and_the_chart(tmp_path):
    """benchmarks/run.py end to end at a tiny size: one cheap row, scratch alone, two runs."""
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run.py"), "dense", "--out", str(out),
         "--roof-gemm-n", "64", "--roof-mb", "1", "--runs", "2", "--",
         "--no-tf", "--only", "l12", "--repeats", "2"],
        capture_output=True, text=True, env=_env(), timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    latest = out / "bench_latest.json"
    data = json.loads(latest.read_text())
    stamped = sorted(out.glob("bench_2*.json"))
    assert len(stamped) == 1 and json.loads(stamped[0].read_text()) == data
    for key in ("schema", "created", "machine", "roof", "benchmarks", "rows", "memory"):
        assert key in data, key
    machine = data["machine"]
    for key in ("cpu_model", "cpu_count", "cpu_tier", "blas", "versions"):
        assert machine[key], key
    assert machine["cpu_tier"]["numpy_tier"] and machine["versions"]["numpy"] == np.__version__
    assert data["roof"]["gemm_gflops"]["1"] > 0 and data["roof"]["bandwidth_gbs"]["1"] > 0
    assert data["benchmarks"]["dense"]["exit"] == 0
    (row,) = data["rows"]
    assert row["bench"] == "dense" and row["key"] == "l12" and row["unit"] == "fit"
    assert len(row["times"]["scratch"]) == 4 and row["median"]["scratch"] > 0  # 2 runs × 2
    assert [p["run"] for p in data["benchmarks"]["dense"]["passes"]] == [0, 1]
    assert row["times"]["tf"] is None and row["speedup"] is None  # --no-tf
    assert row["work_kind"] == "flops" and row["work"] > 0
    assert row["scratch_rate"]["rate"] > 0 and set(row["scratch_rate"]["roof_pct"]) >= {"1"}
    png = out / "bench_latest.png"
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert "roof: float32 GEMM" in proc.stdout and "record:" in proc.stdout


def test_two_passes_merge_into_four_tf_paths_and_the_smaller_speedup(bench, capsys):
    """TensorFlow's oneDNN setting is fixed per process, so run.py runs each benchmark with
    it off and on; the merged row keeps the four tf.keras paths, all of scratch's repeats,
    the fastest path by median, and the smaller of the two side-by-side speedups."""
    rec, roof = bench["record"], bench["roof"]

    def frag(scratch, tf, xla, target=2.0):
        row = rec.Row(key="k", label="a row", scratch=scratch, tf=tf, xla=xla, work=1e9,
                      target=target)
        return {"bench": "syn", "meta": {"repeats": len(scratch)},
                "rows": [row.to_dict(None, "syn")], "memory": []}

    off = frag([1.0, 1.1, 1.2], [3.0, 3.1, 3.2], [2.5, 2.6, 2.7])  # 2.6 / 1.1 = 2.36×
    on = frag([1.0, 1.0, 1.0], [1.8, 1.9, 2.0], [2.9, 3.0, 3.1])  # 1.9 / 1.0 = 1.9×
    r = roof.Roof(gemm_gflops={1: 100.0, 2: 200.0}, bandwidth_gbs={1: 10.0, 2: 20.0})
    merged = rec.merge_passes([(False, off), (True, on)], r)
    (row,) = merged["rows"]
    assert row["times"]["scratch"] == [1.0, 1.1, 1.2, 1.0, 1.0, 1.0]
    assert row["median"]["tf_onednn"] == 1.9 and row["median"]["tf_xla"] == 2.6
    assert row["tf_fastest"] == "oneDNN" and rec.best_tf_time(row) == 1.9
    assert row["speedup"] == pytest.approx(1.9) and row["met"] is False
    assert [p["onednn"] for p in row["passes"]] == [False, True]
    assert row["scratch_rate"]["rate"] == pytest.approx(1.0)  # 1e9 FLOPs in 1.0 s
    assert set(merged["meta"]) == {"eigen", "onednn"}
    rec.print_record_table({"rows": merged["rows"], "roof": r.to_dict()})
    out = capsys.readouterr().out
    assert "1.90 s*" in out and "1.90×" in out and "targets NOT met: a row" in out
    # one pass with oneDNN off (no TensorFlow, --no-tf): the fragment as it was
    assert rec.merge_passes([(False, off)]) is off
    # three runs (run.py --runs 3): per run the smaller pass, then the median of the runs
    fast = frag([1.0, 1.0, 1.0], [3.0, 3.0, 3.0], [3.0, 3.0, 3.0])  # 3×
    slow = frag([1.0, 1.0, 1.0], [1.2, 1.2, 1.2], [1.5, 1.5, 1.5])  # 1.2×
    (row,) = rec.merge_passes([(False, off, 0), (True, on, 0), (False, fast, 1),
                               (True, fast, 1), (False, slow, 2), (True, fast, 2)], r)["rows"]
    assert row["run_speedups"] == pytest.approx([1.9, 3.0, 1.2])
    assert row["speedup"] == pytest.approx(1.9) and len(row["times"]["scratch"]) == 18
    assert len(row["times"]["tf_onednn"]) == 9 and len(row["passes"]) == 6
    # old records (graph / xla only) still give their best time
    assert rec.best_tf_time({"tf_fastest": "xla", "median": {"tf_xla": 2.0}}) == 2.0


def _record(rows: dict, created: str, cpu: str = "CPU A") -> dict:
    """A synthetic record: key -> (scratch times, tf time or None)."""
    out = []
    for key, (times, tf) in rows.items():
        times = list(times)
        med = float(np.median(times))
        out.append({"bench": "syn", "key": key, "label": f"row {key}", "unit": "step",
                    "median": {"scratch": med, "tf": tf, "tf_xla": None},
                    "spread": {"scratch": (max(times) - min(times)) / med, "tf": None,
                               "tf_xla": None},
                    "speedup": None if tf is None else tf / med})
    return {"created": created, "machine": {"cpu_model": cpu, "cpu_tier": {}}, "rows": out}


def test_compare_calls_faster_and_slower_beyond_the_noise_only(bench, capsys, tmp_path):
    old = _record({"a": ([1.00, 1.02, 0.99], 2.0), "b": ([1.00, 1.01, 1.00], 2.0),
                   "c": ([1.00, 1.01, 1.00], None), "noisy": ([1.0, 1.4, 0.8], None),
                   "gone": ([1.0, 1.0], None)}, "old")
    new = _record({"a": ([0.70, 0.71, 0.70], 2.0), "b": ([1.30, 1.31, 1.29], 2.0),
                   "c": ([1.03, 1.02, 1.03], None), "noisy": ([1.3, 1.3, 1.31], None),
                   "fresh": ([1.0, 1.0], None)}, "new")
    verdicts = {c["id"]: c["verdict"] for c in bench["record"].compare(old, new)}
    assert verdicts == {"syn:a": "faster", "syn:b": "slower", "syn:c": "same",
                        "syn:noisy": "same",  # +30 % inside a 60 % spread
                        "syn:fresh": "new", "syn:gone": "gone"}
    # the command line: run.py --compare OLD NEW runs nothing, prints the verdicts
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    assert bench["run"].main(["--compare", str(tmp_path / "old.json"),
                              str(tmp_path / "new.json")]) == 0
    text = capsys.readouterr().out
    lines = {line.split()[1]: line for line in text.splitlines() if line.startswith("row ")}
    assert lines["a"].rstrip().endswith("FASTER") and "-30.0%" in lines["a"]
    assert lines["b"].rstrip().endswith("SLOWER") and "2.00× → 1.54×" in lines["b"]
    assert lines["c"].rstrip().endswith("same")
    assert "1 faster, 1 slower, 2 within the noise" in text


def test_compare_refuses_what_is_not_a_record(bench, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"hello": 1}))
    with pytest.raises(SystemExit):
        bench["run"].main(["--compare", str(bad), str(bad)])
    with pytest.raises(ValueError, match="not a benchmark record"):
        bench["run"].load_record(bad)


def test_rows_pick_the_faster_tf_path(bench):
    Row = bench["record"].Row
    r = Row("k", "label", scratch=[1.0, 1.2, 1.1], tf=[3.0, 3.0], xla=[2.0, 2.2], target=1.5)
    assert r.fastest == "xla" and r.t_best == pytest.approx(2.1)
    assert r.speedup == pytest.approx(2.1 / 1.1) and r.met is True
    r = Row("k", "label", scratch=[1.0], tf=[0.5], xla=None, xla_note="XLA failed: X")
    assert r.fastest == "graph" and r.speedup == pytest.approx(0.5) and r.met is None
    assert Row("k", "label", scratch=[1.0]).to_dict()["speedup"] is None


def test_warm_up_drops_a_failing_xla_path_only(bench):
    warm_up = bench["record"].warm_up

    def broken():
        raise RuntimeError("no kernel for this op")

    calls = []
    fns = [lambda: calls.append(1), None, broken]
    assert warm_up(fns, xla=[2]) == "XLA failed: RuntimeError"
    assert fns[2] is None and len(calls) == 3
    with pytest.raises(RuntimeError):
        warm_up({"tf": broken}, xla=["xla"])


def test_chart_is_drawn_from_a_record(bench, tmp_path):
    rec = {"created": "now", "machine": {"cpu_model": "test"}, "rows": [
        {"label": "fast row", "unit": "step", "tf_fastest": "xla",
         "median": {"scratch": 1e-3, "tf": 5e-3, "tf_xla": 3e-3}},
        {"label": "slow fit", "unit": "fit", "tf_fastest": "graph",
         "median": {"scratch": 2.0, "tf": 1.0, "tf_xla": None}}]}
    path = bench["record"].chart(rec, tmp_path / "c.png")
    assert path.read_bytes()[:8] == PNG_MAGIC


# ----------------------------------------------------------------------------- scaling, memory
def test_scaling_runs_at_tiny_sizes(bench, tmp_path):
    scaling = bench["scaling"]
    assert scaling.main(["--tiny", "--no-tf", "--repeats", "1", "--min-time", "0",
                         "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "scaling.json").read_text())
    assert len(data["points"]) == 3 * 3 * 2  # layers × axes × two sizes
    assert all(p["scratch"] > 0 and p["flops"] > 0 and p["tf"] is None
               for p in data["points"])
    assert (tmp_path / "scaling.png").read_bytes()[:8] == PNG_MAGIC
    # the work grows with the axis that moves
    for layer in scaling.LAYERS:
        for axis in scaling.AXES:
            small, large = [p for p in data["points"] if p["layer"] == layer
                            and p["axis"] == axis]
            assert large["flops"] > small["flops"]


def test_scaling_times_tf_keras_too(bench):
    pytest.importorskip("tensorflow")
    points = bench["scaling"].run(["dense"], ["batch"], tiny=True, repeats=1, min_time=0,
                                  verbose=False)
    assert len(points) == 2 and all(p["tf"] > 0 and p["scratch"] > 0 for p in points)


def test_memory_benchmark_reports_a_peak(tmp_path):
    frag = tmp_path / "memory.json"
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench_memory.py"), "--no-tf", "--only", "lstm",
         "--json", str(frag), "--repeats", "1"],
        capture_output=True, text=True, env=_env(), timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "ignored here: --repeats 1" in proc.stdout
    (m,) = json.loads(frag.read_text())["memory"]
    assert m["engine"] == "scratch" and m["workload"] == "lstm"
    assert m["peak_mb"] > m["rss_before_fit_mb"] * 0.5 > 0


def test_repeats_alternate_forward_then_backward(bench):
    """alternate() runs the functions 0 1 2, then 2 1 0, ...: each one only ever follows its
    neighbours or itself (a heavy tf.keras `predict` left last must not always precede
    scratch's first function); None is skipped, `before` runs ahead of its function."""
    calls = []
    fns = [lambda k=k: calls.append(k) for k in range(3)] + [None]
    before = [None, lambda: calls.append("reset"), None, None]
    times = bench["record"].alternate(fns, repeats=3, per=2, before=before)
    assert calls == [0, "reset", 1, 2, 2, "reset", 1, 0, 0, "reset", 1, 2]
    assert [len(t) for t in times[:3]] == [3, 3, 3] and times[3] is None


def test_every_benchmarks_help_prints(bench):
    """`--help` of a benchmark formats the shared options' help (a bare % in a help string
    once made argparse raise TypeError instead of printing it)."""
    import argparse

    parser = argparse.ArgumentParser()
    bench["record"].add_arguments(parser)
    text = parser.format_help()
    assert "--no-roof" in text and "% of the machine's limits" in text
    for script in ("bench_cnn", "bench_rnn", "bench_dense", "bench_nlp_gan", "bench_memory"):
        out = subprocess.run([sys.executable, str(BENCHMARKS / f"{script}.py"), "--help"],
                             capture_output=True, text=True, env=_env(), timeout=120)
        assert out.returncode == 0, (script, out.stderr[-2000:])
        assert "usage:" in out.stdout
