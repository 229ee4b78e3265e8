"""`make bench` (`python -m bench`): every figure, one table, results in bench/results/.

    python -m bench                      # full run, writes bench/results/latest.{json,md}
                                         # and bench/results/cold_start.png
    python -m bench --quick              # few samples, writes build/bench/results/
    python -m bench --only cold,warm     # some figures only, writes build/bench/results/

Figures: cold (cold start, peak RSS, import time, also under python3.12 when present),
snapstart (restore to first response, local SnapStart emulation), warm (runtime latency +
in-process overhead + deadline hooks), batch (an SQS batch of 100 records over 10 partners),
cache (STS calls, bind time, memory per partner), deadline (hung and trickling calls), registry
(warm and first-use lookups, memory per entry, reads per TTL), layer (zip sizes). A partial or
quick run never overwrites the committed results unless `--out` says so.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import output, plot, report
from bench.worker import ROOT, run_worker

FIGURES = ("cold", "snapstart", "warm", "batch", "cache", "deadline", "registry", "layer")
RESULTS = ROOT / "bench" / "results"
SCRATCH_RESULTS = ROOT / "build" / "bench" / "results"
#: partner counts for the init cost of `register_models` (it binds the first partner only)
PREBIND_COUNTS = (1, 2, 10, 32, 33)


@dataclass(frozen=True)
class Plan:
    """How many samples each figure takes."""

    cold_samples: int
    import_samples: int
    snapstart_samples: int
    warm_invocations: int
    warm_block: int
    overhead_rounds: int
    overhead_calls: int
    hooks_rounds: int
    hooks_calls: int
    hooks_replays: int
    sts_invocations: int
    hourly_hours: float
    hourly_step_s: float
    bind_configured: int
    bind_measured: int
    memory_partners: int
    deadline_runs: int
    refused_requests: int
    registry_rounds: int = 30
    registry_calls: int = 2000
    registry_first_uses: int = 50
    registry_invocations: int = 100_000
    batch_batches: int = 50
    batch_records: int = 100


FULL = Plan(40, 15, 30, 1800, 10, 60, 100, 30, 300, 5000, 1000, 6.0, 6.0, 200, 50, 100, 20,
            1000)
QUICK = Plan(5, 3, 5, 100, 10, 10, 50, 6, 100, 1000, 200, 2.0, 12.0, 60, 20, 30, 5, 300,
             registry_rounds=6, registry_calls=500, registry_first_uses=10,
             registry_invocations=20_000, batch_batches=10)


def log(message: str) -> None:
    print(message, flush=True)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short run with few samples")
    parser.add_argument("--only", default=",".join(FIGURES),
                        help=f"comma-separated figures among {','.join(FIGURES)}")
    parser.add_argument("--out", type=Path, default=None,
                        help="results directory (default: bench/results for a full run of "
                             "every figure, build/bench/results otherwise)")
    parser.add_argument("--cold-samples", type=int, default=None,
                        help="cold starts per variant (default 40; 5 with --quick)")
    parser.add_argument("--warm-invocations", type=int, default=None,
                        help="warm invocations per variant (default 1800; 100 with --quick)")
    args = parser.parse_args(argv)
    only = [f.strip() for f in args.only.split(",") if f.strip()]
    unknown = sorted(set(only) - set(FIGURES))
    if unknown or not only:
        parser.error(f"--only takes figures among {','.join(FIGURES)}, not {unknown}")
    args.only = [f for f in FIGURES if f in only]
    return args


def run_runtime_figures(selected: list[str], plan: Plan) -> dict[str, Any]:
    """The figures that need the layer, the functions and moto: cold, warm, STS runtime."""
    from bench import batch, cache, cold, py312, snapstart, warm
    from bench.rig import VARIANTS, open_rig

    figures: dict[str, Any] = {}
    with open_rig(log=log) as rig:
        if "cold" in selected:
            log(f"  cold start: {plan.cold_samples} fresh processes per variant, interleaved")
            figures["cold"] = cold.run_cold(rig, VARIANTS, plan.cold_samples, log)
            log(f"  import time: {plan.import_samples} fresh processes per variant")
            figures["imports"] = cold.run_imports(rig, VARIANTS, plan.import_samples, log)
            figures["prebind"] = cold.run_prebind(rig, PREBIND_COUNTS, plan.import_samples, log)
            log(f"  import time under python{py312.VERSION} (the runtime's), if present")
            figures["py312"] = py312.run_py312(rig, plan.import_samples, log)
        if "snapstart" in selected:
            log(f"  SnapStart: {plan.snapstart_samples} restored copies per variant, interleaved")
            figures["snapstart"] = snapstart.run_snapstart(rig, VARIANTS,
                                                           plan.snapstart_samples, log)
        if "warm" in selected:
            log(f"  warm: {plan.warm_invocations} invocations per variant, "
                f"blocks of {plan.warm_block}")
            figures["warm"] = warm.run_warm(rig, VARIANTS, plan.warm_invocations,
                                            plan.warm_block, log)
            log("  warm without a DynamoDB call: the SDK's own share, with and without its "
                "log line")
            figures["warm_bare"] = warm.run_bare(rig, plan.warm_invocations, plan.warm_block)
            log("  warm without a DynamoDB call, each step of the SDK's pipeline timed")
            figures["warm_steps"] = warm.run_steps(rig, plan.warm_invocations)
            log("  warm against a handwritten function that logs one line per invocation")
            figures["warm_logged"] = warm.run_logged(rig, plan.warm_invocations,
                                                     plan.warm_block)
        if "batch" in selected:
            log(f"  batch: {plan.batch_batches} SQS batches of {plan.batch_records} records "
                "over 10 partners per variant")
            figures["batch"] = batch.run_batch(rig, ("handwritten", "ours"), plan.batch_batches,
                                               plan.batch_records, log)
        if "cache" in selected:
            log(f"  STS calls: {plan.sts_invocations} invocations over 10 partners")
            figures["sts_runtime"] = cache.run_sts_runtime(
                rig, ("handwritten", "ours"), plan.sts_invocations, log
            )
    return figures


def run_worker_figures(selected: list[str], plan: Plan) -> dict[str, Any]:
    """The in-process figures, each in a fresh worker process."""
    figures: dict[str, Any] = {}
    if "warm" in selected:
        log(f"  in-process overhead: {plan.overhead_rounds} rounds of {plan.overhead_calls} calls")
        figures["overhead"] = run_worker("bench.overhead", "overhead", {
            "rounds": plan.overhead_rounds, "calls": plan.overhead_calls})
        log("  before/after of the per-call changes (log line, model JSON)")
        figures["ab"] = run_worker("bench.ab", "ab", {"rounds": plan.hooks_rounds,
                                                      "calls": plan.hooks_replays // 5})
        log(f"  deadline hooks: {plan.hooks_rounds} rounds")
        figures["hooks"] = run_worker("bench.overhead", "hooks", {
            "rounds": plan.hooks_rounds, "calls": plan.hooks_calls,
            "replays": plan.hooks_replays})
    if "cache" in selected:
        log(f"  STS per hour: {plan.hourly_hours:g} simulated hours")
        figures["sts_hourly"] = run_worker("bench.cache", "hourly", {
            "hours": plan.hourly_hours, "step_s": plan.hourly_step_s, "partners": 10})
        log(f"  refused role: {plan.refused_requests} requests to a partner STS refuses")
        figures["sts_refused"] = run_worker("bench.cache", "refused", {
            "requests": plan.refused_requests, "step_s": 0.1})
        log(f"  bind: {plan.bind_measured} never-seen partners of {plan.bind_configured}")
        figures["bind"] = run_worker("bench.cache", "bind", {
            "configured": plan.bind_configured, "measured": plan.bind_measured})
        log(f"  memory: {plan.memory_partners} partners, without and with HTTPS")
        figures["memory"] = run_memory(plan.memory_partners)
    if "registry" in selected:
        log(f"  registry: warm/first-use lookups, memory, {plan.registry_invocations} "
            "Zipf lookups over 1000 partners")
        figures["registry"] = run_worker("bench.registry", "registry", {
            "rounds": plan.registry_rounds, "calls": plan.registry_calls,
            "first_uses": plan.registry_first_uses, "entries": 1000,
            "invocations": plan.registry_invocations, "partners": 1000}, timeout_s=900.0)
    if "deadline" in selected:
        log(f"  deadline: {plan.deadline_runs} hung calls with Deadline.after(0.5)")
        figures["deadline"] = run_worker("bench.deadline", "deadline", {
            "runs": plan.deadline_runs, "deadline_s": 0.5})
        log(f"  deadline: {plan.deadline_runs} trickling calls with Deadline.after(1.0)")
        figures["deadline_trickle"] = run_worker("bench.deadline", "deadline", {
            "runs": plan.deadline_runs, "deadline_s": 1.0, "mode": "trickle"})
    return figures


def run_memory(partners: int) -> dict[str, Any]:
    """Memory per cached partner: in memory, over HTTPS, and the shared-session what-if."""
    import botocore.httpsession

    from bench.responder import Responder, tls_material

    out = {"canned": run_worker("bench.cache", "memory", {"partners": partners,
                                                          "mode": "canned"})}
    with tempfile.TemporaryDirectory(prefix="bench-tls-") as tmp:
        cert, key, bundle = tls_material(Path(tmp), Path(botocore.httpsession.DEFAULT_CA_BUNDLE))
        with Responder(tls=(cert, key)) as responder:
            for mode in ("tls", "tls-shared"):
                out[mode.replace("-", "_")] = run_worker("bench.cache", "memory", {
                    "partners": partners, "mode": mode, "endpoint": responder.url,
                    "ca_bundle": str(bundle)})
    return out


def shown_path(path: Path) -> Path:
    """`path` relative to the repository when it lies inside it, else absolute."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    plan = QUICK if args.quick else FULL
    overrides = {k: v for k, v in (("cold_samples", args.cold_samples),
                                   ("warm_invocations", args.warm_invocations)) if v}
    plan = Plan(**{**plan.__dict__, **overrides})
    partial = args.quick or args.only != list(FIGURES)
    out_dir = (args.out or (SCRATCH_RESULTS if partial else RESULTS)).resolve()
    started, load_start = time.monotonic(), os.getloadavg()
    log(f"partnerdb bench ({'quick' if args.quick else 'full'}): {', '.join(args.only)}")
    figures: dict[str, Any] = {}
    if {"cold", "snapstart", "warm", "batch", "cache"} & set(args.only):
        figures.update(run_runtime_figures(args.only, plan))
    figures.update(run_worker_figures(args.only, plan))
    if "layer" in args.only:
        log("  layer: build_layer.sh --python 3.12, default and --slim")
        from bench.layer import run_layer

        figures["layer"] = run_layer(log)
    load_end = os.getloadavg()
    table = report.rows(figures)
    table_text = report.markdown(table)
    notes = report.notes(figures)
    results = {
        "mode": "quick" if args.quick else "full",
        "figures_run": args.only,
        "finished_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "duration_s": round(time.monotonic() - started, 1),
        "load_average": f"{load_start[0]:.2f} → {load_end[0]:.2f}",
        "machine": output.machine(),
        "plan": plan.__dict__,
        "table": report.as_dicts(table),
        "notes": notes,
        "figures": figures,
    }
    print()
    print(table_text)
    print()
    for line in notes:
        print(f"- {line}")
    output.write(results, out_dir, table_text, notes)
    m = results["machine"]
    plot.plot_cold(figures, out_dir / "cold_start.png",
                     f"{m['cpu']}, {m['cores']} cores, {m['python']}, botocore "
                     f"{m['versions']['botocore']}, pynamodb {m['versions']['pynamodb']}, "
                     f"{m['git_describe']}")
    log(f"\nwritten: {shown_path(out_dir)}/latest.json, latest.md"
        f"{', cold_start.png' if 'cold' in figures else ''} ({results['duration_s']:.0f} s)")
    failed = [r.figure.strip() for r in table if r.result == "MISS"]
    if failed:
        log(f"targets missed: {'; '.join(failed)} (see bench/README.md, 'Targets of issue 15')")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
