"""The per-step diagnostic of the warm figure times every step it names, and they add up.

It patches the SDK's pipeline in its process, so it runs in a subprocess of its own here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.overhead import PARTNER
from bench.worker import HOME_ENV, ROOT

SCRIPT = """
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import steps_app
from emulators.lambda_context import FakeContext
event = {"partnerId": "acme", "data": {"id": "pay_bench"}}
context = FakeContext(function_name="bench-ours")
answers = [steps_app.handler(event, context) for _ in range(9)]
first = steps_app.handler({"benchSteps": "report"}, context)
steps_app.handler({"benchSteps": "reset"}, context)
after_reset = steps_app.handler({"benchSteps": "report"}, context)
steps_app.handler(event, context)
print(json.dumps({"answers": answers, "first": first, "after_reset": after_reset,
                  "last": steps_app.handler({"benchSteps": "report"}, context)}))
"""


def test_every_step_is_timed_and_the_steps_fit_in_the_whole(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **HOME_ENV, **PARTNER,
           "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}  # never reached: the handler calls nothing
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(ROOT / "bench" / "functions" / "ours"), str(ROOT)],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.splitlines()[-1])
    answer = result["answers"][0]
    assert answer["success"] is True and answer["data"] == {"id": "pay_bench"}
    steps = ("event", "record", "trace", "partner_id", "db_scope_and_handler", "response",
             "log_line")
    first = result["first"]
    assert set(first) == {*steps, "whole"}
    assert all(first[step] > 0 for step in steps)
    assert sum(first[step] for step in steps) <= first["whole"]
    assert result["after_reset"] == {}
    assert set(result["last"]) == set(first)
