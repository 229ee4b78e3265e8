"""Figure 1b: SnapStart, restore to first response, through the local emulator.

Per variant one snapshot (`emulators.snapstart.SnapStartFunction.publish()`: init and the
before-snapshot hooks in a runtime process started with `AWS_LAMBDA_INITIALIZATION_TYPE=
snap-start`), then per sample a restored copy (a fork of the snapshot that goes through
`/runtime/restore/next` and the after-restore hooks), invoked once and stopped; variants
interleaved, the first rotating each round. The figure is `cold_start_ms` of that first
invocation: from the restore request to the first response. A fork restores in about a
millisecond where Lambda restores from its snapshot cache, so absolute times are lower
bounds; the work after restore (hooks, first invocation) is what differs between variants.

What the copies share with the snapshot is counted too: the snapshot's botocore clients and
open sockets, and how many copies run with the snapshot's `random` state (a variant without
an after-restore hook hands every copy the same sequence, used e.g. for retry jitter).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bench.rig import Rig, check, event, rotations
from bench.stats import Summary
from emulators.snapstart import SnapStartFunction


def run_snapstart(
    rig: Rig, variants: Sequence[str], samples: int, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """`samples` restores per variant, interleaved; per-sample records plus summaries."""
    functions = {
        v: SnapStartFunction(
            "app.handler", rig.task_roots[v], layer_dirs=rig.layer_dirs(v), env=rig.env(),
            timeout_s=6.0, function_name=f"bench-{v}-snapstart", init_timeout_s=20.0,
        )
        for v in variants
    }
    records: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    shared_random = {v: 0 for v in variants}
    shared_sockets = {v: 0 for v in variants}
    snapshots: dict[str, Any] = {}
    try:
        for variant, fn in functions.items():
            snapshot = fn.publish()
            snapshots[variant] = {"init_ms": round(snapshot.init_ms, 3), **snapshot.inventory}
            check(variant, fn.restore().invoke(event()))  # moto and page cache warm
        for round_no, order in enumerate(rotations(variants, samples)):
            for variant in order:
                fn = functions[variant]
                copy = fn.restore()
                result = check(variant, copy.invoke(event()))
                if not result.cold_start or result.cold_start_ms is None:
                    raise RuntimeError(f"{variant}: restore {round_no} served no first response")
                report = fn.processes[-1].report()
                copy.stop()
                inventory = snapshots[variant]
                shared_random[variant] += report.get("random") == inventory["random"]
                shared_sockets[variant] += bool(
                    set(report.get("sockets", [])) & set(inventory["sockets"]))
                records[variant].append({
                    "restore_to_first_response_ms": result.cold_start_ms,
                    "restore_ms": result.init_ms or 0.0,
                    "first_invoke_ms": result.duration_ms or 0.0,
                })
            if (round_no + 1) % 10 == 0:
                log(f"    snapstart: {round_no + 1}/{samples} rounds")
    finally:
        for fn in functions.values():
            fn.stop()
    out: dict[str, Any] = {"samples": samples, "variants": {}}
    for variant, rows in records.items():
        out["variants"][variant] = {
            key: {"summary": Summary.of([r[key] for r in rows]).to_json(),
                  "samples": [round(r[key], 3) for r in rows]}
            for key in ("restore_to_first_response_ms", "restore_ms", "first_invoke_ms")
        }
        out["variants"][variant]["snapshot"] = {
            **snapshots[variant], "sockets": len(snapshots[variant]["sockets"])}
        out["variants"][variant]["copies_with_snapshot_random_state"] = shared_random[variant]
        out["variants"][variant]["copies_with_snapshot_sockets"] = shared_sockets[variant]
    return out
