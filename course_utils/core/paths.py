"""Where the course's files are: what ships inside the package, and the one folder it writes to.

Every notebook uses it through the modules that read or write files.

* **Files the notebooks read** ship inside the installed package and are found with
  :mod:`importlib.resources`, so a pip-installed course (Colab) has them as a checkout does:
  ``resources/`` (the timeline and polysemy tables), ``results/`` (recorded benchmark, search
  and spread results) and ``vendor/`` (the offline copies of the scripts BertViz loads).
* **Files the notebooks write** (embedding and decoder caches, converted checkpoints,
  fine-tuning runs, exported attention views) go under one folder, :func:`course_dir`:
  ``$COURSE_CACHE_DIR`` when set (``make`` sets ``build/cache`` of the checkout), else
  ``$XDG_CACHE_HOME/course_utils`` or ``~/.cache/course_utils``, which exists and is writable
  on Colab, in a read-only install and on a laptop.
"""

from __future__ import annotations

import hashlib
import os
from importlib.resources import files
from pathlib import Path

CACHE_ENV_VAR = "COURSE_CACHE_DIR"
PACKAGE = "course_utils"


def package_file(*parts: str) -> Path:
    """The path of a file shipped inside the package, e.g. ``package_file("resources", "x.csv")``.

    Raises ``FileNotFoundError`` naming the file and how to get it back when the installed
    package lacks it (a broken install, or a file not listed as package data).
    """
    resource = files(PACKAGE).joinpath(*parts)
    path = Path(str(resource))
    if not path.is_file():
        raise FileNotFoundError(
            f"{'/'.join(parts)} is missing from the installed {PACKAGE} package (looked in "
            f"{path.parent.name}/ of the package). Reinstall the course package; if you built it "
            "yourself, check [tool.setuptools.package-data] in pyproject.toml."
        )
    return path


def course_dir() -> Path:
    """The one folder the course writes to (see the module docstring); not created here."""
    root = os.environ.get(CACHE_ENV_VAR, "").strip()
    if root:
        return Path(root).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / PACKAGE


def course_subdir(name: str) -> Path:
    """``course_dir() / name``, e.g. ``embeddings``, ``decoder``, ``runs`` or ``views``."""
    return course_dir() / name


def shown(path: str | os.PathLike[str]) -> str:
    """A path as notebooks print it: relative to :func:`course_dir` when inside it.

    ``course_dir()/views/x.html`` prints as ``<course dir>/views/x.html``, the same on every
    machine; a path elsewhere prints as its name only, never as a machine's absolute path.
    """
    target = Path(path).expanduser().resolve()
    try:
        return f"<course dir>/{target.relative_to(course_dir().expanduser().resolve()).as_posix()}"
    except ValueError:
        return target.name


def sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` is either absent, the old file, or complete:
    a temporary file, flushed and synced, renamed over ``path`` (then the folder is synced).
    Used for every file the course caches or checkpoints."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
