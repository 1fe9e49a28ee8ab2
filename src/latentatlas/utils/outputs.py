"""No silent overwrite: the one owner of "may this command write here?".

* :func:`check_new_file` / :func:`check_new_folder`: an existing output is refused unless
  ``overwrite`` (the CLI's ``--overwrite``).
* :func:`claim_folder`: a resumable job's folder records who owns it (``.owner.json``: a
  fingerprint of the job's identity, e.g. model and scorer weight digests); a later job with
  another identity is refused unless ``overwrite``.
* :func:`replacing_folder`: write a whole folder beside its final place and swap it in at once
  (``renameat2(RENAME_EXCHANGE)`` where the kernel has it, else two renames), so a replaced
  folder is never half old, half new, and a kill leaves the old one intact.
* :func:`check_child_name`: a name that must stay inside a parent folder (no ``..``, no
  absolute paths, no separators).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from latentatlas.utils.atomic import atomic_write_json
from latentatlas.utils.errors import OptionError, OutputExistsError

OWNER_JSON = ".owner.json"
#: Prefix of the temporary folders of :func:`replacing_folder` (removed on failure / next run).
STAGING_PREFIX = ".staging-"


def _hint(overwrite_hint: str | None) -> str:
    if overwrite_hint is None:  # a command without an overwrite flag
        return "choose another --out (or empty that folder)"
    return f"pass {overwrite_hint} to replace it, or choose another output"


def check_new_file(path: str | os.PathLike, overwrite: bool = False,
                   flag: str = "--overwrite") -> Path:
    """``path`` may be written: it does not exist, or ``overwrite``. Refuses a folder."""
    path = Path(path)
    if path.is_dir():
        raise OutputExistsError(f"{path} is a folder; give a file name")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists; {_hint(flag)}")
    return path


def check_run_record(folder: str | os.PathLike, command: str, overwrite: bool = False,
                     filename: str = "run.json", flag: str = "--overwrite") -> None:
    """A run record of ``command`` may be (re)written in ``folder``: none there yet, or one
    written by the same command, or ``overwrite``."""
    path = Path(folder) / filename
    if overwrite or not path.exists():
        return
    try:
        prev = json.loads(path.read_text("utf-8")).get("command")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError, OSError):
        prev = None
    if prev != command:
        raise OutputExistsError(f"{path} is the record of another run ({prev or 'unknown'}); "
                                f"{_hint(flag)}")


def folder_is_empty(path: Path) -> bool:
    return not any(p for p in path.iterdir() if not p.name.startswith(STAGING_PREFIX))


def check_new_folder(path: str | os.PathLike, overwrite: bool = False,
                     flag: str = "--overwrite", what: str = "folder") -> Path:
    """``path`` may become a new folder: absent, empty, or ``overwrite``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputExistsError(f"{path} exists and is not a folder; choose another output")
    if path.is_dir() and not folder_is_empty(path) and not overwrite:
        raise OutputExistsError(f"{path} already holds a {what}; {_hint(flag)}")
    return path


def check_child_name(name: str, what: str = "name") -> str:
    """``name`` is one plain path component (it cannot escape the folder it is put in)."""
    bad = (not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name
           or os.path.isabs(name) or name.startswith(".") or name != name.strip())
    if bad:
        raise OptionError(f"{what} {name!r} must be a plain folder name (letters, digits, - _; "
                          "no '..', no '/', no absolute path)")
    return name


def claim_folder(path: str | os.PathLike, identity: dict[str, Any], overwrite: bool = False,
                 what: str = "run", flag: str | None = "--overwrite",
                 legacy_marker: str | None = None) -> bool:
    """Record ``identity`` as the owner of folder ``path``; refuse a folder owned by another
    identity (or holding files without an owner record) unless ``overwrite``.

    A folder without an owner record that holds ``legacy_marker`` (what this command wrote
    before owner records existed) is adopted. Returns True when the folder was already this
    identity's (a resume)."""
    from latentatlas.utils.fingerprint import hash_json

    path = Path(path)
    fp = hash_json(identity)
    record = path / OWNER_JSON
    if record.is_file():
        try:
            prev = json.loads(record.read_text("utf-8")).get("fingerprint")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            prev = None
        if prev == fp:
            remove_stale_temporaries(path)  # left by a killed earlier run of this command
            return True
        if not overwrite:
            raise OutputExistsError(
                f"{path} holds a {what} of another model, scorer or settings; {_hint(flag)}")
    elif legacy_marker is not None and (path / legacy_marker).exists() and not overwrite:
        pass  # an earlier version's output of this command: adopted
    elif path.is_dir() and not folder_is_empty(path) and not overwrite:
        raise OutputExistsError(f"{path} holds files that are not a {what} of this command; "
                                f"{_hint(flag)}")
    if overwrite and path.is_dir():
        clear_folder(path)
    path.mkdir(parents=True, exist_ok=True)
    atomic_write_json(record, {"fingerprint": fp, "identity": identity})
    return False


def clear_folder(path: Path) -> None:
    """Remove ``path``'s contents by swapping in an empty folder (one rename)."""
    with replacing_folder(path, overwrite=True):
        pass


_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux renameat2); False where unsupported."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    res = fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    return res == 0


@contextlib.contextmanager
def replacing_folder(path: str | os.PathLike, overwrite: bool = False,
                     flag: str = "--overwrite", what: str = "folder") -> Iterator[Path]:
    """Yield a staging folder beside ``path``; on success it takes ``path``'s place at once.

    An existing non-empty ``path`` is refused unless ``overwrite``; on an error or a kill the
    staging folder is removed (or left under a ``.staging-`` name that the next call removes)
    and ``path`` is untouched."""
    path = Path(path)
    check_new_folder(path, overwrite, flag, what)
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    for stale in parent.glob(f"{STAGING_PREFIX}{path.name}.*"):
        _remove_stale(stale)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{path.name}.", dir=parent))
    try:
        yield staging
        os.chmod(staging, 0o777 & ~_umask())
        if path.exists():
            if not _exchange(staging, path):
                old = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{path.name}.", dir=parent))
                os.rmdir(old)
                os.replace(path, old)
                os.replace(staging, path)
                staging = old
            shutil.rmtree(staging, ignore_errors=True)
        else:
            os.replace(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _remove_stale(stale: Path) -> None:
    if stale.is_dir():
        shutil.rmtree(stale, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            stale.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_stale_temporaries(folder: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """Delete temporary files a killed atomic write left in ``folder`` and (``recursive``) its
    subfolders: ``.<name>.<random>.<ext>`` files from
    :func:`latentatlas.utils.atomic.atomic_path` and staging folders. A kill (SIGKILL) cannot
    be caught, so every command that resumes into a folder sweeps it first."""
    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for p in list(folder.iterdir()):
        if p.name.startswith(STAGING_PREFIX) or (p.name.startswith(".") and p.is_file()
                                                 and p.name.count(".") >= 3
                                                 and p.name != OWNER_JSON):
            _remove_stale(p)
            removed.append(p)
        elif recursive and p.is_dir() and not p.is_symlink():
            removed += remove_stale_temporaries(p, recursive=True)
    return removed
    for p in folder.iterdir():
        if p.name.startswith(STAGING_PREFIX) or (p.name.startswith(".") and p.is_file()
                                                 and p.name.count(".") >= 3
                                                 and p.name != OWNER_JSON):
            _remove_stale(p)
            removed.append(p)
    return removed
