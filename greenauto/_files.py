"""Files greenauto writes: checked before any work, and replaced atomically.

`check_writable` says, before a long search, that an output path cannot be written (its folder
is missing, is not a folder, or is not writable; the path is a folder). `atomic_write` writes
through a temporary file in the same folder and renames it over the target: a reader (or a
crash, or Ctrl-C) never sees a half-written file, and a failed write leaves the old file as it
was and no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_write", "check_writable"]

_UMASK = os.umask(0o022)  # read once, at import (setting it is process-wide)
os.umask(_UMASK)


def check_writable(path: str | os.PathLike[str], what: str = "output file") -> Path:
    """Raise a clear error when ``path`` cannot be written; return it as a Path.

    Parameters
    ----------
    path : str or path-like
        The file to be written (it may exist: it will be replaced).
    what : str
        What the file is, for the message (``"--report"``, ``"model file"``).

    Raises
    ------
    FileNotFoundError
        Its folder does not exist.
    NotADirectoryError
        Its folder is a file.
    IsADirectoryError
        ``path`` is a folder.
    PermissionError
        Its folder (or the file) is not writable.
    """
    path = Path(path)
    folder = path.parent
    if path.is_dir():
        raise IsADirectoryError(f"{what} {str(path)!r} is a folder, not a file.")
    if not folder.exists():
        raise FileNotFoundError(
            f"{what} {str(path)!r}: the folder {str(folder)!r} does not exist; create it first."
        )
    if not folder.is_dir():
        raise NotADirectoryError(f"{what} {str(path)!r}: {str(folder)!r} is not a folder.")
    try:  # a real probe: permissions, root, read-only file systems and quotas all show
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.name}.", suffix=".probe"):
            pass
    except OSError as exc:
        raise PermissionError(
            f"{what} {str(path)!r}: {str(folder)!r} is not writable ({exc.strerror})."
        ) from None
    if path.exists() and not os.access(path, os.W_OK):
        raise PermissionError(f"{what} {str(path)!r} is not writable.")
    return path


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w", **kw: str) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success rename it to ``path``.

    Parameters
    ----------
    path : str or path-like
        The file to write.
    mode : {"w", "wb"}, default="w"
    **kw : str
        ``encoding`` and ``newline`` for text mode.

    Yields
    ------
    fh : file object
    """
    path = check_writable(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **kw) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes it 0600; a normal file is not
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
