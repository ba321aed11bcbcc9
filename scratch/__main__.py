"""`python -m scratch <command>`: the demo (the main job) and file tools.

    python -m scratch demo [--model dense|cnn] [--epochs N] [--out DIR]
    python -m scratch warmup [--dtypes float32 float64]
                                                   # compile the Numba kernels into their cache
    python -m scratch inspect PATH                 # a Keras file's summary (no TensorFlow)
    python -m scratch parity PATH [--steps N] [--x DATA.npz]
                                                   # the parity report against tf.keras
"""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "parity":  # keras_ref's parity report has its own arguments
        from keras_ref import compare_main

        return compare_main(argv[1:])
    if argv and argv[0] == "warmup":
        from .warmup import main as warmup_main

        return warmup_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m scratch")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train a course model in scratch and tf.keras side by side")
    demo.add_argument("--model", default="dense", choices=["dense", "cnn"],
                      help="dense: Lecture 24's network; cnn: Lecture 32's CNN")
    demo.add_argument("--epochs", type=int, default=None)
    demo.add_argument("--batch-size", type=int, default=32)
    demo.add_argument("--out", default="out", help="folder for the loss-curve plot")
    demo.add_argument("--no-keras", action="store_true", help="run scratch alone")
    inspect = sub.add_parser("inspect", help="inspect a Keras model file")
    inspect.add_argument("path")
    sub.add_parser("warmup", help="compile the Numba kernels into their cache "
                                  "(python -m scratch warmup --help)")
    sub.add_parser("parity", help="the parity report of a .keras file against tf.keras "
                                  "(python -m scratch parity --help)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(model=args.model, epochs=args.epochs, batch_size=args.batch_size,
                        out=args.out, use_keras=not args.no_keras)
    from . import cli_files

    return cli_files.inspect(args.path)


if __name__ == "__main__":
    sys.exit(main())
