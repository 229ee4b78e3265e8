"""How a runtime process is started: a fresh interpreter (`popen_launcher`) or a stand-in.

`LambdaFunction` needs of its runtime process only what `RuntimeProcess` lists, so a process
it did not spawn itself (a SnapStart copy forked from a snapshot, `emulators.snapstart`) can
serve as one.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Protocol


class RuntimeProcess(Protocol):
    """What the runner needs of a runtime process: a `subprocess.Popen` or a stand-in."""

    pid: int
    returncode: int | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def kill(self) -> None: ...


#: starts a runtime process from (command, environment, working directory, output fd): the
#: process writes its stdout and stderr to the output file descriptor
Launcher = Callable[[list[str], dict[str, str], Path, int], RuntimeProcess]


def popen_launcher(cmd: list[str], env: dict[str, str], cwd: Path, output: int) -> RuntimeProcess:
    """A fresh interpreter in its own process group, stdout and stderr to `output`."""
    return subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: killed with whatever it started
    )
