"""Files the shop writes (the SQLite database, uploads, backups, exports): readable by the
shop's own user only, whatever the process's umask.

They hold customers' names, addresses and orders, and password hashes: on a shared server
another user must not read them. New files get mode 0o600 and new folders 0o700. The
instance folder and a SQLite database that others can read already lose those bits (a
warning says so; the owner's and group's stay as the administrator set them), so nothing
inside the instance folder can be reached by other users.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import IO

FILE_MODE = 0o600
FOLDER_MODE = 0o700

log = logging.getLogger(__name__)


def private_folder(path: Path) -> Path:
    """`path` as a folder; it and any missing parents are made with mode 0o700 (a folder
    that exists is left as it is)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=FOLDER_MODE)
        except FileExistsError:  # made meanwhile by another process
            continue
        os.chmod(folder, FOLDER_MODE)  # mkdir's mode is reduced by the umask, never widened
    return path


def keep_from_others(path: Path) -> None:
    """Take away the permissions of users other than the owner and group, if it has any."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o007:
            os.chmod(path, mode & ~0o007)
            log.warning("%s could be read by every user; it is now %s", path, oct(mode & ~0o007))
    except FileNotFoundError:
        pass
    except PermissionError as error:  # someone else's file: say so, leave it
        log.warning("cannot make %s private: %s", path, error)


def create_private_file(path: Path) -> None:
    """Make `path` an empty file with mode 0o600 if there is none (a SQLite database, a
    backup: SQLite then writes into it, and gives its -wal and -shm files its mode);
    an existing one is kept from other users."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        keep_from_others(path)


def open_private(path: Path, mode: str = "w", **kwargs: object) -> IO:
    """open(path, mode) for writing, the file created with mode 0o600 (an existing one keeps
    its owner's and group's permissions and loses the others')."""
    create_private_file(path)
    return open(path, mode, **kwargs)


def write_private_file(path: Path, data: bytes) -> None:
    """A new file with `data`, mode 0o600 from the start (never readable by others)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
