"""Keras-style progress output for fit (verbose=1: a bar per epoch, verbose=2: one line)."""

from __future__ import annotations

import sys


def _fmt_logs(logs: dict) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


class Progbar:
    def __init__(self, steps: int, verbose: int, epoch: int, epochs: int, width: int = 20):
        self.steps, self.verbose, self.width = steps, verbose, width
        if verbose:
            print(f"Epoch {epoch + 1}/{epochs}")

    @property
    def shows_steps(self) -> bool:
        """Whether `update` draws anything (verbose=1 on a terminal)."""
        return self.verbose == 1 and sys.stdout.isatty()

    def update(self, step: int, logs: dict) -> None:
        if not self.shows_steps:
            return
        done = int(self.width * step / max(self.steps, 1))
        bar = "━" * done + " " * (self.width - done)
        sys.stdout.write(f"\r{step}/{self.steps} {bar} - {_fmt_logs(logs)}")
        sys.stdout.flush()

    def finish(self, logs: dict, seconds: float) -> None:
        per_step = 1000 * seconds / max(self.steps, 1)
        timing = f"{seconds:.0f}s {per_step:.0f}ms/step"
        if self.verbose == 1:
            bar = "━" * self.width
            sys.stdout.write(f"\r{self.steps}/{self.steps} {bar} {timing} - {_fmt_logs(logs)}\n")
        elif self.verbose == 2:
            print(f"{self.steps}/{self.steps} - {timing} - {_fmt_logs(logs)}")
