"""Run a Lambda function locally through the real runtime client, the way Lambda runs it.

One `LambdaFunction` is one execution environment: a Runtime API server (`emulators.runtime_api`)
and at most one `python -S -m awslambdaric <handler>` process, started on the first invocation
(cold start), reused while it stays healthy (warm), killed and replaced after a timeout or a
crash. Why a real process per environment: cold start cost, module-level state, `sys.path` order
and log output are what we want to measure and test, and only a real process has them.

The process sees what a Lambda process sees, not this virtualenv: `-S` keeps site-packages off
`sys.path`; `PYTHONPATH` is the task root, then the layers' `python/lib/pythonX.Y/site-packages`
and `python/` (Lambda's /opt), then `extra_paths`, then a directory holding only awslambdaric and
its dependencies (Lambda's /var/runtime). The environment is Lambda's reserved variables plus
`env`; nothing of the caller's environment leaks in unless `inherit_env=True`.
"""

from __future__ import annotations

import contextlib
import datetime
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .process_output import LogBuffer, OutputFile
from .runtime_api import EXIT_ERROR_TYPE, TIMEOUT_ERROR_TYPE, RuntimeAPIServer
from .runtime_invocations import (
    InvocationResult,
    RuntimeReady,
    exit_message,
    make_trace_id,
    timeout_message,
)
from .runtime_link import RUNTIME_DISTRIBUTION, link_runtime
from .runtime_process import Launcher, RuntimeProcess, popen_launcher

DEFAULT_ACCOUNT_ID = "123456789012"
# Set by the runner; a caller's `env` may not override them.
RESERVED_ENV = frozenset(
    {"AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "_HANDLER", "PYTHONPATH"}
)
_REAP_TIMEOUT_S = 5.0
_PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"


@dataclass(frozen=True, kw_only=True)
class FunctionResult(InvocationResult):
    """An invocation's result plus what the execution environment did to serve it.

    `cold_start`: this invocation started a fresh runtime process. `cold_start_ms`: from that
    process's spawn to this, its first response (None when warm or when nothing answered).
    `init_ms`: from spawn to the runtime polling `/next` (Lambda's Init Duration; cold only).
    `logs`: the process output during this invocation, init output included when cold, with
    Lambda-style START/END/REPORT lines.
    """

    cold_start: bool
    cold_start_ms: float | None
    init_ms: float | None
    pid: int | None
    logs: str


class LambdaFunction:
    """One local execution environment for a handler, driven by the real awslambdaric.

    `handler` is Lambda's `module.function`; `task_root` is /var/task; each of `layer_dirs` is
    the content of a layer (what Lambda unpacks into /opt; later layers win, as in /opt).
    `extra_paths` go on `PYTHONPATH` after the layers, e.g. site-packages when no layer is
    built. `timeout_s` is the function timeout; `init_timeout_s` bounds a cold start's init.
    `launcher` starts runtime processes (default: `popen_launcher`; `emulators.snapstart` restores
    them from a snapshot instead).
    """

    def __init__(
        self,
        handler: str,
        task_root: Path | str,
        *,
        layer_dirs: Sequence[Path | str] = (),
        env: Mapping[str, str] | None = None,
        timeout_s: float = 3.0,
        memory_mb: int = 128,
        function_name: str = "local-function",
        region: str = "us-east-1",
        account_id: str = DEFAULT_ACCOUNT_ID,
        extra_paths: Sequence[Path | str] = (),
        init_timeout_s: float = 10.0,
        inherit_env: bool = False,
        launcher: Launcher = popen_launcher,
    ) -> None:
        if "." not in handler:
            raise ValueError(f"handler must be 'module.function', got {handler!r}")
        self.task_root = Path(task_root).resolve()
        if not self.task_root.is_dir():
            raise ValueError(f"task_root {self.task_root} is not a directory")
        reserved = RESERVED_ENV.intersection(env or {})
        if reserved:
            raise ValueError(f"env may not set {sorted(reserved)}: the runner sets them")
        self.handler = handler
        self.layer_dirs = [Path(p).resolve() for p in layer_dirs]
        self.extra_paths = [Path(p).resolve() for p in extra_paths]
        self.env = dict(env or {})
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.function_name = function_name
        self.region = region
        self.function_arn = f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
        self.init_timeout_s = init_timeout_s
        self.inherit_env = inherit_env
        self.launcher = launcher
        self.processes_started = 0
        self._lock = threading.Lock()  # one invocation at a time, as in one Lambda sandbox
        self._logs = LogBuffer()
        self._server: RuntimeAPIServer | None = None
        self._workdir: Path | None = None
        self._proc: RuntimeProcess | None = None
        self._output: OutputFile | None = None
        self._spawned_at = 0.0

    # lifecycle

    def start(self) -> LambdaFunction:
        """Start the Runtime API and prepare the runtime directory; the process starts lazily."""
        with self._lock:
            if self._server is not None:
                return self
            workdir = Path(tempfile.mkdtemp(prefix="local-lambda-"))
            try:
                link_runtime(workdir / "runtime")
                (workdir / "home").mkdir()
                self._server = RuntimeAPIServer(function_arn=self.function_arn).start()
            except BaseException:
                shutil.rmtree(workdir, ignore_errors=True)
                raise
            self._workdir = workdir
            return self

    def stop(self) -> None:
        """Kill the runtime process, stop the Runtime API, remove the temporary files."""
        with self._lock:
            self._discard_process()
            if self._server is not None:
                self._server.stop()
                self._server = None
            if self._workdir is not None:
                shutil.rmtree(self._workdir, ignore_errors=True)
                self._workdir = None

    def __enter__(self) -> LambdaFunction:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def recycle(self) -> None:
        """Kill the runtime process so the next invocation is a cold start (a fresh sample)."""
        with self._lock:
            self._discard_process()

    @property
    def address(self) -> str:
        """The Runtime API address (`AWS_LAMBDA_RUNTIME_API`)."""
        return self._require_server().address

    @property
    def pid(self) -> int | None:
        """The pid of the live runtime process, if any."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def runtime_environment(self) -> dict[str, str]:
        """The environment a runtime process of this function starts with (started only)."""
        today = datetime.datetime.now(datetime.UTC).strftime("%Y/%m/%d")
        return self._environment(f"{today}/[$LATEST]{uuid.uuid4().hex}")

    def logs(self) -> str:
        """Everything every runtime process of this function printed, plus platform lines."""
        output = self._output
        if output is not None:
            output.drain()
        return self._logs.text()

    # invocations

    def invoke(
        self,
        event: Any,
        *,
        timeout_s: float | None = None,
        sampled: bool = False,
        trace_id: str | None = None,
        client_context: dict[str, Any] | None = None,
        cognito_identity: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> FunctionResult:
        """Invoke synchronously (RequestResponse); start a runtime process first if none runs.

        Returns the response or error. A timeout kills the process (the next call is cold).
        """
        server = self._require_server()
        request_id = request_id or str(uuid.uuid4())
        trace_id = trace_id or make_trace_id(sampled)
        timeout = self.timeout_s if timeout_s is None else timeout_s
        with self._lock:
            submitted_at = time.monotonic()
            log_start = self._logs.size()
            proc = self._proc
            cold = proc is None or proc.poll() is not None
            init_ms: float | None = None
            if cold:
                self._discard_process()  # a process that died between invocations
                proc = self._spawn()
                ready = server.wait_ready(self.init_timeout_s, exit_code=proc.poll)
                if ready.state != "ready":
                    failed = self._init_failure(ready, proc, request_id, trace_id, submitted_at)
                    self._discard_process()
                    error_type = failed.error_type or ""
                    self._platform(
                        f"INIT_REPORT Init Duration: {(ready.at - self._spawned_at) * 1000:.2f} ms"
                        f"\tPhase: init\tStatus: error\tError Type: {error_type}\n"
                    )
                    return self._result(failed, cold, None, None, log_start, proc.pid)
                init_ms = (ready.at - self._spawned_at) * 1000.0
            assert proc is not None
            self._platform(f"START RequestId: {request_id} Version: $LATEST\n")
            result = server.invoke(
                event,
                timeout_s=timeout,
                trace_id=trace_id,
                client_context=client_context,
                cognito_identity=cognito_identity,
                request_id=request_id,
                handout_timeout_s=self.init_timeout_s,
                exit_code=proc.poll,
            )
            if result.timed_out or proc.poll() is not None:
                self._discard_process()  # Lambda resets the sandbox after a timeout or crash
            elif self._output is not None:
                self._output.drain()
            self._report(result, init_ms, timeout)
            answered = not result.timed_out and result.error_type != EXIT_ERROR_TYPE
            cold_ms = (result.completed_at - self._spawned_at) * 1000.0 if cold else None
            return self._result(
                result, cold, cold_ms if answered else None, init_ms, log_start, proc.pid
            )

    # internals

    def _require_server(self) -> RuntimeAPIServer:
        if self._server is None:
            raise RuntimeError("LambdaFunction is not started; call start() or use `with`")
        return self._server

    def _python_path(self) -> list[Path]:
        """Lambda's order: task root, /opt/python/lib/pythonX.Y/site-packages, /opt/python."""
        assert self._workdir is not None
        layers = list(reversed(self.layer_dirs))  # a later layer's files win in /opt
        versioned = [
            d / "python" / "lib" / f"python{_PYTHON_VERSION}" / "site-packages" for d in layers
        ]
        return [
            self.task_root,
            *(p for p in versioned if p.is_dir()),
            *(d / "python" for d in layers),
            *self.extra_paths,
            self._workdir / "runtime",
        ]

    def _environment(self, log_stream: str) -> dict[str, str]:
        """The runtime process's environment: Lambda's variables, then `env`, then wiring."""
        assert self._workdir is not None and self._server is not None
        if self.inherit_env:
            base = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        else:
            base = {
                "PATH": os.environ.get("PATH", os.defpath),
                "LANG": "C.UTF-8",
                "TZ": ":UTC",
                "HOME": str(self._workdir / "home"),  # no ~/.aws of the developer
            }
        lambda_env = {
            "AWS_LAMBDA_FUNCTION_NAME": self.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{_PYTHON_VERSION}",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "PYTHONDONTWRITEBYTECODE": "1",  # /var/task and /opt are read-only on Lambda
        }
        wiring = {
            "AWS_LAMBDA_RUNTIME_API": self._server.address,
            "LAMBDA_TASK_ROOT": str(self.task_root),
            "LAMBDA_RUNTIME_DIR": str(self._workdir / "runtime"),
            "_HANDLER": self.handler,
            "PYTHONPATH": os.pathsep.join(str(p) for p in self._python_path()),
        }
        return {**base, **lambda_env, **self.env, **wiring}

    def _spawn(self) -> RuntimeProcess:
        """Start a fresh runtime process (a cold start) against a reset Runtime API."""
        server = self._require_server()
        server.new_runtime()
        env = self.runtime_environment()
        self._platform(f"INIT_START Runtime Version: python:{_PYTHON_VERSION} (local)\n")
        self._spawned_at = time.monotonic()
        assert self._workdir is not None
        output = OutputFile(self._workdir / f"output-{self.processes_started + 1}.log", self._logs)
        try:
            proc = self.launcher(
                [sys.executable, "-S", "-m", RUNTIME_DISTRIBUTION, self.handler],
                env,
                self.task_root,
                output.fd,
            )
        except BaseException:
            output.close()
            raise
        self._output = output
        self._proc = proc
        self.processes_started += 1
        return proc

    def _discard_process(self) -> None:
        """Kill the runtime process (and its group), collect its output, reset the API."""
        proc, output = self._proc, self._output
        self._proc = self._output = None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        try:
            proc.wait(timeout=_REAP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=_REAP_TIMEOUT_S)
        if output is not None:
            output.close()
        if self._server is not None:
            self._server.new_runtime()

    def _init_failure(
        self,
        ready: RuntimeReady,
        proc: RuntimeProcess,
        request_id: str,
        trace_id: str,
        submitted_at: float,
    ) -> InvocationResult:
        """The result of an invocation whose runtime never got to poll `/next`."""
        if ready.state == "init_error" and ready.init_error is not None:
            error = ready.init_error
            return InvocationResult.failure(
                request_id,
                str(error["errorType"]),
                str(error["errorMessage"]),
                submitted_at=submitted_at,
                trace_id=trace_id,
                init_error=True,
                body={**error, "requestId": request_id},
            )
        if ready.state == "exited":
            return InvocationResult.failure(
                request_id,
                EXIT_ERROR_TYPE,
                exit_message(request_id, proc.returncode if proc.returncode is not None else -1),
                submitted_at=submitted_at,
                trace_id=trace_id,
                init_error=True,
            )
        message = timeout_message(request_id, self.init_timeout_s)
        return InvocationResult.failure(
            request_id,
            TIMEOUT_ERROR_TYPE,
            message.replace("Task timed out", "Init timed out"),
            submitted_at=submitted_at,
            trace_id=trace_id,
            timed_out=True,
            init_error=True,
        )

    def _platform(self, line: str) -> None:
        """Append a Lambda platform log line after everything the process printed so far."""
        if self._output is not None:
            self._output.drain()
        self._logs.append(line.encode())

    def _report(self, result: InvocationResult, init_ms: float | None, timeout_s: float) -> None:
        """Lambda's END and REPORT lines (and the timeout line) for an invocation."""
        rid = result.request_id
        if result.timed_out:
            stamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
            self._platform(f"{stamp[:-6]}Z {rid} Task timed out after {timeout_s:.2f} seconds\n")
        duration = result.duration_ms or 0.0
        report = (
            f"REPORT RequestId: {rid}\tDuration: {duration:.2f} ms"
            f"\tBilled Duration: {max(1, math.ceil(duration))} ms"
            f"\tMemory Size: {self.memory_mb} MB"
        )
        if init_ms is not None:
            report += f"\tInit Duration: {init_ms:.2f} ms"
        if result.timed_out:
            report += "\tStatus: timeout"
        self._platform(f"END RequestId: {rid}\n{report}\n")

    def _result(
        self,
        result: InvocationResult,
        cold: bool,
        cold_start_ms: float | None,
        init_ms: float | None,
        log_start: int,
        pid: int | None = None,
    ) -> FunctionResult:
        base = {f.name: getattr(result, f.name) for f in fields(InvocationResult)}
        return FunctionResult(
            **base,
            cold_start=cold,
            cold_start_ms=cold_start_ms,
            init_ms=init_ms,
            pid=pid,
            logs=self._logs.text(log_start),
        )
