"""pytest fixtures of partnerdb's test kit, loaded by pytest through the `pytest11` entry point.

- `partnerdb_server` (session): one `LocalAWS` (moto on 127.0.0.1, a free port), stopped at
  the end of the session.
- `partnerdb_aws` (each test): that server emptied, its environment set (home credentials,
  region, endpoint; partners as they are added) and restored after the test.
- `lambda_context` (each test): a `LambdaContext` with a 3 s deadline.

Nothing here imports moto until a fixture is used, so the plugin costs nothing elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from partnerdb.testing.aws import LocalAWS
from partnerdb.testing.context import LambdaContext


@pytest.fixture(scope="session")
def partnerdb_server() -> Iterator[LocalAWS]:
    """One moto server for the session."""
    aws = LocalAWS().start()
    try:
        yield aws
    finally:
        aws.stop()


@pytest.fixture
def partnerdb_aws(partnerdb_server: LocalAWS) -> Iterator[LocalAWS]:
    """An empty local AWS with the environment pointing at it; restored after the test."""
    partnerdb_server.reset()
    with partnerdb_server.environment():
        yield partnerdb_server
    partnerdb_server.partners.clear()


@pytest.fixture
def lambda_context() -> LambdaContext:
    """A Lambda context whose deadline is 3 s after the test asked for it."""
    return LambdaContext(timeout_s=3.0)
