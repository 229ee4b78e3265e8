"""botocore's data pre-parsed at layer build (`partnerdb.botocore_data`) gives the same clients.

Every region of every partition botocore knows, DynamoDB and STS, with and without FIPS and
dual-stack: a client on the pre-parsed data sends the same signed request (URL, signing
region and service) as a client on botocore's own JSON. Requests are captured at
`before-send`, after signing, and never leave the process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import botocore
import botocore.session
import pytest
from botocore.config import Config
from botocore.loaders import Loader

from partnerdb import ClientSettings, botocore_data
from partnerdb.clients import ClientFactory

CALLS = {"dynamodb": ("get_item", {"TableName": "t", "Key": {"id": {"S": "1"}}}),
         "sts": ("get_caller_identity", {})}
KEYS = {"aws_access_key_id": "AKIATESTTESTTESTTEST", "aws_secret_access_key": "s" * 40}


class Captured(Exception):
    """Raised at before-send with what would have been sent."""

    def __init__(self, url: str, scope: str) -> None:
        super().__init__(url)
        self.url, self.scope = url, scope


def _capture(request: Any, **_: Any) -> None:
    auth = request.headers["Authorization"].decode()
    scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/", 2)[2]
    raise Captured(request.url, scope)  # region/service/aws4_request


def sent(session: Any, service: str, region: str, config: Config) -> tuple[str, str]:
    client = session.create_client(service, region, config=config, **KEYS)
    client.meta.events.register("before-send", _capture)
    name, params = CALLS[service]
    try:
        getattr(client, name)(**params)
    except Captured as got:
        return got.url, got.scope
    raise AssertionError("before-send did not run")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("botocore_data")
    botocore_data.write(root)
    return root


def regions() -> list[str]:
    endpoints = Loader().load_data("endpoints")
    return sorted({r for p in endpoints["partitions"] for r in p["regions"]})


@pytest.mark.usefixtures("no_endpoint_override")
def test_every_region_sends_the_same_signed_request(prepared: Path) -> None:
    plain = botocore.session.Session()
    fast = botocore.session.Session()
    assert botocore_data.install(fast, prepared) == frozenset(botocore_data.SERVICES)
    configs = {
        "default": Config(retries={"mode": "standard"}),
        "fips": Config(use_fips_endpoint=True),
        "dualstack": Config(use_dualstack_endpoint=True),
    }
    compared = 0
    for region in regions():
        for service in botocore_data.SERVICES:
            for label, config in configs.items():
                if label != "default" and not region.startswith(("us-", "cn-")):
                    continue
                try:
                    expected = sent(plain, service, region, config)
                except Exception as err:  # the same refusal is expected from both
                    with pytest.raises(type(err)):
                        sent(fast, service, region, config)
                    continue
                assert sent(fast, service, region, config) == expected, (service, region, label)
                compared += 1
    assert compared > 60


def test_the_data_is_botocores_own_for_those_services(prepared: Path) -> None:
    loader = botocore_data.PreparedLoader(prepared)
    full = Loader()
    for service in botocore_data.SERVICES:
        for type_name in ("service-2", "endpoint-rule-set-1", "paginators-1"):
            assert loader.load_service_model(service, type_name) == full.load_service_model(
                service, type_name
            )
    assert loader.load_data("partitions") == full.load_data("partitions")
    ours, _ = loader.load_data_with_path("endpoints")
    assert loader.is_builtin_path(loader.load_data_with_path("endpoints")[1])
    for mine, theirs in zip(ours["partitions"], full.load_data("endpoints")["partitions"],
                            strict=True):
        assert set(mine["services"]) == set(botocore_data.SERVICES) & set(theirs["services"])
        assert {k: v for k, v in mine.items() if k != "services"} == {
            k: v for k, v in theirs.items() if k != "services"}
        for service in mine["services"]:
            assert mine["services"][service] == theirs["services"][service]


def test_not_used_for_another_botocore_or_a_custom_data_path(
    prepared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert botocore_data.prepared_loader(prepared) is not None
    assert botocore_data.prepared_loader(tmp_path / "absent") is None
    stale = tmp_path / "stale"
    botocore_data.write(stale)
    (stale / botocore_data.VERSION_FILE).write_text("0.0.1\n")
    assert botocore_data.prepared_loader(stale) is None
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    assert botocore_data.prepared_loader(prepared) is None
    session = botocore.session.Session()
    assert botocore_data.install(session, prepared) == frozenset()
    assert botocore.__version__ in (prepared / botocore_data.VERSION_FILE).read_text()


@pytest.mark.usefixtures("no_endpoint_override")
def test_factory_builds_other_services_on_botocores_own_loader(prepared: Path) -> None:
    factory = ClientFactory(ClientSettings(), botocore_data_dir=prepared)
    ssm = factory.home_client("ssm", "eu-west-1")
    dynamodb = factory.home_client("dynamodb", "eu-west-1")
    assert ssm.meta.service_model.service_name == "ssm"
    assert dynamodb.get_paginator("scan") is not None
    assert dynamodb.get_waiter("table_exists") is not None
