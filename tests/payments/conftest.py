"""The payments function through the real runtime: fixtures (helpers are in helpers.py).

Every test here drives `functions/payments` the way Lambda does: the layer that
`build_layer.sh` builds (unpacked as /opt), the function packaged as `sam build` packages it,
and a real `python -m awslambdaric` process behind the local Runtime API. DynamoDB and STS are
the session's moto server, reset before each test; each test seeds the two demo partners
(roles and the payment tables in their own accounts) and starts fresh execution environments,
stopped at teardown: a warm process must not outlive a moto reset, since the role credentials
it caches would be unknown to the reset moto.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from emulators.moto_server import MotoServer
from local.stack import (
    DEMO_PARTNERS,
    Stack,
    build_function,
    build_layer,
    load_function,
    seed_partners,
)
from tests.payments.helpers import Payments


@dataclass(frozen=True)
class Built:
    """The layer as Lambda's /opt and the packaged function's task root."""

    opt: Path
    task_root: Path


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Build the layer (cached by build_layer.sh) and package the function, once a session.

    The package is copied to a private directory: `build_function` rebuilds a shared path that
    another run (`make demo`) may wipe while our processes import from it.
    """
    opt = build_layer()
    packaged = build_function("payments")
    task_root = tmp_path_factory.mktemp("payments-fn") / "task"
    shutil.copytree(packaged, task_root)
    return Built(opt=opt, task_root=task_root)


@pytest.fixture(scope="session")
def payment_models() -> tuple[Any, ...]:
    """The payments function's own PynamoDB models (to create its tables)."""
    models: tuple[Any, ...] = load_function("payments", "models").MODELS
    return models


@pytest.fixture
def stack(moto: MotoServer, built: Built, payment_models: tuple[Any, ...]) -> Iterator[Stack]:
    """moto reset, both demo partners seeded; every function started is stopped afterwards."""
    seed_partners(moto, DEMO_PARTNERS, payment_models)
    env = Stack(moto=moto, opt=built.opt, task_root=built.task_root)
    try:
        yield env
    finally:
        env.stop_functions()


@pytest.fixture
def payments(stack: Stack) -> Payments:
    """A fresh execution environment of the payments function (cold on its first call)."""
    return Payments(stack.function())
