"""Build the artifacts AWS gets: the shared layer and one zip per function.

    .venv/bin/python -m infra.packaging.build [--out build] [--force]

* Layer ``python/``: the ``smsgw`` package, its runtime dependencies at exactly the
  versions of the project venv (what the tests ran against), installed with this
  interpreter's pip as binary wheels only, and Chalice's runtime module (the two files
  ``chalice package`` puts in each function zip; the CLI and its dependencies stay out).
  boto3 is not shipped: the Lambda runtime provides it.
* Function zips: ``app.py`` and whatever else the function directory holds (chalicelib),
  minus Chalice's own config and the requirements file.
* Everything precompiled (see zips.compile_tree), zips reproducible (zips.write_zip),
  named by content hash in ``build/manifest.json``. The dependency tree is cached by
  its inputs, so a warm build only re-zips what changed.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

from infra.packaging.zips import compile_tree, copy_tree, sha256_file, tree_fingerprint, write_zip

REPO = Path(__file__).resolve().parents[2]
RUNTIME_PYTHON = (3, 12)
FUNCTIONS = ("ingress", "webhooks", "dispatch")
LAYER_SOURCE = REPO / "layers" / "smsgw"
# Bump when the layout of an artifact changes, so cached pieces are rebuilt.
FORMAT = "smsgw-build-2"
# Never in the layer: the runtime provides these, and a second copy would shadow the
# runtime's (and double the size).
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer"})
# In a function directory but not part of the deployed code.
FUNCTION_SKIP = (".chalice", "requirements.txt", "tests")


@dataclass(frozen=True)
class Artifact:
    name: str
    file: str  # path relative to the repository
    sha256: str
    fingerprint: str  # hash of the inputs it was built from

    @property
    def path(self) -> Path:
        return REPO / self.file

    @property
    def s3_key(self) -> str:
        """Content-addressed: a changed artifact gets a new key, an unchanged one keeps it."""
        return f"artifacts/{self.name}-{self.sha256[:16]}.zip"


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _layer_requirements() -> list[str]:
    project = tomllib.loads((LAYER_SOURCE / "pyproject.toml").read_text())["project"]
    return sorted(project["dependencies"])


def _venv_pins() -> str:
    """name==version of every distribution in this venv, as a pip constraints file."""
    pins = {
        _normalise(dist.metadata["Name"]): dist.version
        for dist in importlib.metadata.distributions()
        if dist.metadata["Name"] and _normalise(dist.metadata["Name"]) != "smsgw"
    }
    return "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))


def _build_dependencies(out: Path, log: list[str]) -> tuple[Path, str]:
    """The layer's third-party tree (``.../python``), cached by requirements and pins."""
    requirements = _layer_requirements()
    constraints = _venv_pins()
    key = hashlib.sha256(
        "\n".join(
            [FORMAT, sysconfig.get_platform(), sys.version, *requirements, constraints]
        ).encode()
    ).hexdigest()
    cache = out / "cache" / f"layer-deps-{key[:16]}"
    if (cache / "python").is_dir():
        return cache / "python", key
    log.append("layer dependencies: installing with pip (first build only)")
    staging = out / "cache" / f".layer-deps-{key[:16]}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    constraints_file = staging / "constraints.txt"
    constraints_file.write_text(constraints)
    target = staging / "python"
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--target",
        str(target),
        # Wheels only: a source build would compile against this host, not the runtime.
        "--only-binary=:all:",
        "--no-compile",  # compiled below, reproducibly
        "-c",
        str(constraints_file),
        *requirements,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise RuntimeError(f"pip install for the layer failed:\n{result.stdout}{result.stderr}")
    # Console scripts carry this venv's interpreter path in their shebang: useless on
    # Lambda and different per clone (not reproducible). So do the RECORD lines that
    # hash them.
    shutil.rmtree(target / "bin", ignore_errors=True)
    for record in target.glob("*.dist-info/RECORD"):
        lines = record.read_text().splitlines(keepends=True)
        record.write_text("".join(line for line in lines if not line.startswith("../../bin/")))
    shipped = {_normalise(p.name.split("-")[0]) for p in target.glob("*.dist-info")}
    leaked = shipped & RUNTIME_PROVIDED
    if leaked:
        raise RuntimeError(f"layer would ship runtime-provided packages: {sorted(leaked)}")
    compile_tree(target, "/opt/python")
    constraints_file.unlink()
    shutil.rmtree(cache, ignore_errors=True)
    staging.replace(cache)
    return cache / "python", key


def _chalice_runtime_files() -> list[Path]:
    spec = importlib.util.find_spec("chalice")
    if spec is None or spec.origin is None:
        raise RuntimeError("chalice is not installed in this venv (make venv)")
    package = Path(spec.origin).parent
    return [package / "__init__.py", package / "app.py"]


def _reuse(out: Path, name: str, fingerprint: str) -> Artifact | None:
    record = out / "artifacts" / f"{name}.json"
    if not record.is_file():
        return None
    artifact = Artifact(**json.loads(record.read_text()))
    if artifact.fingerprint != fingerprint or not artifact.path.is_file():
        return None
    if sha256_file(artifact.path) != artifact.sha256:
        return None
    return artifact


def _store(out: Path, name: str, fingerprint: str, roots: list[tuple[Path, str]]) -> Artifact:
    artifacts = out / "artifacts"
    scratch = artifacts / f"{name}.zip"
    sha = write_zip(scratch, roots)
    final = artifacts / f"{name}-{sha[:16]}.zip"
    for stale in artifacts.glob(f"{name}-*.zip"):
        if stale != final:
            stale.unlink()
    scratch.replace(final)
    artifact = Artifact(name, str(final.relative_to(REPO)), sha, fingerprint)
    (artifacts / f"{name}.json").write_text(json.dumps(asdict(artifact), indent=2) + "\n")
    return artifact


def build_layer(out: Path, log: list[str], *, force: bool = False) -> Artifact:
    deps, deps_key = _build_dependencies(out, log)
    chalice_files = _chalice_runtime_files()
    source = LAYER_SOURCE / "src" / "smsgw"
    fingerprint = tree_fingerprint(
        [source],
        FORMAT,
        deps_key,
        *(hashlib.sha256(p.read_bytes()).hexdigest() for p in chalice_files),
    )
    if not force and (artifact := _reuse(out, "layer", fingerprint)):
        return artifact
    stage = out / "stage" / "layer"
    shutil.rmtree(stage, ignore_errors=True)
    copy_tree(source, stage / "smsgw")
    for path in chalice_files:
        (stage / "chalice").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, stage / "chalice" / path.name)
    compile_tree(stage, "/opt/python")
    log.append("layer: zipped")
    return _store(out, "layer", fingerprint, [(deps, "python"), (stage, "python")])


def build_function(out: Path, name: str, log: list[str], *, force: bool = False) -> Artifact:
    source = REPO / "functions" / name
    fingerprint = tree_fingerprint([source], FORMAT, *FUNCTION_SKIP)
    if not force and (artifact := _reuse(out, name, fingerprint)):
        return artifact
    stage = out / "stage" / name
    shutil.rmtree(stage, ignore_errors=True)
    copy_tree(source, stage, skip=FUNCTION_SKIP)
    compile_tree(stage, "/var/task")
    log.append(f"{name}: zipped")
    return _store(out, name, fingerprint, [(stage, "")])


def build_all(
    out: Path | None = None, *, force: bool = False, verbose: bool = True
) -> dict[str, Artifact]:
    """Build (or reuse) every artifact; writes and returns the manifest."""
    if sys.version_info[:2] != RUNTIME_PYTHON:
        wanted = ".".join(map(str, RUNTIME_PYTHON))
        raise RuntimeError(f"build with the project venv (Python {wanted}, the Lambda runtime's)")
    out = out or REPO / "build"
    log: list[str] = []
    artifacts = {"layer": build_layer(out, log, force=force)}
    for name in FUNCTIONS:
        artifacts[name] = build_function(out, name, log, force=force)
    manifest = {name: asdict(artifact) for name, artifact in artifacts.items()}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    for line in log if verbose else []:
        print(f"  {line}")
    return artifacts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "build")
    parser.add_argument("--force", action="store_true", help="rebuild even if inputs are unchanged")
    args = parser.parse_args()
    for name, artifact in build_all(args.out.resolve(), force=args.force).items():
        size = artifact.path.stat().st_size / 1e6
        print(f"{name:9} {artifact.file}  {size:6.1f} MB  sha256 {artifact.sha256[:16]}")


if __name__ == "__main__":
    main()
