"""Run the benchmarks: every ``benchmarks/bench_*.py``, or a selection by name; keep the record.

    python benchmarks/run.py                     # all of them, one after the other
    python benchmarks/run.py dense               # bench_dense.py only ("bench_dense" works too)
    python benchmarks/run.py dense -- --repeats 5 --only l24
    python benchmarks/run.py --compare out/bench_OLD.json          # run, then compare
    python benchmarks/run.py --compare out/bench_OLD.json out/bench_NEW.json   # compare only
    python benchmarks/run.py --runs 3               # all of them three times: medians of runs
    python benchmarks/run.py --list

First the machine's roof is measured (`roof.measure`: NumPy float32 GEMM and memory bandwidth,
on one and two threads); then each benchmark runs in its own Python process (TensorFlow and
BLAS settings stay separate), with this interpreter; arguments after ``--`` go to every
selected benchmark. TensorFlow fixes its oneDNN setting (TF_ENABLE_ONEDNN_OPTS) per process,
so each benchmark runs twice, oneDNN off then on (TensorFlow's default on x86-64 Linux; its
oneDNN convolutions are up to twice as fast): every pass times scratch side by side with
tf.keras' graph and XLA paths, and a row's speedup is the smaller of the two passes'
(`record.merge_passes`; ``--onednn off|on`` runs one pass). Each pass prints its table and
hands its rows back; at the end the merged table shows the four tf.keras paths. This script
writes the rows, with the machine (CPU model, CPU tier, BLAS, versions, load) and the roof, to
``OUT/bench_<UTC time>.json`` and draws ``OUT/bench_<UTC time>.png`` (scratch against
tf.keras' faster path per workload, log scale); ``OUT/bench_latest.json`` / ``.png`` are
copies of the newest. ``--compare OLD.json`` then prints, row by row, what got faster or slower
beyond the noise (`record.compare`). The exit status is 0 when every selected benchmark
exited 0.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
if str(HERE.parent) not in sys.path:  # a checkout that was not `pip install -e`d
    sys.path.append(str(HERE.parent))


# benchmarks run once, with TensorFlow's default (oneDNN on), when both passes are asked for:
# the memory benchmark measures a peak, not a speed
SINGLE_PASS = {"memory": (True,)}


def discover() -> dict[str, Path]:
    """Benchmark names ("dense" for bench_dense.py) → script paths, sorted by name."""
    return {p.stem.removeprefix("bench_"): p for p in sorted(HERE.glob("bench_*.py"))}


def select(available: dict[str, Path], names: list[str]) -> list[Path]:
    """The scripts named in `names` (with or without the ``bench_`` prefix or ``.py``)."""
    if not names:
        return list(available.values())
    chosen = []
    for name in names:
        key = Path(name).stem.removeprefix("bench_")
        if key not in available:
            raise ValueError(f"Unknown benchmark {name!r}: expected one of "
                             f"{sorted(available)}. Received: {name!r}")
        if available[key] not in chosen:
            chosen.append(available[key])
    return chosen


def load_record(path: str | Path) -> dict:
    """A record written by this script (a clear error for anything else)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"Could not read a benchmark record from {str(path)!r}: {e}") from e
    if not isinstance(data, dict) or "rows" not in data:
        raise ValueError(f"{str(path)!r} is not a benchmark record (no 'rows'). "
                         f"Received keys: {sorted(data) if isinstance(data, dict) else data!r}")
    return data


def tf_passes(extra: list[str], onednn: str = "both") -> tuple[bool, ...]:
    """TensorFlow's oneDNN settings to run each benchmark with: off and on ("both", the
    default), one of them, or off alone when tf.keras is not timed (--no-tf, or no
    TensorFlow installed)."""
    if "--no-tf" in extra or importlib.util.find_spec("tensorflow") is None:
        return (False,)
    return {"both": (False, True), "off": (False,), "on": (True,)}[onednn]


def run_benchmarks(scripts: list[Path], extra: list[str], out: Path, roof_kwargs: dict,
                   record: bool = True, passes: tuple[bool, ...] = (False,),
                   repeat_runs: int = 1) -> tuple[int, dict | None]:
    """Measure the roof, run `scripts` (each once per oneDNN setting in `passes`, the whole
    set `repeat_runs` times), write the record and chart into `out`; returns (exit status,
    the record or None)."""
    import record as rec
    from roof import measure

    machine = rec.machine_info() if record else None
    t0 = time.perf_counter()
    roof = measure(**roof_kwargs)
    print(f"{roof.describe()}  [{time.perf_counter() - t0:.1f} s]\n", flush=True)
    failed, runs = [], {}
    done: dict[str, list] = {}  # benchmark name → [(oneDNN on?, fragment, run), ...]
    with tempfile.TemporaryDirectory(prefix="scratch-bench-") as tmp:
        roof_path = Path(tmp) / "roof.json"
        roof_path.write_text(json.dumps(roof.to_dict()))
        for run_index, script in itertools.product(range(repeat_runs), scripts):
            name = script.stem.removeprefix("bench_")
            if script == scripts[0] and repeat_runs > 1:
                print(f"##### run {run_index + 1} of {repeat_runs}\n", flush=True)
            for onednn in (SINGLE_PASS.get(name, passes) if len(passes) > 1 else passes):
                frag = Path(tmp) / f"{name}-{'onednn' if onednn else 'eigen'}-{run_index}.json"
                args = ([*extra, "--roof", str(roof_path)]
                        + (["--json", str(frag)] if record else []))
                setting = "oneDNN on" if onednn else "oneDNN off"
                print(" ".join(["===", str(script.relative_to(HERE.parent)), *extra,
                                f"[TensorFlow {setting}]"]), flush=True)
                env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "1" if onednn else "0"}
                t1 = time.perf_counter()
                rc = subprocess.call([sys.executable, str(script), *args], env=env)
                seconds = time.perf_counter() - t1
                print(f"=== {script.name} [{setting}]: exit {rc} after {seconds:.1f} s\n",
                      flush=True)
                run = runs.setdefault(name, {"exit": 0, "seconds": 0.0, "args": extra,
                                             "passes": []})
                run["exit"] = run["exit"] or rc
                run["seconds"] = round(run["seconds"] + seconds, 1)
                run["passes"].append({"run": run_index, "onednn": onednn, "exit": rc,
                                      "seconds": round(seconds, 1)})
                if rc != 0:
                    failed.append(f"{script.name} [{setting}]")
                if frag.exists():
                    done.setdefault(name, []).append(
                        (onednn, json.loads(frag.read_text()), run_index))
    fragments = [rec.merge_passes(done[name], roof) for name in done]
    if failed:
        print(f"failed: {', '.join(failed)}")
    if not record:
        return (1 if failed else 0), None
    data = rec.build_record(fragments, roof, runs, machine)
    if (len(passes) > 1 or repeat_runs > 1) and data["rows"]:
        print("=== all rows, tf.keras' four paths side by side with scratch\n")
        rec.print_record_table(data)
        print()
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"bench_{stamp}.json"
    path.write_text(json.dumps(data, indent=1))
    shutil.copyfile(path, out / "bench_latest.json")
    print(f"record: {path} (and {out / 'bench_latest.json'})")
    png = rec.chart(data, out / f"bench_{stamp}.png")
    if png is not None:
        shutil.copyfile(png, out / "bench_latest.png")
        print(f"chart: {png} (and {out / 'bench_latest.png'})")
    else:
        print("(matplotlib not installed or no rows: no chart)")
    return (1 if failed else 0), data


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--out", default="out", help="folder of the record and chart (out/)")
    parser.add_argument("--compare", nargs="+", metavar="RECORD",
                        help="OLD.json: compare this run with it; OLD.json NEW.json: compare "
                             "the two records and run nothing")
    parser.add_argument("--markdown", metavar="RECORD",
                        help="print a record's rows as the README's speed table and run nothing")
    parser.add_argument("--no-record", action="store_true",
                        help="print the tables only: no JSON, no chart")
    parser.add_argument("--onednn", choices=("both", "off", "on"), default="both",
                        help="TensorFlow's oneDNN setting(s): each benchmark runs once per "
                             "setting (default: both, off then on)")
    parser.add_argument("--runs", type=int, default=1,
                        help="run the whole selection this many times; a row's speedup is "
                             "then the median of the runs' (default 1)")
    parser.add_argument("--roof-gemm-n", type=int, default=2048,
                        help="size of the roof's GEMM (n×n by n×n)")
    parser.add_argument("--roof-mb", type=float, default=256,
                        help="size in MB of each array of the bandwidth measurement")
    args = parser.parse_args(argv)
    import record as rec

    available = discover()
    if args.list:
        for name, path in available.items():
            print(f"{name:<12} {path.relative_to(HERE.parent)}")
        return 0
    if args.markdown:
        try:
            print(rec.markdown_table(load_record(args.markdown)))
        except ValueError as e:
            parser.error(str(e))
        return 0
    old = None
    if args.compare:
        if len(args.compare) > 2:
            parser.error(f"--compare expected OLD.json or OLD.json NEW.json. "
                         f"Received: {args.compare}")
        try:
            old = load_record(args.compare[0])
            if len(args.compare) == 2:
                rec.print_comparison(old, load_record(args.compare[1]))
                return 0
        except ValueError as e:
            parser.error(str(e))
        if args.no_record:
            parser.error("--compare needs this run's record: drop --no-record")
    if args.runs < 1:
        parser.error(f"--runs expected a positive integer. Received: {args.runs}")
    if args.roof_gemm_n < 1 or args.roof_mb <= 0:
        parser.error(f"--roof-gemm-n and --roof-mb expected positive numbers. Received: "
                     f"{args.roof_gemm_n}, {args.roof_mb}")
    try:
        scripts = select(available, args.names)
    except ValueError as e:
        parser.error(str(e))
    if not scripts:
        print("no benchmarks/bench_*.py found")
        return 1
    rc, data = run_benchmarks(scripts, extra, Path(args.out),
                              {"gemm_n": args.roof_gemm_n, "bandwidth_mb": args.roof_mb},
                              record=not args.no_record,
                              passes=tf_passes(extra, args.onednn), repeat_runs=args.runs)
    if old is not None and data is not None:
        rec.print_comparison(old, data)
    return rc


if __name__ == "__main__":
    sys.exit(main())
