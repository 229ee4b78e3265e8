"""Figure 1: cold start (a fresh runtime process per sample) and the import time of each app.

Cold start: for each sample, every variant in turn (round-robin, the starting variant rotating
each round) gets a fresh `awslambdaric` process (`LambdaFunction.recycle()`), and the figure is
`FunctionResult.cold_start_ms`: from the process spawn to its first response, which includes
interpreter start, the runtime client, the handler module's import (init) and the first
invocation (AssumeRole + GetItem against a warm moto). `init_ms` (spawn to the first `/next`)
and the first invocation's duration are kept too, and the runtime process's peak RSS after
that first invocation (`VmHWM` in /proc/<pid>/status).

Import time: `import app` alone, timed inside a fresh `python -S` process with the runtime's
`PYTHONPATH` and environment, after the runtime client's own modules are imported (as they are
when Lambda's bootstrap imports the handler). One extra `-X importtime` run per variant lists
the modules that cost the most, for the analysis in the JSON.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.rig import Rig, check, event, rotations
from bench.stats import Summary
from emulators.lambda_runner import LambdaFunction
from emulators.runtime_link import link_runtime

_IMPORT_PROBE = """
import sys, time
import awslambdaric.bootstrap, awslambdaric.lambda_context, awslambdaric.lambda_runtime_client
started = time.perf_counter()
import app
print("IMPORT_MS", (time.perf_counter() - started) * 1000.0)
"""
PREBIND_PROBE = """
import time
import awslambdaric.bootstrap, models, handler_sdk
from partnerdb import Partners
partners = Partners.from_env()
started = time.perf_counter()
partners.register_models(models.Payment)
print("IMPORT_MS", (time.perf_counter() - started) * 1000.0)
"""
_PROBE_TIMEOUT_S = 60.0
MIB = 1024 * 1024
#: modules listed per variant from `-X importtime`
TOP_MODULES = 12


def peak_rss_bytes(pid: int) -> int:
    """The peak resident set size of process `pid` so far (`VmHWM`)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def run_cold(
    rig: Rig, variants: Sequence[str], samples: int, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """`samples` cold starts per variant, interleaved; per-sample records plus summaries."""
    functions: dict[str, LambdaFunction] = {v: rig.function(v) for v in variants}
    records: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    try:
        for variant, fn in functions.items():  # moto warm, files in the page cache
            for _ in range(2):
                check(variant, fn.invoke(event()))
                fn.recycle()
        for round_no, order in enumerate(rotations(variants, samples)):
            for variant in order:
                fn = functions[variant]
                result = check(variant, fn.invoke(event()))
                if not result.cold_start or result.cold_start_ms is None or not result.pid:
                    raise RuntimeError(f"{variant}: sample {round_no} was not a cold start")
                peak = peak_rss_bytes(result.pid)
                fn.recycle()
                records[variant].append(
                    {
                        "cold_start_ms": result.cold_start_ms,
                        "init_ms": result.init_ms or 0.0,
                        "first_invoke_ms": result.duration_ms or 0.0,
                        "peak_rss_mib": peak / MIB,
                    }
                )
            if (round_no + 1) % 10 == 0:
                log(f"    cold start: {round_no + 1}/{samples} rounds")
    finally:
        for fn in functions.values():
            fn.stop()
            rig.started.remove(fn)
    out: dict[str, Any] = {"samples": samples, "variants": {}}
    for variant, rows in records.items():
        out["variants"][variant] = {
            key: {"summary": Summary.of([r[key] for r in rows]).to_json(),
                  "samples": [round(r[key], 3) for r in rows]}
            for key in ("cold_start_ms", "init_ms", "first_invoke_ms", "peak_rss_mib")
        }
    return out


def probe_env(rig: Rig, variant: str, runtime_dir: Path) -> dict[str, str]:
    """The runtime process's environment for an import probe of `variant`."""
    path = [*rig.python_path(variant), runtime_dir]
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": "C.UTF-8",
        "HOME": str(runtime_dir.parent),
        "AWS_LAMBDA_FUNCTION_NAME": f"bench-{variant}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "LAMBDA_TASK_ROOT": str(rig.task_roots[variant]),
        "LAMBDA_RUNTIME_DIR": str(runtime_dir),
        "_HANDLER": "app.handler",
        **rig.env(),
        "PYTHONPATH": os.pathsep.join(str(p) for p in path),
    }


def probe(
    env: dict[str, str], cwd: Path, importtime: bool = False, code: str = _IMPORT_PROBE,
    python: str = sys.executable,
) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh `python -S` with `env` (an import probe); its output."""
    cmd = [python, "-S", *(["-X", "importtime"] if importtime else []), "-c", code]
    done = subprocess.run(
        cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=_PROBE_TIMEOUT_S
    )
    if done.returncode != 0 or "IMPORT_MS" not in done.stdout:
        raise RuntimeError(f"import probe failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return done


def top_modules(importtime_stderr: str, limit: int = TOP_MODULES) -> list[dict[str, Any]]:
    """The top-level packages that cost the most, from `-X importtime` output (self time
    summed per top-level package, cumulative time of the heaviest single import)."""
    per_package: dict[str, float] = {}
    for line in importtime_stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        try:
            self_us, _cumulative, name = (part.strip() for part in line[12:].split("|", 2))
            per_package[name.strip().split(".")[0]] = (
                per_package.get(name.strip().split(".")[0], 0.0) + float(self_us)
            )
        except ValueError:
            continue
    ranked = sorted(per_package.items(), key=lambda kv: kv[1], reverse=True)[:limit]
    return [{"package": name, "self_ms": round(us / 1000.0, 2)} for name, us in ranked]


def run_imports(
    rig: Rig, variants: Sequence[str], samples: int, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """`import app` alone in fresh processes, interleaved; plus the costliest packages."""
    times: dict[str, list[float]] = {v: [] for v in variants}
    packages: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-imports-") as tmp:
        runtime_dir = Path(tmp) / "runtime"
        link_runtime(runtime_dir)
        envs = {v: probe_env(rig, v, runtime_dir) for v in variants}
        for variant in variants:  # warm the page cache; one -X importtime breakdown each
            done = probe(envs[variant], rig.task_roots[variant], importtime=True)
            packages[variant] = top_modules(done.stderr)
        for order in rotations(variants, samples):
            for variant in order:
                done = probe(envs[variant], rig.task_roots[variant])
                times[variant].append(float(done.stdout.split("IMPORT_MS", 1)[1].split()[0]))
    log(f"    import time: {samples} fresh processes per variant")
    return {
        "samples": samples,
        "variants": {
            v: {
                "import_ms": {"summary": Summary.of(times[v]).to_json(),
                              "samples": [round(t, 3) for t in times[v]]},
                "top_packages_self_ms": packages[v],
            }
            for v in variants
        },
    }



def run_prebind(
    rig: Rig, counts: Sequence[int], samples: int, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """`ours` only: what `register_models` (run by `@with_partner_db(models=...)` at import)
    costs with N partners configured (it binds the first partner: one DynamoDB client).
    Interleaved with N=1 on botocore's own JSON loading (`AWS_DATA_PATH` set to an empty
    folder turns the layer's pre-parsed data off): the before/after of that change."""
    from local.seed import PartnerAccount

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-prebind-") as tmp:
        runtime_dir = Path(tmp) / "runtime"
        link_runtime(runtime_dir)
        base = {k: v for k, v in probe_env(rig, "ours", runtime_dir).items()
                if not k.startswith("PARTNER_")}
        envs = {}
        for count in counts:
            env = dict(base)
            for i in range(count):
                env.update(PartnerAccount(f"p{i}", str(500000000000 + i), f"prebind-{i}-ext",
                                          f"p{i}_").env())
            envs[str(count)] = env
        empty = Path(tmp) / "no-models"
        empty.mkdir()
        envs["1, botocore JSON"] = {**envs[str(counts[0])], "AWS_DATA_PATH": str(empty)}
        times: dict[str, list[float]] = {key: [] for key in envs}
        for _ in range(samples):
            for key, env in envs.items():
                done = probe(env, rig.task_roots["ours"], code=PREBIND_PROBE)
                times[key].append(float(done.stdout.split("IMPORT_MS", 1)[1].split()[0]))
    for key in envs:
        out[key] = Summary.of(times[key]).to_json()
    log(f"    register_models at init: {samples} fresh processes per partner count")
    return {"samples": samples, "register_models_ms_by_partners": out}
