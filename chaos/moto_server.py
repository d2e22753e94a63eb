"""The run's SQS: a moto server in a process of its own (its own interpreter lock),
shared by every process of the run.

Started by ``chaos.services.MotoProcess``; prints ``{"port": N}`` once it listens, then
serves until its standard input closes (the parent ended, however it ended) or SIGTERM.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading


def main() -> None:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _host, port = server.get_host_and_port()
    print(json.dumps({"port": port}), flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())

    def watch_stdin() -> None:
        sys.stdin.read()
        done.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    done.wait()
    server.stop()


if __name__ == "__main__":
    main()
