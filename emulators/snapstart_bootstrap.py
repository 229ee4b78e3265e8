"""The runtime side of local SnapStart: `python -S -m snapstart_bootstrap <handler>`.

Linked into a SnapStart function's runtime directory by `emulators.snapstart` and run instead of
`python -m awslambdaric`, with `AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`. It runs the real
awslambdaric bootstrap unchanged: init (the handler module's import), then the before-snapshot
hooks of `snapshot_restore_py`. Where awslambdaric then calls `GET /runtime/restore/next` and
Lambda would freeze and snapshot the process, this process becomes the snapshot: it tells the
controller (a Unix socket named by `LOCAL_SNAPSTART_CONTROL`) that it is ready and forks one
restored copy per request. A copy gets its own Runtime API address, log file and session, then
goes on exactly like a restored Lambda process: `GET /restore/next` on its own Runtime API,
the after-restore hooks, the invocation loop.

Only the standard library and awslambdaric: this file runs on the function's `sys.path`.
"""

from __future__ import annotations

import gc
import hashlib
import importlib
import json
import os
import random
import signal
import socket
import sys
import types
from typing import Any

CONTROL_ENV = "LOCAL_SNAPSTART_CONTROL"
NATIVE_CLIENT = "runtime_client"
MAX_COPIES = 10_000
_MAX_MESSAGE = 65536


def open_sockets(exclude: int = -1, pid: int | str = "self") -> list[str]:
    """The socket inodes (`socket:[N]`) of the open file descriptors of process `pid`
    (default: this one), leaving out descriptor `exclude`."""
    found = []
    for name in os.listdir(f"/proc/{pid}/fd"):
        if int(name) == exclude:
            continue
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if target.startswith("socket:"):
            found.append(target)
    return sorted(found)


def random_digest() -> str:
    """A short digest of the `random` module's state (equal digests: equal sequences)."""
    return hashlib.sha256(repr(random.getstate()).encode()).hexdigest()[:16]


def inventory(control: int) -> dict[str, Any]:
    """What every copy of this snapshot starts with: open sockets, botocore clients, the
    `random` state and the SnapStart hooks registered."""
    clients = 0
    client_module = sys.modules.get("botocore.client")
    if client_module is not None:
        base = client_module.BaseClient
        clients = sum(1 for o in gc.get_objects() if isinstance(o, base))
    hooks = sys.modules.get("snapshot_restore_py")
    after = len(hooks.get_after_restore()) if hooks is not None else 0
    return {
        "sockets": open_sockets(exclude=control),
        "botocore_clients": clients,
        "random": random_digest(),
        "after_restore_hooks": after,
    }


class DeferredNativeClient(types.ModuleType):
    """Stands for awslambdaric's native client (`runtime_client`) until its first use.

    The native client reads `AWS_LAMBDA_RUNTIME_API` once, when initialized, and awslambdaric
    initializes it at import. Nothing uses it before the snapshot point (init errors and
    `restore/next` go through `http.client`), so here the real extension is imported and
    initialized on first use, which is in a copy, with the copy's own Runtime API address.
    """

    def __init__(self) -> None:
        super().__init__(NATIVE_CLIENT)
        self._user_agent: str | None = None

    def initialize_client(self, user_agent: str) -> None:
        self._user_agent = user_agent

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        del sys.modules[NATIVE_CLIENT]
        real = importlib.import_module(NATIVE_CLIENT)
        if self._user_agent is not None:
            real.initialize_client(self._user_agent)
        from awslambdaric import lambda_runtime_client

        lambda_runtime_client.runtime_client = real
        return getattr(real, name)


def _receive(control: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    message, fds, _, _ = socket.recv_fds(control, _MAX_MESSAGE, 2)
    if not message:
        return None, fds
    return json.loads(message), fds


def _become_copy(
    client: Any, request: dict[str, Any], fds: list[int], random_state: Any
) -> None:
    """In a forked child: take the copy's log file, session and Runtime API address."""
    random.setstate(random_state)  # os.fork reseeds `random`; a snapshot restore does not
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    log_fd, report_fd = fds
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    os.environ.update(request["env"])
    client.lambda_runtime_address = request["env"]["AWS_LAMBDA_RUNTIME_API"]
    _report_after_restore(report_fd)


def _report_after_restore(report_fd: int) -> None:
    """Once the after-restore hooks have run, write what the copy holds to `report_fd`."""
    from awslambdaric import lambda_runtime_hooks_runner

    run_hooks = lambda_runtime_hooks_runner.run_after_restore

    def run_and_report() -> None:
        run_hooks()
        with os.fdopen(report_fd, "w") as report:
            report.write(json.dumps({"random": random_digest(), "sockets": open_sockets()}))

    lambda_runtime_hooks_runner.run_after_restore = run_and_report


def serve_forks(client: Any) -> None:
    """Become the snapshot: fork a copy per request; return only in a copy."""
    path = os.environ.pop(CONTROL_ENV)
    control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    control.connect(path)
    sys.stdout.flush()
    sys.stderr.flush()
    ready = {"ready": True, "pid": os.getpid(), **inventory(control.fileno())}
    control.sendall(json.dumps(ready).encode() + b"\n")
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # copies are reaped by the kernel
    for _ in range(MAX_COPIES):
        request, fds = _receive(control)
        if request is None:
            os._exit(0)  # the controller is gone: so is the snapshot
        random_state = random.getstate()
        pid = os.fork()
        if pid == 0:
            control.close()
            _become_copy(client, request, fds, random_state)
            return
        for fd in fds:
            os.close(fd)
        control.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    os._exit(0)


def main(argv: list[str]) -> None:
    if NATIVE_CLIENT in sys.modules:
        raise RuntimeError("awslambdaric's native client is already loaded: nothing to defer")
    sys.modules[NATIVE_CLIENT] = DeferredNativeClient()
    from awslambdaric import __main__ as ric_main
    from awslambdaric import lambda_runtime_client

    restore_next = lambda_runtime_client.LambdaRuntimeClient.restore_next

    def snapshot_then_restore_next(self: Any) -> None:
        serve_forks(self)
        restore_next(self)

    lambda_runtime_client.LambdaRuntimeClient.restore_next = snapshot_then_restore_next
    ric_main.main(argv)


if __name__ == "__main__":
    main(sys.argv)
