"""The functions' Chalice apps, imported the way the tests and benchmarks need them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def load_function_app(name: str) -> ModuleType:
    """Import functions/<name>/app.py under a unique module name (every Chalice app
    is called ``app``, so they cannot share the plain name in one process)."""
    module_name = f"smsgw_function_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    path = ROOT / "functions" / name / "app.py"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
