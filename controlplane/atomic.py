"""Saved files: a reader sees the old content or the whole new one, even after a crash.

`write_atomically` writes a temporary file beside the target, named
`.{target name}.{random}.controlplane-tmp` (`TEMP_SUFFIX`), fsyncs it, renames it over
the target and fsyncs the directory, so that the rename itself survives a power loss.
The file gets the mode the user's umask gives a new file (0644 under umask 022), as any
program's output would. A crash between the write and the rename leaves a temporary
behind: `remove_stale_temporaries` removes them where a directory is loaded at start.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["TEMP_SUFFIX", "remove_stale_temporaries", "write_atomically"]

TEMP_SUFFIX = ".controlplane-tmp"
_ATTEMPTS = 100  # random names tried before giving up (a collision is one in 2**64)


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same directory.

    The directory is created when missing; on any failure the temporary file is
    removed and `path` keeps what it had.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = _create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise
    _fsync_directory(path.parent)


def remove_stale_temporaries(directory: Path, name: str | None = None) -> list[Path]:
    """Remove the temporaries a crashed `write_atomically` left in `directory` (only
    those of the file `name`, when given); returns what was removed."""
    pattern = f".{name}.*{TEMP_SUFFIX}" if name is not None else f".*{TEMP_SUFFIX}"
    removed = []
    for stale in directory.glob(pattern):
        try:
            stale.unlink()
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            continue  # gone already, or not ours to remove
        removed.append(stale)
    return removed


def _create_temporary(path: Path) -> tuple[int, str]:
    """A new, empty temporary file beside `path`: its descriptor and name.

    Opened with mode 0666 so that the kernel applies the umask (`tempfile.mkstemp`
    would make it 0600 whatever the umask says).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(_ATTEMPTS):
        temp = str(path.parent / f".{path.name}.{secrets.token_hex(8)}{TEMP_SUFFIX}")
        try:
            return os.open(temp, flags, 0o666), temp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path} after {_ATTEMPTS} tries")


def _fsync_directory(directory: Path) -> None:
    """Make a rename in `directory` durable (where directories can be opened: POSIX)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # Windows cannot open a directory; its rename is durable enough
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
