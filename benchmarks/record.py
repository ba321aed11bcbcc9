"""Benchmark rows, their table, and the record a user keeps: JSON, chart, comparison.

Every `bench_*.py` builds its results as `Row`s: the per-repeat times of scratch, of tf.keras'
plain compiled path (a `tf.function` graph: `train_on_batch`, `fit`, `predict` or a traced
function) and of tf.keras with XLA (`jit_compile=True`), and the work the row does
(`roof.model_flops` and friends). `print_table` shows for each row the faster tf.keras path,
scratch's speedup against it (tf.keras' time / scratch's time: above 1, scratch is faster),
the target, and the GFLOP/s (or GB/s) scratch reached with its share of the machine's roof
on one and two threads. `write_fragment` saves a benchmark's rows for `benchmarks/run.py`,
which merges the fragments with the machine's description into one record
(`out/bench_<time>.json`), draws `chart` and prints `compare` against an older record.

A repeat's times alternate the engines (scratch, tf.keras, tf.keras XLA, then back: XLA,
tf.keras, scratch, ...) so a change of the machine's load hits all alike; a row's
figure is the median of its repeats and its spread, (max − min) / median, is what `compare`
takes as the noise.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import math
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from roof import Roof, achieved, fmt_rate, gemm_flops, gemm_runner

__all__ = ["Row", "alternate", "repeated", "warm_up", "gemm_floor_row", "floor_note",
           "add_arguments", "finish", "print_table",
           "write_fragment", "machine_info", "build_record", "merge_passes", "best_tf_time",
           "print_record_table", "markdown_table", "compare", "print_comparison", "chart",
           "NOISE_FLOOR",
           "TF_PATHS"]

SCHEMA = 1
NOISE_FLOOR = 0.05  # a change under 5 % is never called faster or slower


# ----------------------------------------------------------------------------- timing
def repeated(fn: Callable[[], object] | None, steps: int) -> Callable[[], None] | None:
    """A function that calls `fn` `steps` times and keeps none of its results (None for None).

    A training loop drops each step's outputs; keeping them all (a list of the results) made
    every call write fresh memory: ten Conv2D forwards kept 168 MB of outputs alive, and
    scratch's forward took 7–8 ms there against 3.5 ms when each output was dropped (new pages
    are zeroed by the kernel on first touch)."""
    if fn is None:
        return None

    def run() -> None:
        for _ in range(steps):
            fn()
    return run


def alternate(fns: Sequence[Callable[[], object] | None], repeats: int, per: int = 1,
              before: Sequence[Callable[[], object] | None] | None = None) -> list:
    """Per-repeat seconds of each function (divided by `per`, the calls inside one), the
    repeats alternating between them; None in `fns` gives None. `before[i]` runs untimed
    ahead of each of fns[i]'s repeats (to reset weights and optimizer state).

    The order runs forward in even repeats and backward in odd ones (0 1 2, 2 1 0, 0 1 2,
    ...), so a function only ever runs right after its neighbours in the list or itself, never
    always after the last one: tf.keras' `predict` leaves its threads busy for a while after
    it returns, and scratch's GRU forward timed right after it took 1.4× its time."""
    times: list = [None if fn is None else [] for fn in fns]
    before = before or [None] * len(fns)
    n = len(fns)
    for r in range(repeats):
        for i in (range(n) if r % 2 == 0 else range(n - 1, -1, -1)):
            fn, reset, ts = fns[i], before[i], times[i]
            if fn is None:
                continue
            if reset is not None:
                reset()
            t0 = time.perf_counter()
            fn()
            ts.append((time.perf_counter() - t0) / per)
    return times


def warm_up(fns, xla=(), calls: int = 3) -> str:
    """Call each function of `fns` (a list or a dict; None entries are skipped) `calls` times:
    traces, compilations, first touch. One whose index or key is in `xla` and that fails is
    set to None (XLA could not compile that workload here) and the reason returned; any
    other failure raises."""
    note = ""
    for key in list(fns.keys() if isinstance(fns, dict) else range(len(fns))):
        fn = fns[key]
        if fn is None:
            continue
        try:
            for _ in range(calls):
                fn()
        except Exception as e:
            if key not in xla:
                raise
            fns[key], note = None, f"XLA failed: {type(e).__name__}"
    return note


def _median(ts) -> float | None:
    return statistics.median(ts) if ts else None


def spread(ts) -> float | None:
    """(max − min) / median of a row's repeats: how much this run's figure moved."""
    if not ts or len(ts) < 2:
        return None
    m = statistics.median(ts)
    return (max(ts) - min(ts)) / m if m > 0 else None


# ----------------------------------------------------------------------------- a row
@dataclass
class Row:
    """One workload timed in both engines.

    Times are seconds per `unit` ("step": one train step or call; "fit": a whole fit), one
    per repeat. `target` is the least speedup (tf.keras' fastest time / scratch's time) the
    project asks for, None for none. `work` is FLOPs (`kind="flops"`) or bytes
    (`kind="bytes"`) per unit.
    """

    key: str
    label: str
    scratch: list
    tf: list | None = None
    xla: list | None = None
    unit: str = "step"
    work: float | None = None
    kind: str = "flops"
    target: float | None = None
    note: str = ""
    xla_note: str = ""  # why there is no XLA figure, when there is none
    tf_path: str = "graph"  # what tf.keras' plain path is (graph, train_on_batch, fit, ...)
    floor_of: str = ""  # for a row of a workload's matrix products alone: that workload's key

    @property
    def t_scratch(self) -> float | None:
        return _median(self.scratch)

    @property
    def t_tf(self) -> float | None:
        return _median(self.tf)

    @property
    def t_xla(self) -> float | None:
        return _median(self.xla)

    @property
    def fastest(self) -> str | None:
        """"xla" or "graph": tf.keras' faster path in this run (None without tf.keras)."""
        if self.t_tf is None and self.t_xla is None:
            return None
        if self.t_xla is not None and (self.t_tf is None or self.t_xla < self.t_tf):
            return "xla"
        return "graph"

    @property
    def t_best(self) -> float | None:
        return {"xla": self.t_xla, "graph": self.t_tf, None: None}[self.fastest]

    @property
    def speedup(self) -> float | None:
        if self.t_best is None or not self.t_scratch:
            return None
        return self.t_best / self.t_scratch

    @property
    def met(self) -> bool | None:
        if self.target is None or self.speedup is None:
            return None
        return self.speedup >= self.target

    def to_dict(self, roof: Roof | None = None, bench: str = "") -> dict:
        return {
            "bench": bench, "key": self.key, "label": self.label, "unit": self.unit,
            "times": {"scratch": self.scratch, "tf": self.tf, "tf_xla": self.xla},
            "median": {"scratch": self.t_scratch, "tf": self.t_tf, "tf_xla": self.t_xla},
            "spread": {"scratch": spread(self.scratch), "tf": spread(self.tf),
                       "tf_xla": spread(self.xla)},
            "tf_fastest": self.fastest, "tf_path": self.tf_path, "xla_note": self.xla_note,
            "speedup": self.speedup, "target": self.target, "met": self.met,
            "work": self.work, "work_kind": self.kind,
            "scratch_rate": achieved(self.work, self.t_scratch, self.kind, roof),
            "tf_rate": achieved(self.work, self.t_best, self.kind, roof),
            "note": self.note, "floor_of": self.floor_of,
        }


GEMMS_LABEL = "  its matrix products alone"


def gemm_floor_row(parent: Row, shapes: list, repeats: int, steps: int,
                   threads: int | None = None) -> Row:
    """A row under `parent`: its workload's matrix products alone (`roof.model_gemms` or a
    list of (m, k, n); `roof.gemm_runner`), timed in the same run on `threads` BLAS threads
    (default: the machine's CPUs, at most two, as the roof measures), with no engine,
    im2col, activation, normalization or optimizer around them. It is the
    floor under any engine that computes the workload by GEMMs on this machine's BLAS; its
    note says how much of the time the parent's target allows those products alone take."""
    from scratch._threads import scoped_blas_threads

    if threads is None:  # the roof's rule (`roof.measure`)
        threads = min(2, os.cpu_count() or 1)
    run = gemm_runner(shapes)
    with scoped_blas_threads(threads):
        warm_up([run])
        (times,) = alternate([repeated(run, steps)], repeats, per=steps)
    row = Row(f"{parent.key}-gemms", GEMMS_LABEL, times, work=gemm_flops(shapes),
              floor_of=parent.key)
    row.note = floor_note(row.t_scratch, parent.t_best, parent.target)
    return row


def _floor_share(floor: float | None, best_tf: float | None,
                 target: float | None) -> tuple[float, float] | None:
    """(the time `target` allows: tf.keras' fastest / target, the products' share of it in
    %), or None when a figure is missing."""
    if not floor or not best_tf or not target:
        return None
    allowed = best_tf / target
    return allowed, 100 * floor / allowed


def floor_note(floor: float | None, best_tf: float | None, target: float | None) -> str:
    """What a products-alone row says: how much of the time the target allows they take."""
    share = _floor_share(floor, best_tf, target)
    if share is None:
        return ""
    return (f"{target:g}x tf.keras' fastest allows {_fmt_time(share[0])}: "
            f"these products alone take {share[1]:.0f}% of it")


# ----------------------------------------------------------------------------- the table
def _fmt_time(t: float | None) -> str:
    if t is None:
        return "n/a"
    if t >= 1.0:
        return f"{t:.2f} s"
    if t >= 1e-3:
        return f"{t * 1e3:.2f} ms"
    return f"{t * 1e6:.0f} µs"


def _pct(p: float | None) -> str:
    return "n/a" if p is None else (f"{p:.1f}%" if p >= 0.1 else f"{p:.2g}%")


def _row_tail(speedup, target, met, rate: dict, threads) -> str:
    """The columns both tables end with: speedup, target, met, scratch's rate and its share
    of each thread count's roof (`rate` as `roof.achieved` returns it)."""
    pct = "".join(f" {_pct((rate.get('roof_pct') or {}).get(str(t))):>6}" for t in threads)
    return (f" {(f'{speedup:.2f}×' if speedup else 'n/a'):>8} "
            f"{(f'≥{target:.3g}×' if target else '—'):>7} "
            f"{ {None: '—', True: 'yes', False: 'NO'}[met]:>4} "
            f"{fmt_rate(rate.get('rate')):>7} {rate.get('unit', ''):<7}{pct}")


def print_table(rows: Sequence[Row], roof: Roof | None, width: int = 46) -> None:
    """The rows with the new columns: tf.keras' two paths, the faster one, the speedup
    against it, the target, and scratch's GFLOP/s (GB/s) and % of the 1- and 2-thread roof."""
    threads = sorted(roof.gemm_gflops) if roof else []
    head = (f"{'workload':<{width}} {'scratch':>13} {'tf.keras':>10} {'tf XLA':>10} "
            f"{'best':>5} {'speedup':>8} {'target':>7} {'met':>4} {'rate':>7} {'unit':<7}"
            + "".join(f" {f'roof{t}T':>6}" for t in threads) + "  note")
    print(head)
    print("-" * len(head))
    for r in rows:
        a = achieved(r.work, r.t_scratch, r.kind, roof)
        per = "/step" if r.unit == "step" else ""
        xla = _fmt_time(r.t_xla) if r.xla else ("—" if not r.xla_note else "n/a")
        note = "; ".join(x for x in (r.note, r.xla_note) if x)
        print(f"{r.label[:width]:<{width}} {_fmt_time(r.t_scratch) + per:>13} "
              f"{_fmt_time(r.t_tf):>10} {xla:>10} {r.fastest or '—':>5}"
              f"{_row_tail(r.speedup, r.target, r.met, a, threads)}  {note}".rstrip(), flush=True)
    if any(r.speedup for r in rows):
        print("\nspeedup = the faster tf.keras time / scratch time (above 1: scratch is faster)"
              "\nbest = tf.keras' faster path (graph: tf.function as compiled by default; "
              "xla: jit_compile=True)\nrate = scratch's GFLOP/s (GB/s for memory-bound rows) "
              "on the counted work (benchmarks/roof.py); roofNT = its share of the N-thread "
              "roof")
        missed = [r.label for r in rows if r.met is False]
        print("all targets met" if not missed else f"targets NOT met: {', '.join(missed)}")


# ----------------------------------------------------------------------------- arguments
def add_arguments(parser) -> None:
    """The options every bench_*.py shares: its record fragment, the roof, XLA."""
    parser.add_argument("--json", default=None, metavar="PATH",
                        help="write this benchmark's rows to PATH (benchmarks/run.py does)")
    parser.add_argument("--roof", default=None, metavar="PATH",
                        help="the roof measured by benchmarks/run.py (default: measure it)")
    parser.add_argument("--no-roof", action="store_true",
                        help="no roof: rates without the %% of the machine's limits")
    parser.add_argument("--no-xla", action="store_true",
                        help="time tf.keras without XLA only")


def onednn_setting() -> str:
    """TensorFlow's oneDNN setting in this process, as TF_ENABLE_ONEDNN_OPTS makes it (on when
    unset: TensorFlow's default on x86-64 Linux)."""
    value = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1").strip().lower()
    return "oneDNN off" if value in ("0", "false", "off") else "oneDNN on"


def get_roof(args) -> Roof | None:
    from roof import load_or_measure

    if args.no_roof:
        return None
    return load_or_measure(args.roof)


def finish(args, bench: str, rows: Sequence[Row], roof: Roof | None, meta: dict,
           memory: Sequence[dict] = ()) -> None:
    """Print the table and, with --json, write the fragment."""
    if roof is not None:
        print(roof.describe())
    print_table(rows, roof)
    if args.json:
        write_fragment(args.json, bench, rows, roof, meta, memory)


def write_fragment(path, bench: str, rows: Sequence[Row], roof: Roof | None, meta: dict,
                   memory: Sequence[dict] = ()) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    data = {"bench": bench, "meta": meta, "rows": [r.to_dict(roof, bench) for r in rows],
            "memory": list(memory)}
    Path(path).write_text(json.dumps(data, indent=1))


# ----------------------------------------------------------------------------- the record
def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    """The CPU's name as the kernel reports it (platform.processor() elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def machine_info() -> dict:
    """The machine, its CPU tier, BLAS and the versions, for the record (no TensorFlow import:
    its version comes from the installed package's metadata)."""
    from scratch import _threads, cpu_tier

    return {
        "platform": platform.platform(), "machine": platform.machine(),
        "cpu_model": cpu_model(), "cpu_count": os.cpu_count(),
        "cpu_tier": {"describe": cpu_tier.describe(), "numpy_tier": cpu_tier.numpy_tier(),
                     "numba_target": cpu_tier.numba_target()},
        "blas": _threads.describe_blas(),
        "blas_libraries": [{k: v for k, v in lib.items() if k != "prefix"}
                           for lib in _threads.blas_info()],
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "versions": {"python": platform.python_version(),
                     **{name: _version(name) for name in
                        ("scratch", "numpy", "scipy", "numba", "llvmlite", "tensorflow-cpu",
                         "tensorflow", "keras", "threadpoolctl")}},
        "git_commit": _git_commit(Path(__file__).resolve().parent.parent),
    }


def build_record(fragments: Sequence[dict], roof: Roof | None, runs: dict,
                 machine: dict | None = None) -> dict:
    """One JSON-able record of a `benchmarks/run.py` run."""
    rows, memory = [], []
    for frag in fragments:
        rows += frag.get("rows", [])
        memory += frag.get("memory", [])
    return {
        "schema": SCHEMA,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "machine": machine if machine is not None else machine_info(),
        "roof": roof.to_dict() if roof else None,
        "benchmarks": runs,
        "meta": {f["bench"]: f.get("meta", {}) for f in fragments},
        "rows": rows,
        "memory": memory,
    }


# ----------------------------------------------------------------------------- two passes
# TensorFlow decides once per process, at import, whether its CPU kernels are oneDNN's
# (TF_ENABLE_ONEDNN_OPTS; on by default on x86-64 Linux). Its oneDNN convolutions are up to
# twice as fast as its Eigen ones, some small ops slower, so `benchmarks/run.py` runs every
# benchmark twice, oneDNN off then on, each pass timing scratch side by side with tf.keras'
# graph and XLA paths. A row of the record holds the four tf.keras paths; its speedup is the
# smaller of the two passes' side-by-side speedups: against tf.keras' fastest path, and never
# a ratio of times taken in different processes.
TF_PATHS = {"tf": "graph", "tf_xla": "xla", "tf_onednn": "oneDNN", "tf_onednn_xla": "oneDNN+xla"}
_PASS_KEYS = {False: ("tf", "tf_xla"), True: ("tf_onednn", "tf_onednn_xla")}


def merge_passes(passes: Sequence[tuple], roof: Roof | None = None) -> dict:
    """One fragment from the same benchmark's passes, [(oneDNN on?, fragment), ...] or, over
    several runs (`run.py --runs`), [(oneDNN on?, fragment, run), ...]: each row gets every
    pass's tf.keras times under its own path names (`TF_PATHS`) and scratch's times of all
    passes; its speedup is, per run, the smaller of that run's side-by-side speedups, and
    over several runs the median of those; `tf_fastest` names the path with the lowest
    median time."""
    if len(passes) == 1 and not passes[0][0]:
        return passes[0][1]
    merged: dict[str, dict] = {}
    for onednn, frag, *run in passes:
        sources = {"scratch": "scratch", _PASS_KEYS[onednn][0]: "tf",
                   _PASS_KEYS[onednn][1]: "tf_xla"}
        for row in frag.get("rows", []):
            m = merged.setdefault(row["key"], {**row, "times": {}, "passes": []})
            for key, source in sources.items():
                times = row["times"][source]
                old = m["times"].get(key)
                m["times"][key] = old if times is None else (old or []) + list(times)
            m["passes"].append({"run": run[0] if run else 0, "onednn": onednn,
                                "speedup": row["speedup"], "tf_fastest": row["tf_fastest"],
                                "scratch_median": row["median"]["scratch"]})
    rows = []
    for m in merged.values():
        times = m["times"]
        m["median"] = {k: _median(v) for k, v in times.items()}
        m["spread"] = {k: spread(v) for k, v in times.items()}
        paths = {k: t for k, t in m["median"].items() if k != "scratch" and t}
        best = min(paths, key=paths.get) if paths else None
        m["tf_fastest"] = best and TF_PATHS[best]
        m["tf_best_key"] = best
        per_run: dict[int, float] = {}
        for p in m["passes"]:
            if p["speedup"]:
                per_run[p["run"]] = min(per_run.get(p["run"], math.inf), p["speedup"])
        m["run_speedups"] = [per_run[r] for r in sorted(per_run)]
        m["speedup"] = statistics.median(per_run.values()) if per_run else None
        m["met"] = None if m["target"] is None or m["speedup"] is None else (
            m["speedup"] >= m["target"])
        m["scratch_rate"] = achieved(m["work"], m["median"]["scratch"], m["work_kind"], roof)
        m["tf_rate"] = achieved(m["work"], best and m["median"][best], m["work_kind"], roof)
        rows.append(m)
    by_key = {m["key"]: m for m in rows}
    for m in rows:
        parent = by_key.get(m.get("floor_of") or "")
        if parent is not None:
            m["note"] = floor_note(m["median"]["scratch"], best_tf_time(parent),
                                   parent["target"])
    first = passes[0][1]
    return {**first, "rows": rows,
            "meta": {("onednn" if on else "eigen"): f.get("meta", {}) for on, f, *_ in passes},
            "memory": [x for _, f, *_ in passes for x in f.get("memory", [])]}


def best_tf_time(row: dict) -> float | None:
    """The median time of tf.keras' fastest path in a record's row (old records: graph/xla)."""
    key = row.get("tf_best_key") or {"xla": "tf_xla", "graph": "tf"}.get(row.get("tf_fastest"))
    return row["median"].get(key) if key else None


def print_record_table(record: dict, width: int = 46) -> None:
    """The merged rows of a record: scratch, the four tf.keras paths, the fastest, the
    speedup (the smaller of the passes'), the target, scratch's rate and share of the roof."""
    roof = record.get("roof") or {}
    threads = sorted(roof.get("gemm_gflops", {}), key=int)
    names = list(TF_PATHS)
    head = (f"{'workload':<{width}} {'scratch':>13}"
            + "".join(f" {TF_PATHS[k]:>10}" for k in names)
            + f" {'speedup':>8} {'target':>7} {'met':>4} {'rate':>7} {'unit':<7}"
            + "".join(f" {f'roof{t}T':>6}" for t in threads) + "  note")
    print(head)
    print("-" * len(head))
    for r in record.get("rows", []):
        med = r["median"]
        per = "/step" if r["unit"] == "step" else ""
        cells = "".join(
            f" {(_fmt_time(med.get(k)) + ('*' if k == r.get('tf_best_key') else '')):>10}"
            for k in names)
        tail = _row_tail(r.get("speedup"), r.get("target"), r.get("met"),
                         r.get("scratch_rate") or {}, threads)
        note = r.get("note", "") if r.get("floor_of") else ""
        print(f"{r['label'][:width]:<{width}} {_fmt_time(med.get('scratch')) + per:>13}{cells}"
              f"{tail}  {note}".rstrip(), flush=True)
    runs = max((len(r.get("run_speedups") or []) for r in record.get("rows", [])), default=1)
    print("\n* = tf.keras' fastest path (median time); speedup = the smaller of the two passes' "
          "side-by-side speedups (oneDNN off, oneDNN on) against the faster of that pass' "
          "graph and XLA paths" + (f"; the median of {runs} runs" if runs > 1 else ""))
    missed = [r["label"] for r in record.get("rows", []) if r.get("met") is False]
    print("all targets met" if not missed else f"targets NOT met: {', '.join(missed)}")


def markdown_table(record: dict) -> str:
    """The merged rows of a record as the README's speed table (Markdown): scratch's median
    time, tf.keras' fastest path and its time, the speedup (median of the runs, each run's in
    brackets), the target, scratch's rate and its share of the 1- and 2-thread roofs; a
    products-alone row gives its share of the time its workload's target allows instead."""
    roof = record.get("roof") or {}
    threads = sorted(roof.get("gemm_gflops", {}), key=int)
    shares = " / ".join(f"{t}" for t in threads)
    lines = ["| workload | scratch | tf.keras' fastest path | speedup, median of the runs "
             "(each run) | target | scratch GFLOP/s (% of the " + shares + "-thread roof) |",
             "|---|---|---|---|---|---|"]
    by_key = {r["key"]: r for r in record.get("rows", [])}
    for r in record.get("rows", []):
        med = r["median"]
        best = r.get("tf_best_key")
        fastest = (f"{TF_PATHS[best].replace('xla', 'XLA')}: {_fmt_time(med.get(best))}"
                   if best else "—")
        if r.get("speedup"):
            runs = ", ".join(f"{x:.2f}" for x in r.get("run_speedups") or [])
            speed = f"**{r['speedup']:.2f}×**" + (f" ({runs})" if runs else "")
        else:
            speed = "—"
        parent = by_key.get(r.get("floor_of") or "")
        if parent is not None:
            share = _floor_share(med.get("scratch"), best_tf_time(parent), parent["target"])
            target = (f"{share[1]:.0f} % of the {_fmt_time(share[0])} that "
                      f"{parent['target']:g}× allows" if share else "—")
        elif r.get("target") is None:
            target = "—"
        else:
            target = f"≥ {r['target']:.3g}× {'✓' if r.get('met') else '✗'}"
        rate = r.get("scratch_rate") or {}
        pct = " / ".join(_pct((rate.get("roof_pct") or {}).get(str(t))).replace("%", " %")
                         for t in threads)
        unit = "" if rate.get("unit") == "GFLOP/s" else f" {rate.get('unit', '')}"
        rate_cell = (f"{fmt_rate(rate.get('rate'))}{unit} ({pct})" if rate.get("rate")
                     else "—")
        lines.append(f"| {r['label'].strip()} | {_fmt_time(med.get('scratch'))} | {fastest} | "
                     f"{speed} | {target} | {rate_cell} |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- compare
def _row_id(row: dict) -> str:
    return f"{row.get('bench', '')}:{row['key']}"


def compare(old: dict, new: dict, floor: float = NOISE_FLOOR) -> list[dict]:
    """Row by row (same benchmark and key), scratch's median time old → new and a verdict:
    "faster" or "slower" when the change is beyond the noise, max(the two runs' spreads,
    `floor`), else "same"; rows found in one record only come as "new" or "gone"."""
    old_rows = {_row_id(r): r for r in old.get("rows", [])}
    new_rows = {_row_id(r): r for r in new.get("rows", [])}
    out = []
    for rid, n in new_rows.items():
        o = old_rows.get(rid)
        if o is None:
            out.append({"id": rid, "label": n["label"], "verdict": "new"})
            continue
        t_old, t_new = o["median"]["scratch"], n["median"]["scratch"]
        if not t_old or not t_new:
            out.append({"id": rid, "label": n["label"], "verdict": "n/a"})
            continue
        noise = max(floor, o["spread"]["scratch"] or 0.0, n["spread"]["scratch"] or 0.0)
        change = t_new / t_old - 1.0
        verdict = ("faster" if t_new < t_old * (1 - noise) else
                   "slower" if t_new > t_old * (1 + noise) else "same")
        out.append({"id": rid, "label": n["label"], "verdict": verdict, "old": t_old,
                    "new": t_new, "change": change, "noise": noise,
                    "speedup_old": o.get("speedup"), "speedup_new": n.get("speedup"),
                    "single_repeat": o["spread"]["scratch"] is None
                    or n["spread"]["scratch"] is None})
    for rid, o in old_rows.items():
        if rid not in new_rows:
            out.append({"id": rid, "label": o["label"], "verdict": "gone"})
    return out


def print_comparison(old: dict, new: dict, floor: float = NOISE_FLOOR) -> list[dict]:
    result = compare(old, new, floor)
    om, nm = old.get("machine", {}), new.get("machine", {})
    print(f"\ncomparison: {old.get('created', '?')} → {new.get('created', '?')}")
    if om.get("cpu_model") != nm.get("cpu_model") or om.get("cpu_tier") != nm.get("cpu_tier"):
        print(f"note: different machines ({om.get('cpu_model')} → {nm.get('cpu_model')}): "
              "compare the speedups against tf.keras, not the times")
    head = (f"{'workload':<46} {'old':>10} {'new':>10} {'change':>8} {'noise':>6} "
            f"{'vs tf.keras old → new':>22}  verdict")
    print(head)
    print("-" * len(head))
    for c in result:
        if "change" not in c:
            print(f"{c['label'][:46]:<46} {'':>10} {'':>10} {'':>8} {'':>6} {'':>22}  "
                  f"{c['verdict']}")
            continue
        sp = ("n/a" if not (c["speedup_old"] and c["speedup_new"]) else
              f"{c['speedup_old']:.2f}× → {c['speedup_new']:.2f}×")
        verdict = c["verdict"] if c["verdict"] == "same" else c["verdict"].upper()
        print(f"{c['label'][:46]:<46} {_fmt_time(c['old']):>10} {_fmt_time(c['new']):>10} "
              f"{c['change']:>+8.1%} {c['noise']:>6.0%} {sp:>22}  {verdict}")
    single = [c["label"].strip() for c in result if c.get("single_repeat")]
    if single:
        print(f"note: {len(single)} row(s) had one repeat in one of the runs, hence no spread "
              f"there: their noise is the other run's spread or the {floor:.0%} floor (use "
              f"-- --repeats 3 or more)")
    counts = {v: sum(c["verdict"] == v for c in result) for v in ("faster", "slower", "same")}
    print(f"{counts['faster']} faster, {counts['slower']} slower, {counts['same']} within the "
          f"noise (scratch's median time; noise = the larger spread of the two runs, at least "
          f"{floor:.0%})")
    return result


# ----------------------------------------------------------------------------- the chart
def chart(record: dict, path, title: str | None = None) -> Path | None:
    """A horizontal bar chart, log scale: per workload scratch's time and tf.keras' fastest
    (its path named). None when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = [r for r in record.get("rows", []) if r["median"]["scratch"]]
    if not rows:
        return None
    labels = [f"{r['label']}{' (per step)' if r['unit'] == 'step' else ''}" for r in rows]
    s = [r["median"]["scratch"] for r in rows]
    k = [best_tf_time(r) for r in rows]
    y = list(range(len(rows)))[::-1]
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(rows) + 1.6))
    h = 0.38
    ax.barh([v + h / 2 for v in y], s, height=h, label="scratch", color="tab:blue")
    kb = [v if v else math.nan for v in k]
    ax.barh([v - h / 2 for v in y], kb, height=h, label="tf.keras (fastest path)",
            color="tab:orange")
    for yy, r, sv, kv in zip(y, rows, s, k):
        if kv:
            sp = r.get("speedup") or kv / sv
            ax.text(max(sv, kv) * 1.08, yy,
                    (f"{sp:.0f}×" if sp >= 10 else f"{sp:.2f}×") + f" ({r['tf_fastest']})",
                    va="center", fontsize=7)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("seconds (log scale; per step for train steps, per run for fits)")
    m = record.get("machine", {})
    ax.set_title(title or f"scratch vs tf.keras — {m.get('cpu_model', '?')}, "
                          f"{m.get('cpu_count', '?')} CPUs ({record.get('created', '')})",
                 fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    ax.margins(x=0.25)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
