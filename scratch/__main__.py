"""`python -m scratch <command>`: the demo (the main job) and file tools.

    python -m scratch demo [--model dense|cnn] [--epochs N] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scratch")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train a course model in scratch and tf.keras side by side")
    demo.add_argument("--model", default="dense", choices=["dense", "cnn"],
                      help="dense: Lecture 24's network; cnn: Lecture 32's CNN")
    demo.add_argument("--epochs", type=int, default=None)
    demo.add_argument("--batch-size", type=int, default=32)
    demo.add_argument("--out", default="out", help="folder for the loss-curve plot")
    demo.add_argument("--no-keras", action="store_true", help="run scratch alone")
    for name in ("inspect", "parity"):
        p = sub.add_parser(name, help=f"{name} a Keras model file")
        p.add_argument("path")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(model=args.model, epochs=args.epochs, batch_size=args.batch_size,
                        out=args.out, use_keras=not args.no_keras)
    from . import cli_files  # issue 6: inspect / parity of .keras files

    return getattr(cli_files, args.command)(args.path)


if __name__ == "__main__":
    sys.exit(main())
