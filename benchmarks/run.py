"""Run the benchmarks: every ``benchmarks/bench_*.py``, or a selection by name.

    python benchmarks/run.py                     # all of them, one after the other
    python benchmarks/run.py dense               # bench_dense.py only ("bench_dense" works too)
    python benchmarks/run.py dense -- --repeats 5 --only l24
    python benchmarks/run.py --list

Each benchmark runs in its own Python process (TensorFlow and BLAS settings stay separate),
with this interpreter; arguments after ``--`` go to every selected benchmark. The exit status
is 0 when every selected benchmark exited 0.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


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


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    available = discover()
    if args.list:
        for name, path in available.items():
            print(f"{name:<12} {path.relative_to(HERE.parent)}")
        return 0
    try:
        scripts = select(available, args.names)
    except ValueError as e:
        parser.error(str(e))
    if not scripts:
        print("no benchmarks/bench_*.py found")
        return 1
    failed = []
    for script in scripts:
        print(f"=== {script.relative_to(HERE.parent)} {' '.join(extra)}".rstrip(), flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(script), *extra])
        print(f"=== {script.name}: exit {rc} after {time.perf_counter() - t0:.1f} s\n",
              flush=True)
        if rc != 0:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
