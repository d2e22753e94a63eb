"""Find the host interpreter and library paths for a Lambda runtime (no LocalStack imports).

A function declared `python3.12` must run under a real 3.12: compiled wheels in its
package (pydantic-core, psycopg2-binary) exist per Python version. pyenv puts shims for
every version on PATH that fail unless that version is selected, so each candidate is
probed by running it, not just found.
"""

from __future__ import annotations

import functools
import glob
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

PYENV_ROOT = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv"))


class RuntimeNotAvailable(Exception):
    pass


def python_version(runtime: str) -> str:
    """'python3.12' -> '3.12'; other runtimes are not supported by this executor."""
    match = re.fullmatch(r"python(\d+)\.(\d+)", runtime or "")
    if not match:
        raise RuntimeNotAvailable(
            f"runtime {runtime!r} is not supported by the host-subprocess executor (python only)"
        )
    return f"{match.group(1)}.{match.group(2)}"


def _version_key(path: str) -> tuple[int, ...]:
    numbers = re.findall(r"\d+", Path(path).parent.parent.name)
    return tuple(int(n) for n in numbers)


def _candidates(version: str) -> Iterable[str]:
    env_name = "SMSGW_LAMBDA_PYTHON_" + version.replace(".", "_")
    for name in (env_name, "SMSGW_LAMBDA_PYTHON"):
        if os.environ.get(name):
            yield os.environ[name]
    on_path = shutil.which(f"python{version}")
    if on_path:
        yield on_path
    pattern = str(PYENV_ROOT / "versions" / f"{version}*" / "bin" / f"python{version}")
    yield from sorted(glob.glob(pattern), key=_version_key, reverse=True)


@functools.cache
def _probe(executable: str, version: str) -> bool:
    try:
        out = subprocess.run(  # noqa: S603 (probing candidate interpreters is the point)
            [executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and out.stdout.strip() == version


@functools.cache
def find_python(runtime: str) -> str:
    """Absolute path of an interpreter that really is the runtime's Python version."""
    version = python_version(runtime)
    tried: list[str] = []
    for candidate in _candidates(version):
        if candidate in tried:
            continue
        tried.append(candidate)
        if _probe(candidate, version):
            return candidate
    raise RuntimeNotAvailable(
        f"no working python{version} for runtime {runtime}"
        f" (tried: {', '.join(tried) or 'nothing'}); set SMSGW_LAMBDA_PYTHON to one"
    )


def layer_python_paths(layer_dirs: Sequence[Path], version: str) -> list[str]:
    """sys.path entries for layers, as /opt/python[/lib/pythonX.Y/site-packages] on Lambda.

    Lambda extracts layers in order into /opt, later ones overwriting earlier files, so a
    later layer wins: it comes first here.
    """
    paths: list[str] = []
    for layer in reversed(list(layer_dirs)):
        for sub in (f"python/lib/python{version}/site-packages", "python"):
            candidate = layer / sub
            if candidate.is_dir():
                paths.append(str(candidate))
    return paths


def runtime_library_paths(version: str) -> list[str]:
    """Libraries the AWS runtime itself ships (boto3), like /var/runtime on Lambda.

    `SMSGW_LAMBDA_RUNTIME_PATH` (os.pathsep-separated) wins; else setup.sh's target dir
    `<LocalStack venv>/lambda-runtime/pythonX.Y`, found next to this interpreter.
    """
    configured = os.environ.get("SMSGW_LAMBDA_RUNTIME_PATH")
    if configured is not None:
        return [p for p in configured.split(os.pathsep) if p]
    default = Path(sys.prefix) / "lambda-runtime" / f"python{version}"
    return [str(default)] if default.is_dir() else []
