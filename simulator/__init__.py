"""Provider simulator: a stdlib-only HTTP service standing in for real SMS providers.

It hosts several named providers, each with its own latency, failure behaviour and
delivery-receipt behaviour, all switchable at run time over HTTP. It records every send
it receives so tests can count deliveries (and detect duplicate sends).

Typical use from a test::

    from simulator.server import SimulatorServer

    srv = SimulatorServer(port=0, providers={"alpha": {"latency_ms": 0}})
    srv.start()
    ...  # point the code under test at srv.url
    srv.stop()
"""

from simulator.config import ConfigError
from simulator.server import SimulatorServer

__all__ = ["ConfigError", "SimulatorServer"]
