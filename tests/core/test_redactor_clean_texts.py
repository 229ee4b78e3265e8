"""The redactor remembers short texts it found clean, only until the secrets change: a text
that was clean is redacted as soon as a secret in it is registered."""

from __future__ import annotations

import threading
import uuid

import pytest

from partnerdb import Partners
from partnerdb.redact import REDACTED, REDACTOR, SecretRedactor


def test_a_clean_text_is_redacted_once_its_secret_is_registered() -> None:
    redactor = SecretRedactor()
    text = "refund for partner-key Zq9xW2k7Lm3p"
    assert redactor.redact(text) == text
    assert redactor.redact(text) == text
    assert redactor.clean_texts_kept == 1
    redactor.add("Zq9xW2k7Lm3p")
    assert redactor.redact(text) == f"refund for partner-key {REDACTED}"
    redactor.discard("Zq9xW2k7Lm3p")
    assert redactor.redact(text) == text


def test_only_short_clean_texts_are_kept_and_only_so_many() -> None:
    redactor = SecretRedactor()
    redactor.redact("x" * 257)
    redactor.redact("SessionToken=abcdef123456")  # not clean
    assert redactor.clean_texts_kept == 0
    for n in range(1500):
        redactor.redact(f"action-{n}")
    assert redactor.clean_texts_kept == 1024
    assert redactor.redact("action-1499") == "action-1499"


def test_a_text_checked_while_a_secret_is_added_is_not_kept_stale() -> None:
    """Threads redacting while others register secrets: after an `add` returns, every text
    holding that secret comes out redacted."""
    redactor = SecretRedactor()
    secrets = [f"Rk{n:04d}Secret9x" for n in range(200)]
    texts = [f"payment {s} ok" for s in secrets]
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            for text in texts[::7]:
                redactor.redact(text)

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for thread in readers:
        thread.start()
    try:
        for secret, text in zip(secrets, texts, strict=True):
            redactor.add(secret)
            assert secret not in redactor.redact(text)
    finally:
        stop.set()
        for thread in readers:
            thread.join(timeout=10)


def test_an_external_id_configured_later_is_redacted_in_a_text_found_clean_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The process-wide redactor, through `Partners`: a partner onboarded after a text was
    logged (and found clean) gets its ExternalId redacted from that text from then on."""
    external_id = f"newco-{uuid.uuid4().hex}"
    text = f"trust policy expects {external_id}"
    assert REDACTOR.redact(text) == text
    monkeypatch.setenv("PARTNER_NEWCO_ROLE_ARN", "arn:aws:iam::333333333333:role/partnerdb")
    monkeypatch.setenv("PARTNER_NEWCO_EXTERNAL_ID", external_id)
    monkeypatch.setenv("PARTNER_NEWCO_TABLE_PREFIX", "newco_")
    monkeypatch.setenv("PARTNER_NEWCO_REGION", "us-east-1")
    partners = Partners.from_env()
    assert "newco" in partners.partner_ids
    assert REDACTOR.redact(text) == f"trust policy expects {REDACTED}"
