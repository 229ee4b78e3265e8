"""partnerdb's redaction of botocore's DEBUG logs of AssumeRole.

At DEBUG, botocore logs the AssumeRole request parameters (with the partner's ExternalId), the
signed request (the function's own session token and access key id) and the response body (the
issued access key id, secret key and session token). The filter partnerdb installs when a
`Partners` is built must leave none of them in any record.
"""

from __future__ import annotations

import io
import logging

import pytest

from partnerdb.redact import REDACTOR, install_redaction
from tests.conftest import HOME_ENV
from tests.reliability.conftest import RigFactory
from tests.reliability.support import ACME, PaymentsRig, payment_data


def _assume_role_logs(
    make_rig: RigFactory, caplog: pytest.LogCaptureFixture
) -> tuple[PaymentsRig, list[str], dict[str, str]]:
    """Run one create (one AssumeRole) and return its DEBUG log messages and what STS issued."""
    from moto.sts.models import sts_backends

    rig = make_rig()
    caplog.clear()
    assert rig.invoke("createPayment", payment_data(1)).status == 200
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("botocore")]
    (role,) = [
        role
        for account in sts_backends.values()
        for backend in account.values()
        for role in backend.assumed_roles
        if role.session_name.startswith("partnerdb")
    ]
    issued = {
        "AccessKeyId": role.access_key_id,
        "SecretAccessKey": role.secret_access_key,
        "SessionToken": role.session_token,
    }
    return rig, messages, issued


def test_assume_role_debug_logs_carry_no_external_id_secret_key_or_token(
    make_rig: RigFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """The request parameters, signed request and response body are logged, redacted."""
    caplog.set_level(logging.DEBUG)
    rig, messages, issued = _assume_role_logs(make_rig, caplog)
    request = [m for m in messages if "AssumeRole" in m and "ExternalId" in m]
    response = [m for m in messages if "<AssumeRoleResponse" in m]
    signed = [m for m in messages if "Sending http request" in m and rig.sts.url in m]
    assert request and response and signed, "botocore did not log AssumeRole at DEBUG"
    assert all("***" in m for m in request + response + signed)
    forbidden = {
        "ExternalId": ACME.external_id,
        "SecretAccessKey": issued["SecretAccessKey"],
        "SessionToken": issued["SessionToken"],
        "home secret key": HOME_ENV["AWS_SECRET_ACCESS_KEY"],
        "home session token": HOME_ENV["AWS_SESSION_TOKEN"],
    }
    for name, value in forbidden.items():
        assert not [m for m in messages if value in m], f"{name} in botocore's DEBUG log"


def test_assume_role_debug_logs_carry_no_access_key_id(
    make_rig: RigFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Access key ids identify credentials; the brief lists them with the secrets."""
    caplog.set_level(logging.DEBUG)
    _, messages, issued = _assume_role_logs(make_rig, caplog)
    for name, value in {
        "issued AccessKeyId": issued["AccessKeyId"],
        "home AWS_ACCESS_KEY_ID": HOME_ENV["AWS_ACCESS_KEY_ID"],
    }.items():
        assert not [m for m in messages if value in m], f"{name} in botocore's DEBUG log"


def test_a_handler_added_after_partners_still_gets_redacted_records(
    make_rig: RigFactory,
) -> None:
    """The filter rewrites the record on botocore's own loggers, so a handler added later
    (Powertools, a test's) sees the redacted text too."""
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    rig = make_rig()
    late = Keep(level=logging.DEBUG)
    root = logging.getLogger()
    level = root.level
    root.addHandler(late)
    root.setLevel(logging.DEBUG)
    try:
        assert rig.invoke("createPayment", payment_data(1)).status == 200
    finally:
        root.removeHandler(late)
        root.setLevel(level)
    text = "\n".join(records)
    rig.collector.add_text(f"{rig.where} [late handler]", text)
    assert "<AssumeRoleResponse" in text
    assert ACME.external_id not in text
    assert HOME_ENV["AWS_SESSION_TOKEN"] not in text


def test_a_secret_and_a_percent_in_an_exception_never_reach_any_stream(
    make_rig: RigFactory, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """A clean message with arguments, logged while handling an exception whose text holds an
    issued session token and a `%` (a presigned URL): the record must still be one redacted
    line, and logging's error handler (which prints the exception being handled to stderr)
    must never run."""
    caplog.set_level(logging.DEBUG)
    rig, _, issued = _assume_role_logs(make_rig, caplog)
    token = issued["SessionToken"]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    install_redaction()  # as the runtime's handler gets it
    url = f"https://bucket.s3.amazonaws.com/k?X-Amz-Expires=60&sig=%2Fab%3D {token}"
    try:
        try:
            raise RuntimeError(f"upload to {url} refused")
        except RuntimeError:
            logging.getLogger("payments.upload").error("call %s failed", "PutObject", exc_info=True)
    finally:
        root.removeHandler(handler)
    written = stream.getvalue()
    err = capsys.readouterr().err
    rig.collector.add_text(f"{rig.where} [stream]", written + err)
    assert token not in written and token not in err
    assert "--- Logging error ---" not in err
    assert written.startswith("call PutObject failed\n")
    assert "RuntimeError: upload to" in written and "***" in written


def test_a_record_that_cannot_be_formatted_still_gives_one_redacted_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(REDACTOR)
    logger = logging.getLogger("payments.broken")
    logger.addHandler(handler)
    try:
        logger.error("ExternalId %s and %d", ACME.external_id)  # one argument short
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    assert written.count("\n") == 1 and "unformattable log record" in written
    assert ACME.external_id not in written + capsys.readouterr().err
