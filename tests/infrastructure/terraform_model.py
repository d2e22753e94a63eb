"""infra/terraform read with python-hcl2, and the little evaluation the tests need.

Terraform cannot reach its provider registry on these machines, so nothing here plans
or applies: the configuration is parsed (python-hcl2 8) and the values the tests compare
are resolved by hand from literals and variable defaults. An expression this resolver
does not understand yields ``UNRESOLVED``, which never compares equal to anything, so a
refactoring that hides a value from the tests fails them instead of passing silently.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "infra" / "terraform"
MODULES = TERRAFORM / "modules"
ENVIRONMENTS = TERRAFORM / "environments"
GATEWAY = MODULES / "smsgw"
CONFIG_PY = REPO / "layers" / "smsgw" / "src" / "smsgw" / "config.py"

OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False)


class _Unresolved:
    def __eq__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return "UNRESOLVED"


UNRESOLVED: Any = _Unresolved()


@dataclass(frozen=True)
class TfFile:
    path: Path
    text: str
    data: dict[str, Any]

    @property
    def rel(self) -> str:
        return str(self.path.relative_to(REPO))


@cache
def tf_files() -> tuple[TfFile, ...]:
    paths = sorted(p for p in TERRAFORM.rglob("*.tf") if ".terraform" not in p.parts)
    files = []
    for path in paths:
        text = path.read_text()
        files.append(TfFile(path, text, hcl2.loads(text, serialization_options=OPTIONS)))
    return tuple(files)


def module_dirs() -> list[Path]:
    """Every directory holding .tf files: the modules and the environments."""
    return sorted({f.path.parent for f in tf_files()})


def files_in(directory: Path) -> list[TfFile]:
    return [f for f in tf_files() if f.path.parent == directory]


# --- blocks ----------------------------------------------------------------------------


def resources(
    kind: str | None = None, files: list[TfFile] | None = None
) -> Iterator[tuple[TfFile, str, str, dict[str, Any]]]:
    """(file, type, name, body) of every resource block (data sources: data_sources)."""
    yield from _typed_blocks("resource", kind, files)


def data_sources(
    kind: str | None = None, files: list[TfFile] | None = None
) -> Iterator[tuple[TfFile, str, str, dict[str, Any]]]:
    yield from _typed_blocks("data", kind, files)


def _typed_blocks(
    block: str, kind: str | None, files: list[TfFile] | None
) -> Iterator[tuple[TfFile, str, str, dict[str, Any]]]:
    for f in files if files is not None else tf_files():
        for entry in f.data.get(block, []):
            for rtype, named in entry.items():
                if kind is not None and rtype != kind:
                    continue
                for name, body in named.items():
                    yield f, rtype, name, body


def named_blocks(
    block: str, files: list[TfFile] | None = None
) -> Iterator[tuple[TfFile, str, dict[str, Any]]]:
    """(file, name, body) of variable, output or module blocks."""
    for f in files if files is not None else tf_files():
        for entry in f.data.get(block, []):
            for name, body in entry.items():
                yield f, name, body


def module_calls(directory: Path) -> dict[str, dict[str, Any]]:
    return {name: body for _, name, body in named_blocks("module", files_in(directory))}


def variables(directory: Path) -> dict[str, dict[str, Any]]:
    return {name: body for _, name, body in named_blocks("variable", files_in(directory))}


def locals_of(directory: Path) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for f in files_in(directory):
        for block in f.data.get("locals", []):
            merged.update({k: v for k, v in block.items() if not k.startswith("__")})
    return merged


def block(body: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The one nested block ``name`` of a body (python-hcl2 gives blocks as lists)."""
    value = body.get(name)
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        return value[0]
    if isinstance(value, dict):
        return value
    raise KeyError(f"no single {name!r} block in {sorted(body)}")


# --- expressions -----------------------------------------------------------------------

_INTERPOLATION = re.compile(r"^\$\{(.*)\}$", re.S)
_VAR_PATH = re.compile(r'^var\.([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\["[A-Za-z0-9_-]+"\])*)$')
_STEP = re.compile(r'\.([A-Za-z0-9_]+)|\["([A-Za-z0-9_-]+)"\]')


def expression(value: Any) -> str | None:
    """The expression inside a "${...}" string, or None for a literal."""
    if isinstance(value, str):
        match = _INTERPOLATION.match(value)
        if match:
            return match.group(1).strip()
    return None


def resolve(value: Any, directory: Path = GATEWAY) -> Any:
    """A literal, or var.x[.y]["z"] / tostring(var.x...) against the defaults of the
    variables of ``directory``; anything else is UNRESOLVED."""
    expr = expression(value)
    if expr is None:
        return value
    inner = re.fullmatch(r"tostring\((.*)\)", expr)
    if inner:
        resolved = resolve("${" + inner.group(1) + "}", directory)
        return resolved if resolved is UNRESOLVED else _terraform_string(resolved)
    match = _VAR_PATH.match(expr)
    if not match:
        return UNRESOLVED
    variable = variables(directory).get(match.group(1))
    if variable is None or "default" not in variable:
        return UNRESOLVED
    current: Any = variable["default"]
    for attr, key in _STEP.findall(match.group(2)):
        step = attr or key
        if not isinstance(current, dict) or step not in current:
            return UNRESOLVED
        current = current[step]
    return current


def _terraform_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def same_number(a: Any, b: Any) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return False


# --- the application's side ------------------------------------------------------------


@cache
def env_names_read_by_code() -> frozenset[str]:
    """Values of smsgw.config.ENV_NAMES, read from the source (no import: this runs in
    a venv without the project's dependencies)."""
    tree = ast.parse(CONFIG_PY.read_text())
    for node in ast.walk(tree):
        target = None
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            target, value = node.target.id, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            first = node.targets[0]
            target, value = (first.id if isinstance(first, ast.Name) else None), node.value
        if target == "ENV_NAMES" and isinstance(value, ast.Dict):
            return frozenset(
                v.value
                for v in value.values
                if isinstance(v, ast.Constant) and isinstance(v.value, str)
            )
    raise AssertionError(f"ENV_NAMES not found in {CONFIG_PY}")
