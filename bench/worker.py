"""In-process figures run in a worker process: `python -m bench.<module> <task> <json args>`.

A worker is a fresh interpreter of this virtualenv with a clean environment (no developer
~/.aws, only what the figure sets), so its timings and memory are not disturbed by the moto
server and Runtime API threads of the main bench process. It prints one result line, tagged,
as JSON; the driver reads it back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULT_TAG = "BENCH_RESULT "
HOME_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIABENCHHOME0000001",
    "AWS_SECRET_ACCESS_KEY": "bench-home-secret-key-never-logged",
    "AWS_SESSION_TOKEN": "bench-home-session-token-never-logged",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


class WorkerError(RuntimeError):
    """A worker exited badly or printed no result."""


def run_worker(
    module: str, task: str, args: Mapping[str, Any], *,
    env: Mapping[str, str] | None = None, timeout_s: float = 300.0,
) -> dict[str, Any]:
    """Run `python -m <module> <task> <args as JSON>` and return its result document."""
    full_env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": "C.UTF-8",
        "HOME": str(ROOT / "build" / "bench"),
        "PYTHONPATH": str(ROOT),
        **HOME_ENV,
        **dict(env or {}),
    }
    done = subprocess.run(
        [sys.executable, "-m", module, task, json.dumps(dict(args))],
        cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout_s,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_TAG)]
    if done.returncode != 0 or not lines:
        raise WorkerError(
            f"{module} {task} exited {done.returncode}\n{done.stderr[-3000:]}{done.stdout[-1000:]}"
        )
    result: dict[str, Any] = json.loads(lines[-1][len(RESULT_TAG):])
    return result


def worker_main(tasks: Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]]) -> None:
    """The `__main__` of a worker module: run the task named in argv, print its result."""
    if len(sys.argv) != 3 or sys.argv[1] not in tasks:
        raise SystemExit(f"usage: python -m <module> {{{','.join(tasks)}}} '<json args>'")
    result = tasks[sys.argv[1]](json.loads(sys.argv[2]))
    sys.stdout.write(RESULT_TAG + json.dumps(result) + "\n")
    sys.stdout.flush()
