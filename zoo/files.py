"""Files written whole or not at all: atomic writes, folder locks, what a killed writer left, records read with care.

Every file zoo writes goes through `atomic_write` (a temporary beside it, then a rename), so an interrupted or failed
write leaves the old file or none; `folder_lock` keeps two writers of one run folder or registry apart; `uninterrupted`
holds Ctrl-C and SIGTERM off a write that must finish; `remove_temporaries` sweeps what a SIGKILL left.

Example::

    >>> from zoo.files import atomic_write
    >>> with atomic_write("summary.json", "w") as f:   # summary.json appears whole when the block ends, or not at all
    ...     f.write("{}")
"""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from .errors import ConfigError, OutputError, denied_as

__all__ = ["atomic_write", "check_writable", "folder_lock", "folder_busy", "uninterrupted", "remove_temporaries", "read_record", "STALE_TEMPORARY_S"]

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """Return the process's umask now (a script may set it after importing zoo).

    Linux says it in /proc/self/status; elsewhere reading it means setting it, which is done under a lock so that
    zoo's own threads never create a file in between (other threads' files could still see it for an instant).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        umask = os.umask(0o022)
        os.umask(umask)
    return umask


def _through_links(path: Path) -> Path:
    """Return the file a symbolic link `path` points to (the path itself otherwise): an atomic write replaces that
    file, leaving the link in place; renaming over the link would replace the link itself (`/dev/stdout` included)."""
    with denied_as(OutputError, f"cannot write {path}"):
        if not path.is_symlink():
            return path
        target = Path(os.path.realpath(path))
        # /dev/stdout on a pipe: the link exists but names `pipe:[N]`, no file; the path itself is then refused as a pipe below
        return path if path.exists() and not target.exists() else target


def _euid() -> int | None:
    """Return the effective user id (0 for root), or None where the OS has none (Windows)."""
    return os.geteuid() if hasattr(os, "geteuid") else None


def _replace_problem(path: Path) -> str | None:
    """Return why renaming a new file onto `path` would fail although a file can be made beside it, or None."""
    if not path.is_file() or _euid() in (0, None):
        return None
    folder, st = path.parent.stat(), path.stat()
    if folder.st_mode & stat.S_ISVTX and _euid() not in (st.st_uid, folder.st_uid):  # /tmp's rule: only the owner replaces
        return f"it belongs to another user (uid {st.st_uid}) in a folder where only a file's owner may replace it"
    return None


def _open_temp_beside(path: Path) -> tuple[int, str]:
    """Create `path`'s folder if needed and a temporary file in it; raise OutputError when `path` cannot be written."""
    if not str(path) or str(path) == ".":
        raise OutputError("no output file was given (an empty path, or '.', the current folder). Give a file path.")
    try:
        file_above = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        if file_above is not None:
            raise NotADirectoryError(errno.ENOTDIR, f"{file_above} is a file, not a folder")
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "it is a folder")
        if path.exists() and not path.is_file():  # replacing /dev/null or a pipe with a file would break the system, not write to it
            raise OSError(errno.EINVAL, "it exists and is not a regular file (a device, pipe or socket)")
        if path.is_file() and (not os.access(path, os.W_OK) or not path.stat().st_mode & 0o222):  # renaming over it would work (as root
            # too), but someone made it read-only on purpose
            raise OSError(errno.EACCES, "it is read-only; if it should change, make it writable (chmod u+w), or ask its owner")
        if problem := _replace_problem(path):
            raise OSError(errno.EPERM, problem)
        path.parent.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise OutputError(f"cannot write {path} ({e.strerror or e}). Give a file path in a folder you can write to.") from None


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Return `path` after checking that `atomic_write` could write it, so long jobs fail before they run.

    Folders it had to create for the check are removed again (atomic_write makes them when it writes): a
    refused job leaves nothing behind.
    """
    path = _through_links(Path(path))
    with denied_as(OutputError, f"cannot write {path}"):
        created = [p for p in [path.parent, *path.parent.parents] if not p.exists()]
    fd, tmp = _open_temp_beside(path)
    os.close(fd)
    os.unlink(tmp)
    for folder in created:  # innermost first
        try:
            folder.rmdir()
        except OSError:  # another process put something there meanwhile: leave it
            break
    return path


def _line_ending(path: Path) -> str:
    """Return the line ending text file `path` uses: CRLF where its first line ends so, else LF (also for a new file)."""
    try:
        with open(path, "rb") as f:
            first = f.readline(1 << 16)
    except OSError:
        return "\n"
    return "\r\n" if first.endswith(b"\r\n") else "\n"


@contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Yield a temporary file beside `path` that replaces `path` only when the block succeeds (a link's target, where `path` is a link).

    Text modes write UTF-8 whatever the locale (Windows' default is cp1252), so that every machine reads the file back alike,
    and the line ending the file has (``\n`` for a new one) whatever the system's: a registry kept in git with CRLF stays CRLF,
    and one written on Windows and on Linux does not flip every line between them.
    """
    path = _through_links(Path(path))
    fd, tmp = _open_temp_beside(path)
    try:
        # mkstemp makes 0600 files: a new file gets the usual mode, a replaced one keeps its own (a private registry stays private)
        os.chmod(tmp, stat.S_IMODE(path.stat().st_mode) if path.is_file() else 0o666 & ~current_umask())
        if path.is_file() and _euid() == 0:  # and its owner: root rewriting a user's file must not take it from them
            st = path.stat()
            os.chown(tmp, st.st_uid, st.st_gid)
    except BaseException:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": _line_ending(path)})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        try:
            os.replace(tmp, path)
        except OSError as e:
            raise OutputError(f"cannot write {path} ({e.strerror or e}): the new file could not replace it. Give another file path.") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_record(path: str | os.PathLike[str], fix: str) -> dict[str, Any]:
    """Return the JSON object in `path` (a run's run.json or summary.json), {} if there is none; a damaged one is a ConfigError saying `fix`."""
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        record = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:  # RecursionError: JSON nested thousands deep
        raise ConfigError(f"{path} is damaged ({'JSON nested too deeply' if isinstance(e, RecursionError) else e}); "
                          f"expected the JSON object `zoo train` writes. {fix}") from None
    if not isinstance(record, dict):
        raise ConfigError(f"{path} holds a JSON {type(record).__name__}; expected the JSON object `zoo train` writes. {fix}")
    return record


@contextmanager
def folder_lock(folder: str | os.PathLike[str], busy: str | None = None, shared: bool = False) -> Iterator[None]:
    """Hold an exclusive lock on `folder` while the block runs (a flock on the folder itself: no lock file is left behind).

    Without `busy`, wait for another holder to finish; with it, a folder another process holds is an
    OutputError saying `busy`. A `shared` lock is a reader's: readers hold it together, and exclude a writer
    (and are excluded by one). Where the OS has no flock (not POSIX), the block runs unlocked.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (fcntl.LOCK_NB if busy else 0))
        except BlockingIOError:
            raise OutputError(busy) from None
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


def folder_busy(folder: str | os.PathLike[str]) -> bool:
    """Return whether another holder has `folder` locked for writing (a `zoo train` running in it).

    False where the OS has no flock, or the folder cannot be opened.
    """
    try:
        with folder_lock(folder, busy="busy", shared=True):
            return False
    except OutputError:
        return True
    except OSError:
        return False


@contextmanager
def uninterrupted() -> Iterator[None]:
    """Run the block to its end though Ctrl-C or SIGTERM arrives meanwhile, then act on that signal as it would have.

    For steps that must happen together (two renames). Signal handlers are the main thread's; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: got.append(signum)) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        if got:
            signal.raise_signal(got[0])  # a KeyboardInterrupt from here, or the process ends, as without us


#: How old what a writer left under a temporary name must be before anyone but a lock holder removes it: a live writer's is younger.
STALE_TEMPORARY_S = 3600


def remove_temporaries(folder: str | os.PathLike[str], names: Iterable[str] | None = None, older_than_s: float = 0.0) -> None:
    """Remove what atomic writes of `names` (all files, if None) into `folder` left when their process was killed outright:
    files, and folders of images filled under a temporary name (`zoo sample --out-dir`).

    Only names of the shape zoo's temporaries have (`.NAME.` + tempfile's 8 random characters + `.tmp`: a user's own
    `.NAME.old.tmp` is left alone), a folder only where it holds PNG images alone (in class subfolders or not), and only
    where no other process can be writing them: under the folder's lock, or (`older_than_s`) once they are that old (a
    folder's age is that of its last new entry).
    """
    import re
    import shutil

    cutoff = time.time() - older_than_s
    shape = re.compile(rf"\.(?:{'|'.join(map(re.escape, names)) if names is not None else '.+'})\.[a-z0-9_]{{8}}\.tmp")
    for tmp in Path(folder).glob(".*.tmp"):
        if not shape.fullmatch(tmp.name):
            continue
        try:
            if older_than_s and tmp.stat().st_mtime >= cutoff:
                continue
            if not (tmp.is_dir() and not tmp.is_symlink()):
                tmp.unlink()
            elif _images_only(tmp):
                shutil.rmtree(tmp)
        except OSError:
            pass  # another sweeper got there first, or it is not ours to remove


def _images_only(folder: Path) -> bool:
    """Whether `folder` holds nothing but PNG files, directly or in subfolders of them (what `save_image_folder` writes)."""
    for entry in folder.iterdir():
        if entry.is_symlink() or not (entry.is_dir() and all(f.suffix == ".png" and f.is_file() and not f.is_symlink() for f in entry.iterdir())
                                      or entry.is_file() and entry.suffix == ".png"):
            return False
    return True
