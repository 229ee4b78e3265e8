"""Every request a partner's DynamoDB client sends carries the signature AWS computes for it.

STS and DynamoDB sit behind `emulators.sigv4_check.SignatureCheck` on their way to moto: the
check learns the credentials STS issues and recomputes each DynamoDB request's signature as
AWS does, refusing a mismatch. The payments app runs every action (a put with a condition, a
get, an index query, a transaction of reads and writes) for two partners.
"""

from __future__ import annotations

from typing import Any

import botocore.auth
import pytest

from emulators.fault_server import forward_to
from emulators.sigv4_check import SignatureCheck
from tests.reliability.conftest import RigFactory
from tests.reliability.support import ACME, GLOBEX, payment_data


def test_partner_requests_pass_the_signature_check(
    make_rig: RigFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = make_rig([ACME, GLOBEX])
    botocore_signed: list[str] = []
    add_auth = botocore.auth.SigV4Auth.add_auth

    def counted(self: Any, request: Any) -> None:
        botocore_signed.append(self._service_name)
        add_auth(self, request)

    monkeypatch.setattr(botocore.auth.SigV4Auth, "add_auth", counted)
    check = SignatureCheck(forward_to(rig.moto_url))
    rig.sts_calls.behaviour = check.issuing(forward_to(rig.moto_url))
    rig.dynamodb_calls.behaviour = check
    for partner in ("acme", "globex"):
        created = rig.invoke("createPayment", payment_data(1), partner=partner)
        assert created.status == 200, created.raw
        payment_id = created.data["payment"]["id"]
        got = rig.invoke("getPayment", {"id": payment_id}, partner=partner)
        assert got.status == 200, got.raw
        listed = rig.invoke("listPayments", {"customerId": "cust-1"}, partner=partner)
        assert [p["id"] for p in listed.data["payments"]] == [payment_id], listed.raw
        refund = {"id": payment_id, "amount": 100, "idempotencyKey": "r-1"}
        refunded = rig.invoke("refundPayment", refund, partner=partner)
        assert refunded.status == 200, refunded.raw
    assert check.rejected == []
    assert check.checked == rig.dynamodb_calls.count() >= 8
    # partnerdb signed every DynamoDB request itself; botocore signed the AssumeRoles
    assert "dynamodb" not in botocore_signed
    assert botocore_signed.count("sts") == rig.sts_calls.count() == 2


def test_without_the_issued_secret_every_request_is_refused(make_rig: RigFactory) -> None:
    """The check is live: a stand-in that never saw STS's answer refuses the partner's key."""
    rig = make_rig()
    check = SignatureCheck(forward_to(rig.moto_url))
    rig.dynamodb_calls.behaviour = check
    out = rig.invoke("createPayment", payment_data(1))
    assert out.status >= 500, out.raw
    assert check.checked >= 1 and set(check.rejected) == {"unknown access key"}
