"""Figure 2a: warm invocation latency of each variant through the real runtime client.

One execution environment per variant stays warm; invocations go in blocks, the variants
taking turns block by block (the first variant rotating), so a slow moment of the machine
hits every variant alike. Per invocation the figure keeps Lambda's Duration (`/next` handing
the event out to the response, `FunctionResult.duration_ms`) and the caller's round trip
(`total_ms`), and the CPU time the runtime process spent per invocation over the measured
blocks (user + system, from /proc/<pid>/stat: insensitive to other load on the machine).
The DynamoDB behind them is moto on loopback, so most of each Duration is moto's own time;
the in-process overhead figure (`bench.overhead`) takes the network out.

`run_bare` splits the SDK's own share out of the gap: the same environments serving a handler
that makes no DynamoDB call (`bare_app.handler`): handwritten, ours, and ours with its log line
off (`AWS_LAMBDA_LOG_LEVEL=WARNING`), taking turns block by block. `run_steps` splits ours'
share by step of the SDK's pipeline, timed inside the runtime process (`steps_app.handler`).
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Sequence
from typing import Any

from bench.rig import Rig, check, event, rotations
from bench.stats import Summary, ratio_ci
from emulators.lambda_runner import LambdaFunction

WARMUP = 30


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_warm(
    rig: Rig,
    variants: Sequence[str],
    invocations: int,
    block: int,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """`invocations` warm invocations per variant, interleaved in blocks of `block`."""
    rounds = max(1, invocations // block)
    functions: dict[str, LambdaFunction] = {v: rig.function(v) for v in variants}
    duration: dict[str, list[float]] = {v: [] for v in variants}
    total: dict[str, list[float]] = {v: [] for v in variants}
    pids: dict[str, int] = {}
    cpu_before: dict[str, float] = {}
    try:
        for variant, fn in functions.items():
            for _ in range(WARMUP):
                pid = check(variant, fn.invoke(event())).pid
            if pid is None:
                raise RuntimeError(f"{variant}: no runtime process after warm-up")
            pids[variant] = pid
            cpu_before[variant] = cpu_seconds(pid)
        for round_no, order in enumerate(rotations(variants, rounds)):
            for variant in order:
                fn = functions[variant]
                for _ in range(block):
                    result = check(variant, fn.invoke(event()))
                    if result.cold_start:
                        raise RuntimeError(f"{variant}: a warm invocation started a process")
                    duration[variant].append(result.duration_ms or 0.0)
                    total[variant].append(result.total_ms)
            if (round_no + 1) % 5 == 0:
                log(f"    warm: {round_no + 1}/{rounds} blocks of {block}")
        processes = {v: fn.processes_started for v, fn in functions.items()}
        cpu_ms = {v: (cpu_seconds(pids[v]) - cpu_before[v]) * 1000.0 / len(duration[v])
                  for v in variants}
    finally:
        for fn in functions.values():
            fn.stop()
            rig.started.remove(fn)
    return {
        "invocations": rounds * block,
        "block": block,
        "processes_started": processes,
        "ours_vs_handwritten": _ratio_spread(duration, block),
        "cpu_ms_per_invocation": {v: round(x, 4) for v, x in cpu_ms.items()},
        "variants": {
            v: {
                "duration_ms": {"summary": Summary.of(duration[v]).to_json()},
                "total_ms": {"summary": Summary.of(total[v]).to_json()},
            }
            for v in variants
        },
    }


def _ratio_spread(duration: dict[str, list[float]], block: int) -> dict[str, float] | None:
    """ours / handwritten Duration: the 95% bootstrap interval of the ratio of medians, and
    the median of the per-block ratios (each round's blocks ran side by side, so a slow
    moment of the machine cancels out)."""
    ours, base = duration.get("ours"), duration.get("handwritten")
    if not ours or not base:
        return None
    low, high = ratio_ci(ours, base)
    blocks = [
        statistics.median(ours[i:i + block]) / statistics.median(base[i:i + block])
        for i in range(0, min(len(ours), len(base)), block)
    ]
    return {"ci_low": round(low, 4), "ci_high": round(high, 4),
            "block_paired_median": round(statistics.median(blocks), 4)}


#: The bare environments: (variant, handler, its environment variables).
BARE = {
    "handwritten": ("handwritten", "bare_app.handler", {}),
    "ours": ("ours", "bare_app.handler", {}),
    "ours_without_log_line": ("ours", "bare_app.handler", {"AWS_LAMBDA_LOG_LEVEL": "WARNING"}),
}
#: The warm figure again against a handwritten function that logs one line per invocation.
LOGGED = {
    "handwritten": ("handwritten", "app.handler", {}),
    "handwritten_with_log_line": ("handwritten", "logged_app.handler", {}),
    "ours": ("ours", "app.handler", {}),
}


def run_bare(rig: Rig, invocations: int, block: int) -> dict[str, Any]:
    """Lambda Duration of `bare_app.handler` (no DynamoDB call) per environment of `BARE`."""
    return _durations(rig, BARE, invocations, block, _bare_check)


def run_logged(rig: Rig, invocations: int, block: int) -> dict[str, Any]:
    """Lambda Duration of the GetItem handlers of `LOGGED`, interleaved."""
    return _durations(rig, LOGGED, invocations, block, check)


def _durations(
    rig: Rig,
    environments: dict[str, tuple[str, str, dict[str, str]]],
    invocations: int,
    block: int,
    checked: Callable[[str, Any], Any],
) -> dict[str, Any]:
    """Median-ready Lambda Durations of each environment, warmed up, in rotating blocks."""
    rounds = max(1, invocations // block)
    functions = {name: rig.function(variant, handler=handler, env=env)
                 for name, (variant, handler, env) in environments.items()}
    duration: dict[str, list[float]] = {name: [] for name in functions}
    try:
        for name, fn in functions.items():
            for _ in range(WARMUP):
                checked(name, fn.invoke(event()))
        for order in rotations(list(functions), rounds):
            for name in order:
                for _ in range(block):
                    result = checked(name, functions[name].invoke(event()))
                    duration[name].append(result.duration_ms or 0.0)
    finally:
        for fn in functions.values():
            fn.stop()
            rig.started.remove(fn)
    return {"invocations": rounds * block,
            "duration_ms": {k: Summary.of(v).to_json() for k, v in duration.items()}}


def run_steps(rig: Rig, invocations: int) -> dict[str, Any]:
    """Median µs of each step of the SDK's pipeline inside one warm runtime process
    (`steps_app`: the bare handler of ours with its steps timed), after a warm-up."""
    fn = rig.function("ours", handler="steps_app.handler")
    try:
        for _ in range(WARMUP):
            _bare_check("ours", fn.invoke(event()))
        _steps_command(fn, "reset")
        for _ in range(invocations):
            _bare_check("ours", fn.invoke(event()))
        report = _steps_command(fn, "report")
    finally:
        fn.stop()
        rig.started.remove(fn)
    return {"invocations": invocations, "median_us": report}


def _steps_command(fn: LambdaFunction, command: str) -> dict[str, Any]:
    result = fn.invoke({"benchSteps": command})
    if result.is_error or not isinstance(result.payload, dict):
        raise RuntimeError(f"steps_app {command}: {result.payload!r}")
    return result.payload


def _bare_check(name: str, result: Any) -> Any:
    payload = result.payload
    data = payload.get("data") if isinstance(payload, dict) else None
    if result.is_error or not isinstance(data, dict) or data.get("id") != "pay_bench":
        raise RuntimeError(f"{name} answered {payload!r}")
    return result
