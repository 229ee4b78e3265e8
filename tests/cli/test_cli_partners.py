"""`partnerdb partners ...` end to end against moto on 127.0.0.1 (DynamoDB, SSM, STS).

`check` goes through `emulators.sts_checked.CheckedSts` on the project's fault server: an STS
stand-in that refuses an AssumeRole whose ExternalId is not the partner's (moto accepts any)
and forwards everything else to moto.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators.fault_server import FaultServer
from emulators.moto_server import MotoServer
from emulators.sts_checked import CheckedSts
from local.registry_seed import (
    REGISTRY_SSM_PATH,
    REGISTRY_TABLE,
    create_registry_table,
    entry_of,
    put_table_entry,
)
from local.seed import PartnerAccount, create_table_for, home_client
from partnerdb import DynamoDBRegistry, Partners, RegistrySettings, UnknownPartner
from partnerdb.cli import main
from tests.core.models import Order
from tests.support import FakeClock

ROOT = Path(__file__).resolve().parents[2]
WAYNE = PartnerAccount("wayne", "555555555555", "wayne-agreed-external-id-01", "wy_")
TABLE_SPEC = f"dynamodb:{REGISTRY_TABLE}"
GENERATED = re.compile(r"^  ([A-Za-z0-9_-]{43})$", re.MULTILINE)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the command in-process; (exit code, stdout, stderr)."""
    code = main(["partners", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def registry(moto: MotoServer) -> str:
    create_registry_table(moto.url)
    return TABLE_SPEC


def test_add_generates_an_external_id_printed_once(
    registry: str, moto: MotoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "--registry", registry, "add", "Wayne",
                         "--role-arn", WAYNE.role_arn, "--table-prefix", "wy_")
    assert code == 0, err
    generated = GENERATED.findall(out)
    assert len(generated) == 1 and out.count(generated[0]) == 1
    assert "TrustedAccountId=123456789012" in out and "RoleName=partnerdb-access" in out
    assert "TablePrefix=wy_" in out
    item = home_client("dynamodb", moto.url).get_item(
        TableName=REGISTRY_TABLE, Key={"partner_id": {"S": "wayne"}}
    )["Item"]
    assert item["external_id"]["S"] == generated[0] and item["status"]["S"] == "active"
    assert "region" not in item  # the function's own region at run time

    code, out, _ = cli(capsys, "--registry", registry, "list")
    assert code == 0 and "wayne\tactive\t" + WAYNE.role_arn in out
    assert generated[0] not in out
    code, out, _ = cli(capsys, "--registry", registry, "show", "wayne")
    assert code == 0 and generated[0] not in out and "external_id: *** (43 characters)" in out

    code, _, err = cli(capsys, "--registry", registry, "add", "wayne", "--role-arn", WAYNE.role_arn)
    assert code == 2 and "already in" in err


def test_registry_defaults_to_the_runtime_environment(
    registry: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "list")
    assert code == 2 and "no registry" in err
    monkeypatch.setenv("PARTNERDB_REGISTRY_TABLE", REGISTRY_TABLE)
    code, out, err = cli(capsys, "add", "wayne", "--role-arn", WAYNE.role_arn,
                         "--external-id", WAYNE.external_id)
    assert code == 0, err
    assert WAYNE.external_id not in out  # the operator gave it: not echoed
    assert cli(capsys, "list")[1].count("wayne") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "wayne", "--role-arn", "arn:aws:iam::1:role/x"], "'role_arn'"),
        (["add", "wayne", "--role-arn", WAYNE.role_arn, "--region", "moon"], "'region'"),
        (["add", "wayne", "--role-arn", WAYNE.role_arn, "--external-id", "a b"], "'external_id'"),
        (["add", "bad-id!", "--role-arn", WAYNE.role_arn], "invalid partner id"),
        (["show", "nobody"], "not in dynamodb:"),
        (["disable", "nobody"], "not in dynamodb:"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    registry: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = cli(capsys, "--registry", registry, *args)
    assert code == 2 and message in err and out == ""
    assert "a b" not in err


def test_user_errors_never_print_a_traceback(moto: MotoServer) -> None:
    """The real process: a bad --registry and a missing table exit without a traceback."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layer")}
    script = Path(sys.executable).parent / "partnerdb"  # the package's console script
    assert script.is_file(), "run `make install`: the partnerdb console script is missing"
    runs = [
        ([str(script)], ["--registry", "mysql:x", "list"], 2, "dynamodb:TABLE or ssm:/PATH"),
        ([sys.executable, "-m", "partnerdb"],
         ["--registry", "dynamodb:no-such-table", "list"], 1, "ResourceNotFoundException"),
    ]
    for command, args, code, message in runs:
        done = subprocess.run(
            [*command, "partners", *args],
            capture_output=True, text=True, timeout=60, env=env, cwd=ROOT,
        )
        assert done.returncode == code and message in done.stderr
        assert "Traceback" not in done.stderr + done.stdout


def test_disable_and_enable_reach_a_running_function(
    registry: str, moto: MotoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    put_table_entry(moto.url, entry_of(WAYNE))
    create_table_for(Order, WAYNE, moto.url)
    clock = FakeClock()
    partners = Partners([], registry=DynamoDBRegistry(table=REGISTRY_TABLE), clock=clock,
                        registry_settings=RegistrySettings(ttl=300, negative_ttl=60))
    assert partners.db("wayne").model(Order).count() == 0
    assert cli(capsys, "--registry", registry, "disable", "wayne")[0] == 0
    clock.advance(seconds=301)
    with pytest.raises(UnknownPartner):
        partners.db("wayne")
    assert cli(capsys, "--registry", registry, "enable", "wayne")[0] == 0
    clock.advance(seconds=61)
    assert partners.db("wayne").model(Order).count() == 0


def test_rotate_prints_the_new_id_once_with_steps(
    registry: str, moto: MotoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    put_table_entry(moto.url, entry_of(WAYNE))
    code, out, _ = cli(capsys, "--registry", registry, "rotate-external-id", "wayne")
    new = GENERATED.findall(out)
    assert code == 0 and len(new) == 1 and new[0] != WAYNE.external_id
    assert WAYNE.external_id not in out and "partner-role.yaml" in out
    item = home_client("dynamodb", moto.url).get_item(
        TableName=REGISTRY_TABLE, Key={"partner_id": {"S": "wayne"}}
    )["Item"]
    assert item["external_id"]["S"] == new[0]


@pytest.fixture
def checked_sts(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[CheckedSts]:
    """STS that wants WAYNE's agreed ExternalId for WAYNE's role."""
    sts = CheckedSts(moto.url, {WAYNE.role_arn: WAYNE.external_id})
    with FaultServer(sts) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", server.url)
        yield sts


def test_check_reports_each_table(
    registry: str, moto: MotoServer, checked_sts: CheckedSts,
    capsys: pytest.CaptureFixture[str],
) -> None:
    put_table_entry(moto.url, entry_of(WAYNE))
    create_table_for(Order, WAYNE, moto.url)
    code, out, _ = cli(capsys, "--registry", registry, "check", "wayne", "--table", "orders")
    assert code == 0, out
    assert "table wy_orders in 555555555555/us-east-1: ok" in out
    code, out, _ = cli(capsys, "--registry", registry, "check", "wayne",
                       "--table", "orders", "--table", "ledger")
    assert code == 1 and "table wy_ledger in 555555555555/us-east-1: missing" in out
    assert WAYNE.external_id not in out
    assert (WAYNE.role_arn, True) in checked_sts.calls


def test_check_fails_for_a_wrong_external_id(
    registry: str, moto: MotoServer, checked_sts: CheckedSts,
    capsys: pytest.CaptureFixture[str],
) -> None:
    put_table_entry(moto.url, entry_of(WAYNE, external_id="not-what-wayne-agreed"))
    create_table_for(Order, WAYNE, moto.url)
    code, out, _ = cli(capsys, "--registry", registry, "check", "wayne", "--table", "orders")
    assert code == 1
    assert f"role {WAYNE.role_arn}: denied (AccessDenied)" in out
    assert "not-what-wayne-agreed" not in out and "table " not in out
    assert checked_sts.calls == [(WAYNE.role_arn, False)]


def test_ssm_registry_end_to_end(moto: MotoServer, capsys: pytest.CaptureFixture[str]) -> None:
    spec = f"ssm:{REGISTRY_SSM_PATH}"
    code, out, err = cli(capsys, "--registry", spec, "add", "wayne", "--role-arn", WAYNE.role_arn)
    assert code == 0, err
    secret = GENERATED.findall(out)[0]
    param = home_client("ssm", moto.url).get_parameter(
        Name=f"{REGISTRY_SSM_PATH}/wayne", WithDecryption=True
    )["Parameter"]
    assert param["Type"] == "SecureString" and secret in param["Value"]
    assert cli(capsys, "--registry", spec, "disable", "wayne")[0] == 0
    code, out, _ = cli(capsys, "--registry", spec, "list")
    assert code == 0 and "wayne\tdisabled" in out and secret not in out
