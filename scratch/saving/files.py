"""The file-system side of model files: what is opened, what is read, how files are written.

Reading a file that came from someone else:

* Only regular files are opened (`check_regular_file`): a FIFO named `m.keras` would block
  every reader forever and `/dev/zero` never ends, so they, devices, sockets, directories and
  symlinks to any of them are refused before anything is opened.
* JSON read from a file (`config.json`, `metadata.json`, a legacy file's `model_config` and
  `training_config`) is at most `MAX_JSON_BYTES` long and nested at most `MAX_JSON_DEPTH`
  levels deep (`parse_json`); the code that walks a config recursively can therefore never
  run out of stack.
* Running out of memory or hitting Python's recursion limit while a file is turned into a
  model becomes a `FileFormatError` that names the file (`reading`), never a traceback.

Writing (`atomic_write`): the data goes to a temporary file next to the target, is flushed
to disk, and only then renamed over the target, so a crash or a kill never leaves a
half-written file. The temporary file is created the way `open(path, "w")` creates a file
(mode 0o666 minus the umask), and an existing target keeps its mode. The name of a temporary
file says who wrote it (`.m.keras.<host>.<pid>.<random>.tmp`), so the next save to the same
folder can remove the ones that killed saves left behind (`remove_stale_temporaries`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import socket
import stat
import time
from typing import Any

from .registry import FileFormatError

#: The most bytes of JSON read from a model file (a 1,500-layer model's config is ~3 MB).
MAX_JSON_BYTES = 16 * 2**20
#: The deepest nesting of lists and objects accepted in that JSON (Keras writes ~7 levels,
#: plus ~3 for every model nested inside another).
MAX_JSON_DEPTH = 100
#: A temporary file of ours untouched for this long belongs to a save that died.
STALE_SECONDS = 600


# ------------------------------------------------------------------------------ reading
def _kind_of(mode: int) -> str:
    kinds = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISSOCK, "a socket")]
    for test, name in kinds:
        if test(mode):
            return name
    return "not a regular file"


def check_regular_file(path: str) -> None:
    """Refuse anything but a regular file (symlinks are followed) before it is opened.

    Raises:
        FileNotFoundError: nothing exists at `path` (or a symlink points nowhere).
        FileFormatError: `path` is a directory, FIFO, device or socket.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"No such file: {path}") from None
    if not stat.S_ISREG(mode):
        raise FileFormatError(
            f"{path} is {_kind_of(mode)}; model files are read from regular files only."
        )


def _nesting_depth_exceeds(value: Any, limit: int) -> bool:
    """Whether lists and dicts in `value` nest deeper than `limit` (an explicit stack, so
    that the check itself cannot hit the recursion limit)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def parse_json(text: str | bytes, what: str) -> Any:
    """Parse JSON read from a model file, refusing text that is too long or nested too deep.

    Args:
        text: the JSON text (bytes are decoded as `json.loads` does).
        what: names the file and the part, for messages ("m.keras (config.json)").

    Raises:
        FileFormatError: longer than `MAX_JSON_BYTES`, nested deeper than `MAX_JSON_DEPTH`,
            or not JSON.
    """
    if len(text) > MAX_JSON_BYTES:
        raise FileFormatError(
            f"{what} is too large: JSON of at most {MAX_JSON_BYTES} bytes expected. "
            f"Received: {len(text)} bytes"
        )
    too_deep = FileFormatError(
        f"{what} is nested too deeply: at most {MAX_JSON_DEPTH} levels of lists and objects "
        f"expected. Received: more than {MAX_JSON_DEPTH} levels"
    )
    try:
        value = json.loads(text)
    except RecursionError:
        raise too_deep from None
    except ValueError as e:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise FileFormatError(f"{what} is not valid JSON ({e}).") from None
    if _nesting_depth_exceeds(value, MAX_JSON_DEPTH):
        raise too_deep
    return value


@contextlib.contextmanager
def reading(path: str):
    """Report running out of memory or stack while loading `path` as a FileFormatError.

    Loading checks every size against the model before it reads, so memory runs out only
    when the model the file describes does not fit; the recursion limit is reached only by
    a graph of layer calls thousands of layers long (the model's graph sort is recursive).
    """
    try:
        yield
    except MemoryError:
        raise FileFormatError(
            f"{path}: not enough memory to load the model this file describes."
        ) from None
    except RecursionError:
        raise FileFormatError(
            f"{path}: the model this file describes is nested or chained too deeply to be "
            "built (Python's recursion limit was reached)."
        ) from None


# ------------------------------------------------------------------------------ writing
def _host_tag() -> str:
    """This machine's name as it appears in temporary file names (letters, digits, '-')."""
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:32] or "host"


# `.<target>.<host>.<pid>.<8 hex digits>.tmp`, the target ending in a model file extension.
_TEMPORARY = re.compile(
    r"^\.(?P<target>.+\.(?:keras|h5|hdf5))\.(?P<host>[A-Za-z0-9-]+)\.(?P<pid>[0-9]+)"
    r"\.[0-9a-f]{8}\.tmp$"
)
# What scratch 0.1 wrote (tempfile.mkstemp): `.<target>.<8 characters>.tmp`.
_OLD_TEMPORARY = re.compile(r"^\.(?P<target>.+\.(?:keras|h5|hdf5))\.[a-z0-9_]{8}\.tmp$")


def _create_temporary(directory: str, target_name: str) -> str:
    """Create an empty temporary file for `target_name` in `directory`, as `open(path, "w")`
    would (mode 0o666, less the umask), failing rather than reusing an existing name."""
    name = f".{target_name}.{_host_tag()}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    path = os.path.join(directory, name)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    return path


def _process_is_running(pid: int) -> bool:
    """Whether a process `pid` exists on this machine (signal 0 tests, it sends nothing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, and belongs to someone else
        return True
    return True


def _is_stale(entry: os.DirEntry, now: float) -> bool:
    """Whether `entry` is a temporary file that a save of ours started and never finished."""
    named = _TEMPORARY.match(entry.name)  # the name says which host and process wrote it
    if named is None and _OLD_TEMPORARY.match(entry.name) is None:
        return False
    info = entry.stat(follow_symlinks=False)
    if not stat.S_ISREG(info.st_mode):
        return False
    posix = os.name == "posix"
    if posix and info.st_uid != os.getuid():  # another user's file
        return False
    if now - info.st_mtime > STALE_SECONDS:
        return True
    # os.kill on Windows would end the process instead of testing it: age only there.
    return (posix and named is not None and named["host"] == _host_tag()
            and not _process_is_running(int(named["pid"])))


def remove_stale_temporaries(directory: str) -> list[str]:
    """Remove the temporary files that killed saves left in `directory`; return their names.

    Only files that are ours are touched: regular files of this user whose name is a
    temporary name of `atomic_write` (or of scratch 0.1's), either untouched for
    `STALE_SECONDS` or written by a process of this machine that no longer runs.
    """
    removed = []
    now = time.time()
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):  # another save may remove it first
                if _is_stale(entry, now):
                    os.remove(entry.path)
                    removed.append(entry.name)
    return removed


@contextlib.contextmanager
def atomic_write(filepath, overwrite: bool = True):
    """Yield a temporary path next to `filepath`; rename it over `filepath` on success.

    A reader (or a crash) never sees a half-written file: the data is written, flushed to
    disk, and only then renamed (`os.replace`, atomic on POSIX and Windows). On error the
    temporary file is removed and `filepath` is left as it was. The new file has the mode
    `open(filepath, "w")` would leave: the old file's if there was one, else 0o666 less the
    umask. After a successful save, stale temporary files of killed saves in the same folder
    are removed (`remove_stale_temporaries`).
    """
    filepath = os.fspath(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(
            f"{filepath} already exists and overwrite=False. Received: filepath={filepath}"
        )
    if os.path.isdir(filepath):
        raise IsADirectoryError(
            f"Cannot write a model file over a directory. Received: filepath={filepath}"
        )
    directory = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(directory, exist_ok=True)
    tmp = _create_temporary(directory, os.path.basename(filepath))
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        if os.path.isfile(filepath):
            os.chmod(tmp, stat.S_IMODE(os.stat(filepath).st_mode))
        os.replace(tmp, filepath)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    remove_stale_temporaries(directory)
