"""Reproducible archives and bytecode: the same inputs give byte-identical zips.

CloudFormation (and Lambda) decide whether to update a function or publish a layer
version from the code's location and hash, so a rebuild of unchanged sources must not
produce a new archive. Three things would otherwise leak into the bytes:
* file timestamps (zip headers, and the default timestamp-based .pyc header),
* the directory the sources were compiled in (``co_filename`` inside each .pyc),
* the per-process string hash seed (it orders frozenset constants in code objects).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

# The earliest date a zip header can hold; any fixed value would do.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# Names never shipped: caches of the build host, editor and VCS litter.
SKIP_NAMES = frozenset({"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".git"})
SKIP_SUFFIXES = (".pyc", ".pyo")


def iter_files(root: Path, *, skip: Iterable[str] = (), bytecode: bool = False) -> Iterator[Path]:
    """Regular files under root (sorted, depth first), without caches or ``skip`` names.

    ``bytecode``: keep ``__pycache__/*.pyc`` (the ones this build compiled)."""
    excluded = SKIP_NAMES | set(skip)
    if bytecode:
        excluded -= {"__pycache__"}
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if entry.name in excluded:
            continue
        if entry.is_dir() and not entry.is_symlink():
            yield from iter_files(entry, skip=skip, bytecode=bytecode)
        elif entry.is_file() and (bytecode or not entry.name.endswith(SKIP_SUFFIXES)):
            yield entry


def copy_tree(source: Path, target: Path, *, skip: Iterable[str] = ()) -> None:
    """Copy the shippable files of ``source`` into ``target`` (created as needed)."""
    for path in iter_files(source, skip=skip):
        dest = target / path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)


def compile_tree(root: Path, runtime_dir: str) -> None:
    """Write ``__pycache__/*.cpython-312.pyc`` next to every .py under ``root``.

    ``unchecked-hash``: the interpreter trusts the .pyc without comparing timestamps
    (which a zip round trip would reset anyway) and without hashing the source on each
    import. ``-d runtime_dir`` records where the code lives on Lambda (/opt/python for a
    layer, /var/task for a function) instead of this build directory, and a fixed hash
    seed makes the bytes repeatable. Runs the current interpreter, which must be the
    runtime's Python version (bytecode is version specific).
    """
    env = dict(os.environ, PYTHONHASHSEED="0")
    command = [
        sys.executable,
        "-m",
        "compileall",
        "-q",
        "-j",
        "0",
        "--invalidation-mode",
        "unchecked-hash",
        "-d",
        runtime_dir,
        str(root),
    ]
    # Some third-party trees carry files that are not valid Python 3.12 (templates,
    # py2 leftovers); compileall reports them and returns 1, which is not fatal for a
    # package that imports fine. Only a crash of compileall itself is.
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode not in (0, 1):
        raise RuntimeError(f"compileall failed on {root}:\n{result.stdout}\n{result.stderr}")


def write_zip(target: Path, roots: Iterable[tuple[Path, str]]) -> str:
    """Zip every file under each ``(directory, prefix in archive)``; returns the sha256.

    Entries are sorted by archive name, all stamped ZIP_EPOCH with mode 0644 (0755 if
    the source is executable), deflated at a fixed level. Later roots win on a name
    clash, like layers extracted over each other.
    """
    entries: dict[str, Path] = {}
    for root, prefix in roots:
        for path in iter_files(root, bytecode=True):
            entries[_arcname(prefix, path.relative_to(root))] = path
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name in sorted(entries):
            path = entries[name]
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16  # regular file + permissions
            info.create_system = 3  # Unix, so the permissions above are honoured
            archive.writestr(info, path.read_bytes(), compresslevel=6)
    partial.replace(target)
    return sha256_file(target)


def _arcname(prefix: str, relative: Path) -> str:
    name = relative.as_posix()
    return f"{prefix.strip('/')}/{name}" if prefix else name


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_fingerprint(roots: Iterable[Path], *extra: str) -> str:
    """A hash of the shippable files' names and contents (and ``extra`` strings)."""
    digest = hashlib.sha256()
    for value in extra:
        digest.update(value.encode() + b"\0")
    for root in roots:
        for path in iter_files(root):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
