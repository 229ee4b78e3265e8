"""Variant `ours` without a DynamoDB call, each step of the SDK's pipeline timed inside the
runtime process: where the SDK's own share of a warm invocation goes (warm figure, notes).

`bare_app.handler` runs as in the bare figure. The steps of `handler_sdk.invocation.run` are
module-level names of the SDK (the event's parse, the record, the trace header, the partner
id, the DB scope around the handler, the response, the log line); they are replaced here, in
this process only, by the same functions inside a wall-clock timer. They are private: the
pipeline has no per-step hook, and this bench-only module is the one place that reaches
them. Each timer adds about 0.1 µs to its step and to the whole.

An event ``{"benchSteps": "reset"}`` forgets the samples so far (after the warm-up),
``{"benchSteps": "report"}`` answers the median µs of each step and of the whole handler.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import bare_app

from handler_sdk import invocation, logs, responses, tracing

#: step -> the (module, function name) pairs whose time it sums, in pipeline order
STEPS: dict[str, tuple[tuple[Any, str], ...]] = {
    "event": ((invocation, "ParsedEvent"),),
    "record": ((invocation, "_record"),),
    "trace": ((tracing, "trace_header"), (tracing, "trace_root")),
    "partner_id": ((invocation, "_partner_id"),),
    "db_scope_and_handler": ((invocation, "_call"),),
    "response": ((responses, "success"),),
    "log_line": ((logs, "emit"),),
}
WHOLE = "whole"

_spent: dict[str, int] = {}  # this invocation's ns per step
_samples: dict[str, list[int]] = {step: [] for step in (*STEPS, WHOLE)}


def _timed(step: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter_ns()
        try:
            return fn(*args, **kwargs)
        finally:
            _spent[step] = _spent.get(step, 0) + time.perf_counter_ns() - started

    return timed


for _step, _places in STEPS.items():
    for _module, _name in _places:
        setattr(_module, _name, _timed(_step, getattr(_module, _name)))


def handler(event: Any, context: Any) -> Any:
    """`bare_app.handler`, timed; or the samples' report / reset (``benchSteps``)."""
    command = event.get("benchSteps") if isinstance(event, dict) else None
    if command == "report":
        return {step: round(statistics.median(ns) / 1000, 2)
                for step, ns in _samples.items() if ns}
    if command == "reset":
        for ns in _samples.values():
            ns.clear()
        return {"reset": True}
    _spent.clear()
    started = time.perf_counter_ns()
    result = bare_app.handler(event, context)
    _samples[WHOLE].append(time.perf_counter_ns() - started)
    for step in STEPS:
        _samples[step].append(_spent.get(step, 0))
    return result
