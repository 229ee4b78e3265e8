"""Lambda SnapStart, locally: one snapshot process, restored copies made by forking it.

    with SnapStartFunction("app.handler", task_root, layer_dirs=[opt], env=env) as fn:
        snapshot = fn.publish()          # init + before-snapshot hooks, like publishing a version
        copy = fn.restore()              # an execution environment restored from the snapshot
        result = copy.invoke(event)      # cold_start: restore -> first response

`publish()` starts the runtime process with `AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`
through `local/snapstart_bootstrap.py`: the real awslambdaric runs the init and the
before-snapshot hooks, and where Lambda would snapshot the process (its call of
`GET /runtime/restore/next`), the process waits as the snapshot. `restore()` returns a
`LambdaFunction` whose runtime process is a fork of that snapshot with its own Runtime API,
log file and session: it calls `GET /restore/next` on its Runtime API, runs the
after-restore hooks and serves. Its `cold_start_ms` runs from the restore request to the first
response and its `init_ms` to the first `/next` (Lambda's Restore Duration). A copy that
crashes or times out is replaced by a new copy of the same snapshot, as on Lambda.

A fork restores in about a millisecond; Lambda restores memory from a snapshot cache, so
restore times here are a lower bound of Lambda's. What a copy shares with the snapshot is
real: memory (credentials, `random` state), open file descriptors (sockets).
`Snapshot.inventory` and `RestoredProcess.report()` say what that is.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from . import snapstart_bootstrap
from .lambda_runner import LambdaFunction

BOOTSTRAP_MODULE = "snapstart_bootstrap"
INITIALIZATION_TYPE = {"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"}
#: what a copy gets of its own; everything else of the environment is the snapshot's
COPY_ENV = ("AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_LOG_STREAM_NAME")
_REPLY_MAX = 65536


class SnapshotError(RuntimeError):
    """Init or a before-snapshot hook failed: there is no snapshot (the logs say why)."""


@dataclass(frozen=True)
class Snapshot:
    """The published snapshot: its process, init time and what every copy inherits."""

    pid: int
    init_ms: float
    inventory: dict[str, Any]


class RestoredProcess:
    """A copy of the snapshot as the runner sees a runtime process (`RuntimeProcess`).

    It is the snapshot's child, not ours: its exit is seen through a pidfd, and its exit
    status is not known (`returncode` is -9 after `kill()`, else 1 once it has exited).
    """

    def __init__(self, pid: int, report: IO[bytes]) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._pidfd = os.pidfd_open(pid)
        self._report = report
        self._killed = False

    def poll(self) -> int | None:
        if self.returncode is None:
            readable, _, _ = select.select([self._pidfd], [], [], 0)
            if readable:
                self._exited()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            readable, _, _ = select.select([self._pidfd], [], [], timeout)
            if not readable:
                raise subprocess.TimeoutExpired(f"restored copy {self.pid}", timeout or 0.0)
            self._exited()
        assert self.returncode is not None
        return self.returncode

    def kill(self) -> None:
        self._killed = True
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    def report(self, timeout_s: float = 5.0) -> dict[str, Any]:
        """What the copy held once its after-restore hooks ran: `random` digest, sockets."""
        readable, _, _ = select.select([self._report], [], [], timeout_s)
        if not readable:
            raise TimeoutError(f"restored copy {self.pid} sent no report in {timeout_s} s")
        data = self._report.read(_REPLY_MAX)
        return dict(json.loads(data)) if data else {}

    def _exited(self) -> None:
        self.returncode = -signal.SIGKILL if self._killed else 1
        os.close(self._pidfd)
        self._report.close()


class SnapStartFunction:
    """A function version published with SnapStart. Takes `LambdaFunction`'s arguments."""

    def __init__(self, handler: str, task_root: Path | str, **options: Any) -> None:
        self.handler = handler
        self.task_root = task_root
        env: Mapping[str, str] = options.pop("env", None) or {}
        self.options = {**options, "env": {**env, **INITIALIZATION_TYPE}}
        self.snapshot: Snapshot | None = None
        self.copies: list[LambdaFunction] = []
        self.processes: list[RestoredProcess] = []
        self._lock = threading.Lock()
        self._template: LambdaFunction | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._tmp: Path | None = None

    def __enter__(self) -> SnapStartFunction:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def publish(self, timeout_s: float = 30.0) -> Snapshot:
        """Run init and the before-snapshot hooks in a fresh runtime process; keep it as the
        snapshot. Raises `SnapshotError` when init or a hook fails."""
        if self.snapshot is not None:
            return self.snapshot
        self._tmp = Path(tempfile.mkdtemp(prefix="local-snapstart-"))
        template = LambdaFunction(self.handler, self.task_root, **self.options).start()
        self._template = template
        env = template.runtime_environment()
        runtime_dir = Path(env["LAMBDA_RUNTIME_DIR"])
        (runtime_dir / f"{BOOTSTRAP_MODULE}.py").symlink_to(Path(snapstart_bootstrap.__file__))
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self._tmp / "control"))
        listener.listen(1)
        env[snapstart_bootstrap.CONTROL_ENV] = str(self._tmp / "control")
        log = (self._tmp / "snapshot.log").open("wb")
        started = time.monotonic()
        self._proc = subprocess.Popen(
            [sys.executable, "-S", "-m", BOOTSTRAP_MODULE, self.handler],
            cwd=template.task_root, env=env, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        try:
            self._control = self._accept(listener, timeout_s)
            ready = self._reply(timeout_s)
        except SnapshotError:
            self.stop()
            raise
        finally:
            listener.close()
        init_ms = (time.monotonic() - started) * 1000.0
        inventory = {k: v for k, v in ready.items() if k not in ("ready", "pid")}
        self.snapshot = Snapshot(int(ready["pid"]), init_ms, inventory)
        return self.snapshot

    def restore(self) -> LambdaFunction:
        """A new execution environment whose runtime process is restored from the snapshot
        (on its first invocation, and again after a crash or timeout). Started; stopped with
        this function."""
        self.publish()
        copy = LambdaFunction(self.handler, self.task_root, **self.options, launcher=self._fork)
        copy.start()
        self.copies.append(copy)
        return copy

    def snapshot_logs(self) -> str:
        """What the snapshot process printed during init and the before-snapshot hooks."""
        if self._tmp is None or not (self._tmp / "snapshot.log").exists():
            return ""
        return (self._tmp / "snapshot.log").read_text(errors="replace")

    def stop(self) -> None:
        """Stop every copy, the snapshot process, and remove the temporary files."""
        while self.copies:
            self.copies.pop().stop()
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(timeout=5.0)
            self._proc = None
        if self._template is not None:
            self._template.stop()
            self._template = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    # internals

    def _fork(self, cmd: list[str], env: dict[str, str], cwd: Path, output: int) -> RestoredProcess:
        """The launcher of the copies: ask the snapshot for a fork with the copy's wiring."""
        if self._control is None:
            raise SnapshotError("the snapshot is gone (stopped, or its process died)")
        report_read, report_write = os.pipe()
        request = {"env": {k: env[k] for k in COPY_ENV}}
        with self._lock:
            try:
                socket.send_fds(self._control, [json.dumps(request).encode()],
                                [output, report_write])
            finally:
                os.close(report_write)
            reply = self._reply(10.0)
        report = os.fdopen(report_read, "rb")
        process = RestoredProcess(int(reply["pid"]), report)
        self.processes.append(process)
        return process

    def _accept(self, listener: socket.socket, timeout_s: float) -> socket.socket:
        deadline = time.monotonic() + timeout_s
        for _ in range(int(timeout_s / 0.05) + 1):
            readable, _, _ = select.select([listener], [], [], 0.05)
            if readable:
                conn, _ = listener.accept()
                return conn
            if self._proc is None or self._proc.poll() is not None:
                break
            if time.monotonic() >= deadline:
                break
        code = None if self._proc is None else self._proc.poll()
        how = "timed out" if code is None else f"exited {code}"
        raise SnapshotError(
            f"no snapshot: the runtime process {how} before the snapshot point\n"
            f"{self.snapshot_logs()[-3000:]}"
        )

    def _reply(self, timeout_s: float) -> dict[str, Any]:
        """One newline-terminated JSON reply of the snapshot process."""
        assert self._control is not None
        data = b""
        deadline = time.monotonic() + timeout_s
        for _ in range(1000):
            left = deadline - time.monotonic()
            readable, _, _ = select.select([self._control], [], [], max(0.0, left))
            if not readable:
                break
            chunk = self._control.recv(_REPLY_MAX)
            if not chunk:
                break
            data += chunk
            if data.endswith(b"\n"):
                return dict(json.loads(data))
        raise SnapshotError(f"the snapshot process did not answer\n{self.snapshot_logs()[-3000:]}")
