"""Command line: ``python -m simulator --host 127.0.0.1 --port 4599 [--config file.json]``.

Serves until SIGINT or SIGTERM, then stops cleanly (exit status 0), so ``make down`` can
stop it with a plain kill.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from simulator.config import ConfigError
from simulator.server import SimulatorServer

_FILE_KEYS = {"providers", "webhook_base"}


def load_config_file(path: str) -> tuple[dict[str, Any] | None, str | None]:
    """Read ``{"providers": {...}, "webhook_base": "..."}``; both keys are optional."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a JSON object")
    unknown = set(data) - _FILE_KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown keys {sorted(unknown)}")
    providers = data.get("providers")
    if providers is not None and not isinstance(providers, dict):
        raise ConfigError(f"{path}: 'providers' must be an object of name -> config")
    base = data.get("webhook_base")
    if base is not None and not isinstance(base, str):
        raise ConfigError(f"{path}: 'webhook_base' must be a string")
    return providers, base


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m simulator", description="SMS provider simulator (HTTP, JSON)."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=4599, help="port to bind (4599; 0 = any)")
    parser.add_argument("--config", help='JSON file: {"providers": {name: config}}')
    parser.add_argument(
        "--webhook-base",
        help="base URL delivery receipts go to, as {base}/v1/webhooks/{provider}",
    )
    parser.add_argument("--seed", type=int, help="seed for the random draws")
    parser.add_argument("--verbose", action="store_true", help="log requests to stderr")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    providers: dict[str, Any] | None = None
    webhook_base: str | None = None
    try:
        if args.config:
            providers, webhook_base = load_config_file(args.config)
        server = SimulatorServer(
            args.host,
            args.port,
            providers,
            args.webhook_base or webhook_base,
            seed=args.seed,
            verbose=args.verbose,
        )
        server.start()
    except (ValueError, OSError) as exc:  # ConfigError is a ValueError
        print(f"simulator: {exc}", file=sys.stderr)
        return 2

    stopping = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    names = ", ".join(server.providers()) or "none"
    print(f"provider simulator listening on {server.url} (providers: {names})", flush=True)
    while not stopping.wait(0.5):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
