"""The one copy of what several test suites need.

- `FakeContext`: an in-process Lambda context (`emulators.lambda_context`).
- `FakeClock`: a clock that moves only when told to.
- `free_port`, `closed_port_url`: loopback ports (`emulators.ports`).
- `start_moto`, `moto_process`, `MotoServer`: moto in this process or its own
  (`emulators.moto_server`).
- `create_tables`, `create_table_for`: tables from PynamoDB models in a partner's account,
  HASH key before RANGE as DynamoDB wants (`local.seed`).
- `load_function`: an example function's module, imported as its package (`local.stack`).
"""

from emulators.lambda_context import FakeContext
from emulators.moto_server import MotoServer, moto_process, start_moto
from emulators.ports import closed_port_url, free_port
from local.seed import create_table_for, create_tables
from local.stack import load_function
from tests.support.clock import FakeClock

__all__ = [
    "FakeClock",
    "FakeContext",
    "MotoServer",
    "closed_port_url",
    "create_table_for",
    "create_tables",
    "free_port",
    "load_function",
    "moto_process",
    "start_moto",
]
