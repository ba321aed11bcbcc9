"""The progress output of `fit`, `evaluate` and `predict`, as Keras 3 prints it (its
`Progbar` driven by `ProgbarLogger`).

    verbose=1   "Epoch 3/10" (fit, only when epochs > 1), then a bar redrawn during the
                epoch (or the evaluation, or the prediction), at most every `interval` =
                0.05 s, and drawn once more, complete, with the final logs (validation and
                the callbacks' keys included; predict has none) at its end
    verbose=2   one line per epoch (or call), at its end: "32/32 - 0s - 3ms/step - loss: ..."

How a redraw reaches the screen depends on where stdout goes, decided as Keras decides it
(`dynamic_display`): a terminal, Jupyter/Colab (ipykernel), PyCharm, or any POSIX system
(Keras tests for the module "posix", which every Linux and macOS Python has) redraws the
line in place with backspaces and a carriage return, so a pipe or a log file there receives
every redraw; elsewhere (Windows outside a terminal) each redraw is a new line. The text is
Keras' own: the step count in bold, the bar in green and grey (ANSI escape codes), the time
left (or taken), the time per step, and every log value with 4 decimals (or 4 significant
digits in e-notation below 1e-3).
"""

from __future__ import annotations

import math
import os
import sys
import time


def dynamic_display() -> bool:
    """Keras' `Progbar._dynamic_display`: redraw in place (else print a line per update)."""
    return ((hasattr(sys.stdout, "isatty") and sys.stdout.isatty())
            or "ipykernel" in sys.modules or "posix" in sys.modules
            or "PYCHARM_HOSTED" in os.environ)


def print_msg(message: str) -> None:
    """Keras' `io_utils.print_msg(message, line_break=False)`: write and flush stdout (the
    bar's characters become "=" where stdout's encoding has no "━")."""
    try:
        sys.stdout.write(message)
    except UnicodeEncodeError:
        encoding = sys.stdout.encoding or "utf-8"
        message = message.replace("━", "=").encode(encoding, errors="ignore").decode(encoding)
        sys.stdout.write(message)
    sys.stdout.flush()


def format_time(time_per_unit: float, unit_name: str = "step") -> str:
    """" 2s/step", " 12ms/step" or " 850us/step" (Keras' `_format_time`)."""
    if time_per_unit >= 1 or time_per_unit == 0:
        return f" {time_per_unit:.0f}s/{unit_name}"
    if time_per_unit >= 1e-3:
        return f" {time_per_unit * 1000.0:.0f}ms/{unit_name}"
    return f" {time_per_unit * 1000000.0:.0f}us/{unit_name}"


class Progbar:
    """One epoch's progress bar (Keras' `Progbar` with its `ProgbarLogger` settings: every
    log value shown as it is, not averaged by the bar).

    Args:
        target: the number of steps of the epoch.
        verbose: 0 (silent), 1 (the bar) or 2 (one line at the end).
        epoch, epochs: for the "Epoch e/E" header, printed when verbose and epochs > 1.
        width: the bar's width in characters; interval: the least time between redraws.
    """

    def __init__(self, target: int, verbose: int, epoch: int = 0, epochs: int = 1,
                 width: int = 20, interval: float = 0.05) -> None:
        self.target, self.verbose, self.width, self.interval = target, verbose, width, interval
        if verbose and epochs > 1:
            print_msg(f"Epoch {epoch + 1}/{epochs}\n")
        self._dynamic_display = dynamic_display()
        self._values: dict[str, float] = {}
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step: float | None = None
        self._prev_total_width = 0

    @property
    def shows_steps(self) -> bool:
        """Whether `update` during the epoch may draw (verbose=1): fit then builds the logs
        of every step for it."""
        return self.verbose == 1

    def update(self, current: int, logs: dict, finalize: bool = False) -> None:
        """Record step `current`'s logs and redraw, if `interval` has passed since the last
        redraw or this is the final one."""
        self._values.update(logs)
        now = time.time()
        time_per_unit = self._estimate_step_duration(current, now)
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            self._draw(current, now, time_per_unit, finalize)
        elif self.verbose == 2 and finalize and self.target:
            digits = int(math.log10(self.target)) + 1
            info = f"{current:{digits}d}/{self.target} - {now - self._start:.0f}s"
            info += f" -{format_time(time_per_unit)}"
            for k, v in self._values.items():
                info += f" - {k}: {v:.4f}" if v > 1e-3 else f" - {k}: {v:.4e}"
            print_msg(info + "\n")
        self._last_update = now

    def finish(self, logs: dict, seen: int | None = None) -> None:
        """The epoch's last line, with its complete logs (Keras' `_finalize_progbar`); a bar
        of unknown length ("3/Unknown" while drawn) ends as `seen`/`seen`."""
        if not self.target:
            self.target = seen
        self.update(self.target, logs, finalize=True)

    def _draw(self, current: int, now: float, time_per_unit: float, finalize: bool) -> None:
        message = ("\b" * self._prev_total_width + "\r") if self._dynamic_display else "\n"
        special_chars = 0  # the escape codes' characters, which take no room on screen
        if self.target:
            digits = int(math.log10(self.target)) + 1
            bar = f"\x1b[1m{current:{digits}d}/{self.target}\x1b[0m "
            special_chars += 8
            done = int(self.width * current / self.target)
            if done > 0:
                bar += f"\33[32m{'━' * done}\x1b[0m"
                special_chars += 9
            bar += f"\33[37m{'━' * (self.width - done)}\x1b[0m"
            special_chars += 9
        else:
            bar = f"{current:7d}/Unknown"
        if self.target and not finalize:
            info = f" \x1b[1m{_format_eta(time_per_unit * (self.target - current))}\x1b[0m"
        else:
            info = f" \x1b[1m{now - self._start:.0f}s\x1b[0m"
        special_chars += 8
        info += format_time(time_per_unit)
        for k, v in self._values.items():
            info += f" - {k}: {v:.4f}" if abs(v) > 1e-3 else f" - {k}: {v:.4e}"
        total_width = len(bar) + len(info) - special_chars
        message += bar + info
        if self._prev_total_width > total_width:
            message += " " * (self._prev_total_width - total_width)
        if finalize:
            message += "\n"
        print_msg(message)
        self._prev_total_width = total_width

    def _estimate_step_duration(self, current: int, now: float) -> float:
        """Seconds per step, leaving out the first step once there are others (Keras')."""
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per_step = (now - self._time_after_first_step) / (current - 1)
        else:
            per_step = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_step


def _format_eta(eta: float) -> str:
    """"1:02:03", "2:05" or "7s" (Keras' %d: whole units, truncated)."""
    if eta > 3600:
        return f"{int(eta // 3600)}:{int((eta % 3600) // 60):02d}:{int(eta % 60):02d}"
    if eta > 60:
        return f"{int(eta // 60)}:{int(eta % 60):02d}"
    return f"{int(eta)}s"
