"""partnerdb.testing itself: lifecycle (no thread or port left), environment restore, tables,
the context's deadline, and the plugin as pytest loads it for a user's project."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from partnerdb.testing import Environment, LambdaContext, LocalAWS
from tests.testkit.userfn.models import Order

USERFN = Path(__file__).parent / "userfn"


def nothing_listens(port: int) -> bool:
    """No server accepts connections on 127.0.0.1:port any more."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


def threads_left(before: set[threading.Thread], wait_s: float = 5.0) -> set[threading.Thread]:
    """Threads started since `before` that are still alive after up to `wait_s`.

    A request thread of the stopped server (the probe connection above opens one) may still be
    closing its socket for a moment; the server's own thread must be gone by the time `stop()`
    returns, and nothing may be left once the bounded wait ends."""
    end = time.monotonic() + wait_s
    while True:
        left = {t for t in set(threading.enumerate()) - before if t.is_alive()}
        if not left or time.monotonic() >= end:
            return left
        time.sleep(0.05)


def test_stop_leaves_no_thread_and_no_port() -> None:
    threads_before = set(threading.enumerate())
    with LocalAWS() as aws:
        port = aws.port
        assert not nothing_listens(port)
        assert len(set(threading.enumerate()) - threads_before) >= 1
    assert nothing_listens(port)
    assert threads_left(threads_before) == set()
    with pytest.raises(RuntimeError, match="not started"):
        _ = aws.url


def test_environment_is_restored_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "developer-profile")
    monkeypatch.setenv("PARTNER_OLD_ROLE_ARN", "arn:aws:iam::999999999999:role/x")
    monkeypatch.setenv("UNRELATED", "kept")
    before = dict(os.environ)
    with Environment({"AWS_REGION": "eu-west-1"}) as env:
        assert "AWS_PROFILE" not in os.environ
        assert "PARTNER_OLD_ROLE_ARN" not in os.environ
        assert os.environ["AWS_REGION"] == "eu-west-1"
        assert os.environ["UNRELATED"] == "kept"
        env.set({"PARTNER_NEW_REGION": "us-east-1"})
        os.environ["SET_BY_TEST"] = "1"
    assert dict(os.environ) == before


def test_environment_is_restored_after_a_failure() -> None:
    before = dict(os.environ)
    with pytest.raises(ZeroDivisionError), Environment({"AWS_REGION": "eu-west-1"}):
        _ = 1 / 0
    assert dict(os.environ) == before


def test_tables_are_created_hash_first_in_the_partners_account_only() -> None:
    with LocalAWS() as aws, aws.environment() as env:
        acme = aws.add_partner("ACME", models=[Order], table_prefix="a_")
        other = aws.add_partner("other")
        assert env["AWS_ENDPOINT_URL"] == aws.url
        assert os.environ["PARTNER_ACME_TABLE_PREFIX"] == "a_"
        assert os.environ["PARTNER_ACME_ROLE_ARN"] == acme.role_arn
        table = acme.client("dynamodb").describe_table(TableName="a_orders")["Table"]
        assert [k["KeyType"] for k in table["KeySchema"]] == ["HASH", "RANGE"]
        assert acme.table_names() == ["a_orders"]
        assert other.table_names() == []
        assert acme.account_id != other.account_id
        with pytest.raises(ValueError, match="already added"):
            aws.add_partner("acme")
    assert "PARTNER_ACME_ROLE_ARN" not in os.environ


def test_context_deadline_starts_at_first_read_and_counts_down() -> None:
    context = LambdaContext(timeout_s=0.2, function_name="fn")
    time.sleep(0.25)  # setup time does not count
    first = context.get_remaining_time_in_millis()
    assert 0 < first <= 200
    time.sleep(0.25)
    assert context.get_remaining_time_in_millis() == 0
    assert context.invoked_function_arn.endswith(":function:fn")
    with pytest.raises(ValueError):
        LambdaContext(timeout_s=0)


USER_TEST = '''
from app import handler_path
from models import Order

def test_handler(partnerdb_aws, lambda_context):
    acme = partnerdb_aws.add_partner("acme", models=[Order])
    handler = partnerdb_aws.import_handler(handler_path)
    event = {"partnerId": "acme", "data": {"customer": "c1", "created": 1, "total": 5}}
    assert handler(event, lambda_context)["success"]
    assert [o.customer for o in acme.items(Order)] == ["c1"]
    open("port.txt", "w").write(str(partnerdb_aws.port))
'''


def test_a_users_project_runs_with_the_plugin_and_leaves_no_port(tmp_path: Path) -> None:
    """pytest run in a user's folder finds the fixtures through the pytest11 entry point."""
    shutil.copy(USERFN / "models.py", tmp_path / "models.py")
    app = (USERFN / "app.py").read_text().replace("from .models", "from models")
    (tmp_path / "app.py").write_text(app + '\nhandler_path = "app.handler"\n')
    (tmp_path / "test_app.py").write_text(USER_TEST)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PARTNER"))}
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", "."],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert nothing_listens(int((tmp_path / "port.txt").read_text()))
