"""The last test of the suite: nothing any reliability test logged, printed or answered holds a
secret.

The collector holds every log record (root logger at DEBUG, botocore included), all stdout and
stderr and every response body of the suite, and every secret in play: the function's own key,
secret and token, each partner's ExternalId, and every credential moto's STS issued (copied
before each reset). This file sorts last; the session finalizer in conftest.py searches again
whatever came after it.
"""

from __future__ import annotations

import pytest

from tests.reliability.support import Collector


def _require_material(collector: Collector) -> None:
    if not collector.texts:
        pytest.skip("run with the rest of tests/reliability: nothing was collected")
    labels = " ".join(collector.secrets.values())
    assert "ExternalId" in labels and "session token of partnerdb" in labels, (
        "the collector saw no partner credentials: the sweep would prove nothing"
    )


def test_zz_no_secret_key_session_token_or_external_id_anywhere(collector: Collector) -> None:
    """No secret key, session token or ExternalId in any log line, output or response."""
    _require_material(collector)
    end = len(collector.texts)
    leaks = collector.leaks(collector.secrets)
    collector.checked = end
    assert not leaks, "\n".join(sorted(set(leaks)))


def test_zz_no_access_key_id_anywhere(collector: Collector) -> None:
    """No access key id the product used (home, or issued to partnerdb) shows anywhere."""
    _require_material(collector)
    leaks = collector.leaks(collector.access_key_ids)
    assert not leaks, "\n".join(sorted(set(leaks))[:20])
