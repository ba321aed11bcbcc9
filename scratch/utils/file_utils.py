"""`get_file`: Keras' download cache (`keras.utils.get_file`), offline first.

The file lands where Keras puts it: `cache_dir` (default `$KERAS_HOME`, else `~/.keras`, else
`/tmp/.keras` when the home folder is not writable) / `cache_subdir` / `fname`, so a file that
tf.keras downloaded once is found here without the network, and the other way round. Archives
follow Keras' naming: with `extract=True` and `fname="name.tar.gz"` the archive is
`name.tar.gz` and its contents go to `name_extracted/`; with a name without a dot (as the CIFAR
loaders pass) the archive is `name_archive` and the contents go to `name/`.

Differences from Keras, none of which changes a path or a return value:

* `KERAS_HOME` is read at each call (Keras reads it once, at import).
* A cache folder that does not exist yet is created (Keras falls back to `/tmp/.keras`; its
  import creates `~/.keras`, so in practice both use the same folder).
* A download goes to `<target>.part` and is renamed onto the target only when complete and,
  with `file_hash`, verified: an interrupted download never leaves a truncated file under the
  real name, and the next call resumes the `.part` file (HTTP Range) when the server allows it.
* When the file is missing and the origin is unreachable, the error says which file to put
  where (`FileNotFoundError`, not Keras' bare "URL fetch failure").
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zipfile

_CHUNK = 1 << 16


def keras_home() -> str:
    """`$KERAS_HOME`, else `~/.keras` (`/tmp/.keras` when the home folder is read-only)."""
    if "KERAS_HOME" in os.environ:
        return os.environ["KERAS_HOME"]
    base = os.path.expanduser("~")
    if not os.access(base, os.W_OK):
        base = "/tmp"
    return os.path.join(base, ".keras")


def _hasher(algorithm: str, file_hash: str | None = None):
    if algorithm == "sha256" or (algorithm == "auto" and file_hash is not None
                                 and len(file_hash) == 64):
        return hashlib.sha256()
    return hashlib.md5()   # Keras' legacy default: a 32-character hash is md5


def hash_file(fpath, algorithm="sha256", chunk_size=_CHUNK) -> str:
    """The file's sha256 (or md5) hex digest, as `keras.utils.file_utils.hash_file`."""
    hasher = _hasher(algorithm) if isinstance(algorithm, str) else algorithm
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(fpath, file_hash, algorithm="auto", chunk_size=_CHUNK) -> bool:
    """Whether the file's hash is `file_hash` (sha256 for 64 hex digits, md5 otherwise)."""
    return hash_file(fpath, _hasher(algorithm, file_hash), chunk_size) == str(file_hash)


def _inside(base: str, name: str) -> bool:
    path = os.path.realpath(os.path.join(base, name))
    try:
        return os.path.commonpath([path, base]) == base
    except ValueError:
        return False


def extract_archive(file_path, path=".", archive_format="auto") -> bool:
    """Extract a tar (.tar, .tar.gz, .tar.bz2) or zip archive into `path`, as Keras.

    Members that would land outside `path` (absolute names, `..`, links out) are skipped with
    a warning. Returns whether the file was an archive of one of the formats.
    """
    if archive_format is None:
        return False
    if archive_format == "auto":
        archive_format = ["tar", "zip"]
    if isinstance(archive_format, str):
        archive_format = [archive_format]
    file_path, path = os.fspath(file_path), os.fspath(path)
    base = os.path.realpath(path)
    for kind in archive_format:
        if kind == "tar":
            if not tarfile.is_tarfile(file_path):
                continue
            with tarfile.open(file_path) as archive:
                members = []
                for m in archive.getmembers():
                    ok = _inside(base, m.name)
                    if ok and (m.issym() or m.islnk()):
                        link_base = base if m.islnk() else os.path.dirname(
                            os.path.realpath(os.path.join(base, m.name)))
                        ok = _inside(base, os.path.join(link_base, m.linkname))
                    if ok:
                        members.append(m)
                    else:
                        warnings.warn("Skipping invalid path during archive extraction: "
                                      f"'{m.name}'.", stacklevel=2)
                # filter="data" (Python ≥ 3.11.4) also refuses device files and odd modes
                data_filter = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                archive.extractall(path, members=members, **data_filter)
            return True
        if kind == "zip":
            if not zipfile.is_zipfile(file_path):
                continue
            with zipfile.ZipFile(file_path) as archive:
                members = []
                for m in archive.infolist():
                    if _inside(base, m.filename):
                        members.append(m)
                    else:
                        warnings.warn("Skipping invalid path during archive extraction: "
                                      f"'{m.filename}'.", stacklevel=2)
                archive.extractall(path, members=members)
            return True
        raise NotImplementedError(kind)
    return False


def _download(origin: str, target: str) -> None:
    """Fetch `origin` into `target + ".part"` (resuming it if present), then rename."""
    part = target + ".part"
    done = os.path.getsize(part) if os.path.exists(part) else 0
    request = urllib.request.Request(origin)
    if done:
        request.add_header("Range", f"bytes={done}-")
    with urllib.request.urlopen(request, timeout=60) as response:
        resumed = done and getattr(response, "status", 200) == 206
        total = response.headers.get("Content-Length")
        total = int(total) + (done if resumed else 0) if total else None
        with open(part, "ab" if resumed else "wb") as out:
            got = done if resumed else 0
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                got += len(chunk)
            out.flush()
            os.fsync(out.fileno())
    if total is not None and got != total:
        raise OSError(f"Download of {origin} stopped at {got} of {total} bytes; call again "
                      f"to resume it (partial file: {part}).")
    os.replace(part, target)


def get_file(fname=None, origin=None, untar=False, md5_hash=None, file_hash=None,
             cache_subdir="datasets", hash_algorithm="auto", extract=False,
             archive_format="auto", cache_dir=None, force_download=False):
    """Return the local path of `origin`'s file, downloading it only when it is not cached.

    Args:
        fname: the file's name in the cache (default: the last part of `origin`'s path); with
            `extract=True`, a name without a dot names the extraction folder.
        origin: the URL.
        untar: deprecated, as `extract=True, archive_format="tar"`.
        md5_hash: deprecated, as `file_hash` with `hash_algorithm="md5"`.
        file_hash: the expected sha256 (64 hex digits) or md5; a cached file that does not
            match is downloaded again, a download that does not match is an error. None: no
            check (a cached file is used as it is).
        cache_subdir: folder under the cache (an absolute path is used as it is).
        hash_algorithm: "auto", "sha256" or "md5".
        extract: extract the archive (tar or zip) and return the extraction folder.
        archive_format: "auto" (tar then zip), "tar", "zip", or None.
        cache_dir: the cache root (default: `$KERAS_HOME`, else `~/.keras`).
        force_download: download even when cached.

    Returns:
        The file's path, or with `extract=True` the folder it was extracted into.

    Raises:
        FileNotFoundError: the file is not cached and `origin` cannot be reached.
        ValueError: the downloaded file's hash is not `file_hash`.
    """
    if origin is None:
        raise ValueError('Please specify the "origin" argument (URL of the file to download).')
    if cache_dir is None:
        cache_dir = keras_home()
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    base = os.path.expanduser(os.fspath(cache_dir))
    if not os.access(base, os.W_OK) and os.path.exists(base):
        base = os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(),
                            ".keras")
    datadir = os.path.join(base, cache_subdir)
    os.makedirs(datadir, exist_ok=True)

    provided = fname
    fname = os.fspath(fname) if fname is not None else None
    if not fname:
        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not fname:
            raise ValueError(f"Can't parse the file name from the origin provided: '{origin}'."
                             "Please specify the `fname` argument.")
    elif os.sep in fname:
        raise ValueError("Paths are no longer accepted as the `fname` argument. To specify "
                         "the file's parent directory, use the `cache_dir` argument. "
                         f"Received: fname={fname}")
    if extract or untar:
        if provided and "." in fname:
            target = os.path.join(datadir, fname)
            extraction_dir = os.path.join(datadir, f"{fname[:fname.find('.')]}_extracted")
        else:
            extraction_dir = os.path.join(datadir, fname)
            target = os.path.join(datadir, f"{fname}_archive")
    else:
        target = os.path.join(datadir, fname)

    download = force_download or not os.path.exists(target)
    where = "is not in the cache"
    if not download and file_hash is not None and not validate_file(target, file_hash,
                                                                    hash_algorithm):
        where = "is in the cache but its hash does not match (an incomplete or other file)"
        print(f"A local file was found, but it seems to be incomplete or outdated because "
              f"the {hash_algorithm} file hash does not match the original value of "
              f"{file_hash} so we will re-download the data.")
        download = True
    if download:
        print(f"Downloading data from {origin}")
        try:
            _download(origin, target)
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise FileNotFoundError(
                f"{target} {where} and {origin} could not be downloaded "
                f"({reason}). Put the file at that path (tf.keras keeps the same cache: "
                "copy it from a machine that has it, or set KERAS_HOME to a folder that "
                "holds it), or connect to the network.") from e
        if file_hash is not None and not validate_file(target, file_hash, hash_algorithm):
            bad = target + ".corrupt"
            shutil.move(target, bad)
            raise ValueError(f"Incomplete or corrupted file detected. The {hash_algorithm} "
                             f"file hash does not match the provided value of {file_hash} "
                             f"(the download was kept as {bad}).")
    if extract or untar:
        if untar:
            archive_format = "tar"
        if not extract_archive(target, extraction_dir, archive_format):
            warnings.warn("Could not extract archive.", stacklevel=2)
        return extraction_dir
    return target
