"""SnapStart through the local emulator (`emulators.snapstart`) and the real awslambdaric.

The snapshot process runs the function's init and partnerdb's before-snapshot hook; each
restored copy is a fork of it that goes through `/runtime/restore/next` and the after-restore
hooks before serving. What the copies share is read from their processes (`/proc`, their
`random` state) and from moto's STS backend.
"""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path

import pytest

from emulators.fault_server import FaultServer, forward_to
from emulators.moto_server import MotoServer, assumed_roles
from emulators.snapstart import SnapStartFunction
from emulators.snapstart_bootstrap import open_sockets
from partnerdb import Partners
from tests.sdk.conftest import ROOT, log_lines

EVENT = {"partnerId": "acme", "action": "getPayment", "data": {"id": "p-1"}}


def task_root(tmp_path: Path, *apps: str) -> Path:
    root = tmp_path / "task"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "handler_sdk", root / "handler_sdk", ignore=ignore)
    (root / "tests" / "sdk").mkdir(parents=True)
    for name in ("__init__.py", "models.py", *apps):
        shutil.copy(ROOT / "tests" / "sdk" / name, root / "tests" / "sdk" / name)
    (root / "tests" / "__init__.py").touch()
    return root


def function(tmp_path: Path, handler: str, env: dict[str, str], **extra: str) -> SnapStartFunction:
    return SnapStartFunction(
        handler,
        task_root(tmp_path, handler.split(".")[2] + ".py"),
        env={**{k: v for k, v in env.items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION")},
             **extra},
        extra_paths=[ROOT / "layer", sysconfig.get_paths()["purelib"]],
        function_name="payments",
        timeout_s=10.0,
        init_timeout_s=20.0,
    )


def sockets_of(pid: int) -> set[str]:
    return set(open_sockets(pid=pid))


def acme_sts_calls() -> int:
    return sum(1 for call in assumed_roles() if ":111111111111:" in call["role_arn"])


@pytest.mark.slow
def test_copies_assume_again_and_share_no_connection_or_random_state(
    env: dict[str, str], partners: Partners, moto: MotoServer, tmp_path: Path
) -> None:
    before = acme_sts_calls()  # the fixture's own, creating the table
    with FaultServer(forward_to(moto.url)) as dynamodb, function(
        tmp_path, "tests.sdk.snapstart_app.handler", env, PRIME_PARTNER="acme",
        AWS_ENDPOINT_URL_DYNAMODB=dynamodb.url,  # keeps connections alive, counts them
    ) as fn:
        snapshot = fn.publish()
        assert dynamodb.connections == 1
        assert acme_sts_calls() == before + 1  # the init's read, before the snapshot
        assert snapshot.inventory["sockets"], "the init's pooled connection is in the snapshot"
        copies = [fn.restore(), fn.restore()]
        first = [copy.invoke(EVENT) for copy in copies]
        reports = [process.report() for process in fn.processes]
        held = [sockets_of(result.pid or 0) for result in first]
        again = [copy.invoke(EVENT) for copy in copies]
        logs = [copy.logs() for copy in copies]
        assert dynamodb.connections == 3 and dynamodb.requests == 5  # one per process

    for result in first:
        assert not result.is_error, result.payload
        assert result.cold_start and result.payload["data"]["amount"] == 10.5
    assert first[0].pid != first[1].pid != snapshot.pid
    assert acme_sts_calls() == before + 3  # each copy assumed the role again, once
    shared = set(snapshot.inventory["sockets"])
    for report, sockets in zip(reports, held, strict=True):
        assert shared.isdisjoint(report["sockets"])  # dropped by the after-restore hook
        assert shared.isdisjoint(sockets)  # and not reopened by the first invocation
    assert held[0].isdisjoint(held[1])
    assert reports[0]["random"] != reports[1]["random"] != snapshot.inventory["random"]
    assert first[0].payload["data"]["random"] != first[1].payload["data"]["random"]
    for copy_logs in logs:
        assert [(line["cold_start"], line["sts_calls"]) for line in log_lines(copy_logs)] == [
            (True, 1), (False, 0)]
    assert all(not result.cold_start and not result.is_error for result in again)


@pytest.mark.slow
def test_without_hooks_copies_share_the_snapshots_socket_and_random_state(
    env: dict[str, str], tmp_path: Path
) -> None:
    """The control case: what the emulator shows for a function that drops nothing."""
    with function(tmp_path, "tests.sdk.socket_app.handler", env) as fn:
        snapshot = fn.publish()
        copies = [fn.restore(), fn.restore()]
        results = [copy.invoke({}) for copy in copies]
        reports = [process.report() for process in fn.processes]

    assert len(snapshot.inventory["sockets"]) == 1
    for report in reports:
        assert report["sockets"] == snapshot.inventory["sockets"]
        assert report["random"] == snapshot.inventory["random"]
    assert results[0].payload["random"] == results[1].payload["random"]


@pytest.mark.slow
def test_an_init_error_is_no_snapshot(env: dict[str, str], tmp_path: Path) -> None:
    from emulators.snapstart import SnapshotError

    broken = {k: v for k, v in env.items() if k != "PARTNER_ACME_EXTERNAL_ID"}
    with function(tmp_path, "tests.sdk.snapstart_app.handler", broken) as fn, \
            pytest.raises(SnapshotError, match="PARTNER_ACME_EXTERNAL_ID"):
        fn.publish()
