"""The log redactor's secrets follow the live partner sessions (plus configured ExternalIds):
an evicted partner's credentials leave it, so its size, and the cost of every record, stays
flat however many requests a small cache serves."""

from __future__ import annotations

import pytest

from partnerdb import Partners, redact_secrets
from partnerdb.redact import REDACTOR
from tests.core.conftest import ACME, GLOBEX
from tests.core.models import Order

REQUESTS = 40


def _touch(partners: Partners, partner_id: str) -> None:
    with pytest.raises(Order.DoesNotExist):
        partners.db(partner_id).model(Order).get("missing")


def test_evicted_sessions_leave_the_redactor(accounts: object) -> None:
    partners = Partners.from_env(cache_size=1)
    _touch(partners, "acme")
    _touch(partners, "globex")  # acme evicted
    settled = len(REDACTOR)
    for n in range(REQUESTS):
        _touch(partners, ("acme", "globex")[n % 2])
    stats = partners.stats.snapshot()
    assert stats["evictions"] == REQUESTS + 1 and stats["sts_calls"] == REQUESTS + 2
    assert len(REDACTOR) == settled  # one live session's three secrets, not 3 per request
    # the configured partners' ExternalIds stay redacted whatever is cached
    line = f"acme={ACME.external_id} globex={GLOBEX.external_id}"
    assert ACME.external_id not in REDACTOR.redact(line)
    assert GLOBEX.external_id not in REDACTOR.redact(line)


def test_a_secret_registered_twice_stays_until_discarded_twice() -> None:
    secret = "shared-external-id-0c4f1e"
    REDACTOR.add(secret)
    REDACTOR.add(secret)
    REDACTOR.discard(secret)
    assert REDACTOR.redact(f"id {secret}!") == "id ***!"
    REDACTOR.discard(secret)
    assert REDACTOR.redact(f"id {secret}!") == f"id {secret}!"


@pytest.mark.parametrize(
    "secret",
    ["a-b-c-d-e-f", "FQoGZXIvYXdzEJr//////////wEaDNf3+t0K", "ASIAEXAMPLE1234567Z9"],
    ids=["no-long-run", "token-like", "key-id-like"],
)
def test_every_secret_is_found_wherever_it_stands(secret: str) -> None:
    REDACTOR.add(secret)
    try:
        glued = (f"x{secret}", f"{secret}9", f'"{secret}"', f"<T>{secret}</T>", f"a={secret}&b")
        for text in glued:
            assert secret not in REDACTOR.redact(text), text
    finally:
        REDACTOR.discard(secret)


@pytest.mark.parametrize(
    "line",
    [
        "{'RoleArn': 'arn:aws:iam::1:role/r', 'ExternalId': 'k9,Zq:/=+@.-never-logged'}",
        '{"ExternalId": "k9,Zq:/=+@.-never-logged", "RoleSessionName": "s"}',
        "ExternalId='k9,Zq:/=+@.-never-logged' DurationSeconds=3600",
    ],
)
def test_a_quoted_field_value_is_redacted_to_its_closing_quote(line: str) -> None:
    """An ExternalId may hold , : / = + @ . - (AWS's alphabet): a quoted value is redacted
    whole, whatever it holds, not up to its first comma."""
    redacted = redact_secrets(line)
    assert "Zq" not in redacted and "never-logged" not in redacted
    assert "RoleSessionName" in redacted or "DurationSeconds" in redacted or "RoleArn" in redacted


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ("token: abc def", "def"),
        (
            "refresh token=expired for partner acme\nduring handling, 42 records were lost",
            "42 records",
        ),
        (
            "Credential=ASIAEXAMPLEEXAMPLE/20261201/us-east-1/sts/aws4_request, SignedHeaders=host",
            "SignedHeaders=host",
        ),
        ("X-Amz-Credential=ASIAEXAMPLEEXAMPLE%2F2026&X-Amz-Date=20261201", "X-Amz-Date=20261201"),
    ],
)
def test_a_bare_field_value_is_redacted_to_its_first_separator_only(line: str, kept: str) -> None:
    """Only a quoted value runs to its closing quote; a bare one stops at a space, comma, `&`
    or line end, and the rest of the line stays readable."""
    assert kept in redact_secrets(line)
