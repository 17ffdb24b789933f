"""Atomic file writes: a file is either its previous version or the complete new one, never half written.

The new content goes to a temporary file beside the target (same folder, so the same file system),
which then replaces the target with :func:`os.replace`. On any failure the temporary file is
removed and the error re-raised. Used by the reports (HTML, tables, index, cache entries), the
browser (PNG, PDF) and the data downloads.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_copy", "atomic_replace", "atomic_write_bytes", "atomic_write_text"]


def atomic_replace(target: Path, fill: Callable[[str], object], mode: int | None = None) -> None:
    """Write ``target`` through a temporary file beside it, so it is either its old version or complete.

    Parameters
    ----------
    target : Path
        The file to write (its folder must exist).
    fill : callable
        Writes the temporary file, given its path.
    mode : int, optional
        Permissions set on the temporary file before it replaces ``target`` (default: those of
        :func:`tempfile.mkstemp`, 0o600).
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        fill(tmp)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` (mode 644) atomically, creating its folder; returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_replace(path, lambda tmp: Path(tmp).write_bytes(data), mode=0o644)
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` (UTF-8, mode 644) atomically, creating its folder; returns ``path``."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_copy(source: Path, target: Path) -> None:
    """Copy a file so that ``target`` is either its old version or the complete copy."""
    atomic_replace(target, lambda tmp: shutil.copyfile(source, tmp))
