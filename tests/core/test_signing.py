"""`partnerdb.signing`: partners' DynamoDB requests signed exactly as botocore signs them.

The equality tests sign the same request with `FastSigV4` and with botocore's `SigV4Auth` at
the same instant and compare every header; the requests `FastSigV4` does not sign itself are
signed by botocore's signer all the same. The server tests send a partner's requests through a
stand-in that checks every signature as AWS does (`emulators.sigv4_check`) on the way to moto.
"""

from __future__ import annotations

import datetime
import json
import random
from collections.abc import Iterator
from typing import Any

import botocore
import botocore.auth
import botocore.session
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import partnerdb.signing
from emulators.fault_server import FaultServer, forward_to
from emulators.sigv4_check import SignatureCheck
from partnerdb.signing import MARK, FastSigV4

NOW = datetime.datetime(2026, 11, 30, 23, 59, 59)
CREDENTIALS = Credentials("ASIAPARTNERKEY000001", "partner/secret+key", "partner-session-token")
URL = "https://dynamodb.eu-west-1.amazonaws.com/"


class Spy:
    """Counts requests botocore's own signer signs."""

    def __init__(self) -> None:
        self.botocore_signed = 0


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    """Time stands still for both signers; botocore's signatures are counted."""
    monkeypatch.setattr(partnerdb.signing, "get_current_datetime", lambda: NOW)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: NOW)
    seen = Spy()
    add_auth = botocore.auth.SigV4Auth.add_auth

    def counted(self: Any, request: Any) -> None:
        seen.botocore_signed += 1
        add_auth(self, request)

    monkeypatch.setattr(botocore.auth.SigV4Auth, "add_auth", counted)
    return seen


def request(
    body: Any = b'{"TableName": "acme_payments"}',
    url: str = URL,
    headers: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
) -> AWSRequest:
    """A request as botocore's serializer hands it to the signer."""
    base = {
        "X-Amz-Target": "DynamoDB_20120810.GetItem",
        "Content-Type": "application/x-amz-json-1.0",
        "User-Agent": "Botocore/1.44.8 ua/2.1",
        "X-Amzn-Trace-Id": "Root=1-6b0dc8bf-fdd16ced3bb394195cb7fafc",
    }
    made = AWSRequest(method="POST", url=url, data=body, headers={**base, **(headers or {})},
                      params=params or {})
    made.context = {"client_region": "eu-west-1"}
    return made


def both(made: AWSRequest, credentials: Credentials = CREDENTIALS,
         region: str = "eu-west-1") -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """The headers after `FastSigV4`, and after botocore's signer, of copies of `made`."""
    ours, theirs = request_copy(made), request_copy(made)
    FastSigV4(credentials).sign(ours, "dynamodb", region)
    botocore.auth.SigV4Auth(credentials, "dynamodb", region).add_auth(theirs)
    assert ours.context.get("timestamp") == theirs.context.get("timestamp")
    return list(ours.headers.items()), list(theirs.headers.items())


def request_copy(made: AWSRequest) -> AWSRequest:
    copy = AWSRequest(method=made.method, url=made.url, data=made.data, params=made.params)
    for name, value in made.headers.items():
        copy.headers[name] = value
    copy.context = dict(made.context)
    return copy


def random_body(rng: random.Random) -> bytes:
    alphabet = "abcXYZ019 _-./:+=\"\\é漢🙂\t"
    item = {
        "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8))): {
            "S": "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        }
        for _ in range(rng.randint(0, 6))
    }
    return json.dumps({"TableName": "t", "Item": item}, ensure_ascii=rng.random() < 0.5).encode()


SIGNED_HERE = {
    "plain": request(),
    "empty body": request(body=b""),
    "unicode body": request(body='{"k": "é漢🙂"}'.encode()),
    "http with a port": request(url="http://127.0.0.1:8000/"),
    "https default port written out": request(url="https://dynamodb.eu-west-1.amazonaws.com:443"),
    "upper-case host": request(url="https://DynamoDB.EU-West-1.amazonaws.com/"),
    "no path": request(url="http://localhost:4566"),
    "spaces inside a value": request(headers={"X-Custom": "  a   b\tc  "}),
    "a Host header": request(headers={"Host": "example.com"}),
    "a previous attempt's headers": request(headers={
        "Authorization": "old", "X-Amz-Date": "20200101T000000Z",
        "X-Amz-Security-Token": "old-token"}),
    "a non-ASCII value in an unsigned header": request(headers={"User-Agent": "agent/é"}),
}
SIGNED_BY_BOTOCORE = {
    "a query string": request(url=URL + "?a=b&c=d"),
    "a path": request(url="https://proxy.example.com/dynamodb/"),
    "IPv6": request(url="http://[::1]:8000/"),
    "params": request(params={"b": "2", "a": "1"}),
    "a Date header": request(headers={"Date": "Mon, 30 Nov 2026 10:00:00 GMT"}),
    "a payload hash header": request(headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}),
    "a non-ASCII signed value": request(headers={"X-Custom": "é"}),
    "a form body": request(body={"Action": "GetCallerIdentity"}),
}


@pytest.mark.parametrize("name", list(SIGNED_HERE))
def test_the_same_headers_as_botocore(spy: Spy, name: str) -> None:
    ours, theirs = both(SIGNED_HERE[name])
    assert ours == theirs
    assert spy.botocore_signed == 1  # botocore's reference signature only


@pytest.mark.parametrize("name", list(SIGNED_BY_BOTOCORE))
def test_other_requests_are_signed_by_botocore(spy: Spy, name: str) -> None:
    ours, theirs = both(SIGNED_BY_BOTOCORE[name])
    assert ours == theirs
    assert spy.botocore_signed == 2


def test_credentials_without_a_token(spy: Spy) -> None:
    """No token: nothing added; a token header already there is botocore's to sign (it keeps
    it)."""
    plain = Credentials("AKIALONGTERMKEY00001", "long-term-secret")
    ours, theirs = both(request(), plain)
    assert ours == theirs and spy.botocore_signed == 1
    ours, theirs = both(request(headers={"X-Amz-Security-Token": "left"}), plain)
    assert ours == theirs and spy.botocore_signed == 3


def test_a_request_botocore_cannot_sign_fails_the_same_way(spy: Spy) -> None:
    with pytest.raises(TypeError) as ours:
        FastSigV4(CREDENTIALS).sign(request(headers={"X-Custom": b"raw"}), "dynamodb", "eu-west-1")
    with pytest.raises(TypeError) as theirs:
        botocore.auth.SigV4Auth(CREDENTIALS, "dynamodb", "eu-west-1").add_auth(
            request(headers={"X-Custom": b"raw"})
        )
    assert str(ours.value) == str(theirs.value)


def test_random_bodies_regions_and_credentials(spy: Spy) -> None:
    rng = random.Random(20261130)
    for _ in range(200):
        credentials = Credentials(
            f"ASIA{rng.randrange(10**12):012d}", f"{rng.random()}/+=", rng.choice([None, "tok"])
        )
        region = rng.choice(["us-east-1", "eu-west-1", "ap-southeast-2"])
        ours, theirs = both(request(body=random_body(rng)), credentials, region)
        assert ours == theirs
    assert spy.botocore_signed == 200


def test_many_endpoints_one_signer(spy: Spy) -> None:
    """More endpoint URLs than the signer remembers (64): each still signed as botocore does."""
    signer = FastSigV4(CREDENTIALS)
    for n in range(100):
        url = f"http://127.0.0.{n % 250 + 1}:{8000 + n}/"
        ours, theirs = request_copy(request(url=url)), request_copy(request(url=url))
        signer.sign(ours, "dynamodb", "eu-west-1")
        botocore.auth.SigV4Auth(CREDENTIALS, "dynamodb", "eu-west-1").add_auth(theirs)
        assert list(ours.headers.items()) == list(theirs.headers.items())
    assert spy.botocore_signed == 100


def test_the_signing_key_follows_the_date_and_the_secret(
    spy: Spy, monkeypatch: pytest.MonkeyPatch
) -> None:
    signer = FastSigV4(CREDENTIALS)
    first = request_copy(request())
    signer.sign(first, "dynamodb", "eu-west-1")
    tomorrow = NOW + datetime.timedelta(seconds=1)
    monkeypatch.setattr(partnerdb.signing, "get_current_datetime", lambda: tomorrow)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: tomorrow)
    ours, theirs = request_copy(request()), request_copy(request())
    signer.sign(ours, "dynamodb", "eu-west-1")
    botocore.auth.SigV4Auth(CREDENTIALS, "dynamodb", "eu-west-1").add_auth(theirs)
    assert ours.headers["Authorization"] == theirs.headers["Authorization"]
    assert ours.headers["Authorization"] != first.headers["Authorization"]
    assert signer.holds_key
    signer.forget()
    assert not signer.holds_key
    rotated = Credentials(CREDENTIALS.access_key, "a-rotated-secret", CREDENTIALS.token)
    assert both(request(), rotated) == both(request(), rotated)[::-1]


class _Refreshing:
    """Credentials that rotate on every read, as a refresh would."""

    def __init__(self) -> None:
        self.reads = 0

    def get_frozen_credentials(self) -> Any:
        self.reads += 1
        return Credentials(f"ASIAROTATED{self.reads:09d}", f"secret-{self.reads}", "tok")


def test_the_credentials_are_read_for_every_request(spy: Spy) -> None:
    credentials = _Refreshing()
    signer = FastSigV4(credentials)
    for n in (1, 2):
        made = request_copy(request())
        signer.sign(made, "dynamodb", "eu-west-1")
        assert f"Credential=ASIAROTATED{n:09d}/" in made.headers["Authorization"]
    assert credentials.reads == 2


@pytest.mark.parametrize(
    ("version", "context"),
    [
        ("v4-query", {}),
        ("s3v4", {}),
        ("v4a", {}),
        ("v4", {"auth_type": "v4a"}),
        ("v4", {"unsigned_payload": True}),
        ("v4", {"payload_signing_enabled": False}),
        ("v4", {"signing": {"region": "us-east-1", "request_credentials": object()}}),
    ],
)
def test_choose_signer_leaves_other_signatures_to_botocore(
    version: str, context: dict[str, Any]
) -> None:
    signer = FastSigV4(CREDENTIALS)
    answer = signer.choose(signing_name="dynamodb", region_name="us-east-1",
                           signature_version=version, context=context)
    assert answer is None and MARK not in context


def test_choose_signer_takes_plain_sigv4() -> None:
    context: dict[str, Any] = {"auth_type": "v4", "signing": {"region": "eu-west-1"}}
    answer = FastSigV4(CREDENTIALS).choose(signing_name="dynamodb", region_name="eu-west-1",
                                           signature_version="v4", context=context)
    assert answer is botocore.UNSIGNED and context[MARK] == ("dynamodb", "eu-west-1")


def test_handlers_registered_later_still_run_before_the_signature(
    spy: Spy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `before-sign` handler added after partnerdb's changes the request first, as it would
    before botocore's own signing: the header it adds is signed."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    client = botocore.session.get_session().create_client(
        "dynamodb", "eu-west-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    FastSigV4(CREDENTIALS).install(client)
    sent: list[str] = []

    def add_header(request: Any, **_: Any) -> None:
        request.headers["X-Later"] = "added"

    class Sent(Exception):
        """Raised where the request would go out: nothing leaves the process."""

    def stop(request: Any, **_: Any) -> Any:
        value = request.headers["Authorization"]
        sent.append(value.decode() if isinstance(value, bytes) else value)
        raise Sent

    client.meta.events.register("before-sign.dynamodb", add_header)
    client.meta.events.register("before-send.dynamodb", stop)
    with pytest.raises(Sent):
        client.describe_limits()
    assert sent and "x-later" in sent[0].split("SignedHeaders=")[1].split(",")[0].split(";")
    assert spy.botocore_signed == 0


@pytest.fixture
def checked_dynamodb(moto: Any) -> Iterator[tuple[SignatureCheck, str]]:
    check = SignatureCheck(forward_to(moto.url))
    with FaultServer(check) as server:
        yield check, server.url


def test_a_wrong_signature_is_refused_by_the_check(
    checked_dynamodb: tuple[SignatureCheck, str],
) -> None:
    """The check can fail: a key it knows, signed with another secret."""
    check, url = checked_dynamodb
    check.learn("AKIACHECKEDKEY000001", "the-right-secret")
    session = botocore.session.get_session()
    wrong = session.create_client("dynamodb", "us-east-1", endpoint_url=url,
                                  aws_access_key_id="AKIACHECKEDKEY000001",
                                  aws_secret_access_key="a-wrong-secret")
    with pytest.raises(botocore.exceptions.ClientError, match="InvalidSignatureException"):
        wrong.list_tables()
    right = session.create_client("dynamodb", "us-east-1", endpoint_url=url,
                                  aws_access_key_id="AKIACHECKEDKEY000001",
                                  aws_secret_access_key="the-right-secret")
    right.list_tables()
    assert check.checked == 2 and check.rejected == ["signature mismatch"]
