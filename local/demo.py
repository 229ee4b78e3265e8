"""`make demo`: the payments function serving two partners, end to end, with no AWS account.

Starts an embedded moto server, builds the layer, seeds two partner accounts (roles and
tables), and runs a scripted sequence through the real Lambda runtime client. Prints a table
of each step, its result and its time; exits 1 if any step's result is wrong. Stops what it
started. A third partner is onboarded while the function runs, through the `partnerdb
partners` command and the registry table, served without a redeploy, then disabled (403).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emulators.fault_server import FaultServer, hang
from emulators.lambda_runner import FunctionResult, LambdaFunction
from emulators.moto_server import MotoServer, start_moto
from local import stack
from local.registry_seed import REGISTRY_TABLE, create_registry_table
from local.seed import PartnerAccount, create_role, create_table_for, scan_items

Check = Callable[[FunctionResult], bool]
#: The partner onboarded during the demo (its ExternalId comes from `partnerdb partners add`).
INITECH = PartnerAccount("initech", "333333333333", "", table_prefix="initech_")
#: Short registry TTLs so the demo sees a change within seconds (the default is 300 s).
REGISTRY_ENV = {
    "PARTNERDB_REGISTRY_TABLE": REGISTRY_TABLE,
    "PARTNERDB_REGISTRY_TTL": "2",
    "PARTNERDB_REGISTRY_NEGATIVE_TTL": "1",
}
_GENERATED = re.compile(r"^  ([A-Za-z0-9_-]{43})$", re.MULTILINE)


@dataclass
class Step:
    title: str
    partner: str
    action: str
    data: dict[str, Any]
    expect: str
    check: Check
    function: str = "main"
    #: What an operator does before this step (runs the partnerdb command).
    before: Callable[[], None] | None = None


@dataclass
class Outcome:
    step: Step
    result: FunctionResult
    ok: bool


def status(code: int) -> Check:
    return lambda r: isinstance(r.payload, dict) and r.payload.get("status") == code


def payment_field(r: FunctionResult, name: str) -> Any:
    data = r.payload.get("data") if isinstance(r.payload, dict) else None
    return (data or {}).get("payment", {}).get(name)


def summary(r: FunctionResult) -> str:
    p = r.payload if isinstance(r.payload, dict) else {}
    if r.is_error:
        return f"runtime error {r.error_type}"
    if not p.get("success"):
        return f"{p.get('status')} {p.get('error', '')}"[:60]
    data = p.get("data") or {}
    if "payments" in data:
        return f"200 {len(data['payments'])} payment(s)"
    pay = data.get("payment") or {}
    extra = "" if data.get("created") is None else f" created={data['created']}"
    return f"200 {pay.get('status')} refunded={pay.get('refunded')}{extra}"


class Operator:
    """Runs `partnerdb partners ...` (a separate process, the operator's own) on the demo's
    registry, and plays the new partner deploying partner-role.yaml."""

    def __init__(self, moto: MotoServer, models: tuple[Any, ...]) -> None:
        self.moto = moto
        self.models = models
        self.external_ids: list[str] = []

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "partnerdb", "partners",
             "--registry", f"dynamodb:{REGISTRY_TABLE}", *args],
            capture_output=True, text=True, timeout=60, env=dict(os.environ),
        )
        if done.returncode != 0:
            raise RuntimeError(f"partnerdb partners {args[0]} failed: {done.stderr.strip()}")
        return done.stdout

    def onboard(self) -> None:
        out = self.cli("add", INITECH.partner_id, "--role-arn", INITECH.role_arn,
                       "--table-prefix", INITECH.table_prefix)
        external_id = _GENERATED.findall(out)[0]
        self.external_ids.append(external_id)
        partner = PartnerAccount(INITECH.partner_id, INITECH.account_id, external_id,
                                 INITECH.table_prefix)
        create_role(partner, self.moto.url, trusted_account=stack.HOME_ACCOUNT)
        for model in self.models:
            create_table_for(model, partner, self.moto.url)
        time.sleep(float(REGISTRY_ENV["PARTNERDB_REGISTRY_NEGATIVE_TTL"]) + 0.2)

    def disable(self) -> None:
        self.cli("disable", INITECH.partner_id)
        time.sleep(float(REGISTRY_ENV["PARTNERDB_REGISTRY_TTL"]) + 0.2)


def steps(payment_id: Callable[[], str], operator: Operator) -> list[Step]:
    new = {"customerId": "cust-42", "amount": 1999, "currency": "EUR", "idempotencyKey": "order-1"}

    def same_payment(r: FunctionResult) -> bool:
        return status(200)(r) and payment_field(r, "id") == payment_id()

    return [
        Step("create a payment", "acme", "createPayment", new, "200 created",
             lambda r: status(200)(r) and r.payload["data"]["created"] is True),
        Step("retry with the same idempotency key", "acme", "createPayment", new,
             "200 same payment, created=False",
             lambda r: same_payment(r) and r.payload["data"]["created"] is False),
        Step("get it", "acme", "getPayment", {"id": "$id"}, "200 same payment", same_payment),
        Step("list the customer's payments", "acme", "listPayments", {"customerId": "cust-42"},
             "200 1 payment", lambda r: status(200)(r) and len(r.payload["data"]["payments"]) == 1),
        Step("refund 500 of 1999", "acme", "refundPayment",
             {"id": "$id", "amount": 500, "idempotencyKey": "refund-1"}, "200 partially_refunded",
             lambda r: status(200)(r) and payment_field(r, "status") == "partially_refunded"),
        Step("refund 1500 more (only 1499 left)", "acme", "refundPayment",
             {"id": "$id", "amount": 1500, "idempotencyKey": "refund-2"}, "409 refused",
             status(409)),
        Step("refund refused left it unchanged", "acme", "getPayment", {"id": "$id"},
             "200 refunded=500", lambda r: same_payment(r) and payment_field(r, "refunded") == 500),
        Step("globex asks for acme's payment id", "globex", "getPayment", {"id": "$id"},
             "404 (not in globex's account)", status(404)),
        Step("an unknown partner", "initech", "getPayment", {"id": "$id"}, "403", status(403)),
        Step("onboard initech with `partnerdb partners add` (no redeploy), create", "initech",
             "createPayment", new, "200 created",
             lambda r: status(200)(r) and r.payload["data"]["created"] is True,
             before=operator.onboard),
        Step("`partnerdb partners disable initech`, then get", "initech", "getPayment",
             {"id": "$id"}, "403 after the registry TTL", status(403), before=operator.disable),
        Step("an invalid amount", "acme", "createPayment", {**new, "amount": 19.99}, "400",
             status(400)),
        Step("DynamoDB hangs: cut at the deadline", "acme", "getPayment", {"id": "$id"},
             "504 before Lambda's timeout",
             lambda r: status(504)(r) and not r.timed_out, function="hung"),
    ]


def run() -> int:
    started = time.monotonic()
    print("partnerdb demo: payments for two partners, through the real Lambda runtime client\n")
    os.environ.update(stack.HOME_CREDENTIALS, AWS_REGION="us-east-1")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    print("  building the layer (build_layer.sh) and packaging the function ...", flush=True)
    opt = stack.build_layer()
    task_root = stack.build_function("payments")
    models = stack.load_function("payments", "models")
    moto = start_moto()
    hung_dynamodb = FaultServer(hang).start()
    env = stack.Stack(moto, opt, task_root)
    operator = Operator(moto, models.MODELS)
    try:
        os.environ["AWS_ENDPOINT_URL"] = moto.url
        stack.seed_partners(moto, env.partners, models.MODELS)
        create_registry_table(moto.url)
        print(f"  moto on {moto.url}; partners: " + ", ".join(
            f"{p.partner_id} (account {p.account_id}, prefix {p.table_prefix})"
            for p in env.partners) + "\n")
        functions: dict[str, LambdaFunction] = {
            "main": env.function(timeout_s=6.0, env=REGISTRY_ENV),
            "hung": env.function(
                timeout_s=2.5, env={"AWS_ENDPOINT_URL_DYNAMODB": hung_dynamodb.url}
            ),
        }
        created: dict[str, str] = {}
        outcomes = []
        for step in steps(lambda: created.get("id", ""), operator):
            if step.before is not None:
                step.before()
            data = {k: (created.get("id", "") if v == "$id" else v) for k, v in step.data.items()}
            event = {"partnerId": step.partner, "action": step.action, "data": data}
            result = functions[step.function].invoke(event)
            if "id" not in created and payment_field(result, "id"):
                created["id"] = payment_field(result, "id")
            outcomes.append(Outcome(step, result, step.check(result)))
        isolation_ok = _check_accounts(env, moto.url, created.get("id", ""))
        _print_table(outcomes)
        leaks = _leaks(functions.values(), env, operator.external_ids)
        failed = [o for o in outcomes if not o.ok]
        where = "yes" if isolation_ok else "NO"
        print(f"\n  acme's payment is stored in acme's account only: {where}")
        print(f"  secrets in the function's logs: {'none' if not leaks else ', '.join(leaks)}")
        print(f"  total {time.monotonic() - started:.1f} s")
        if failed or not isolation_ok or leaks:
            print(f"\nDEMO FAILED: {len(failed)} step(s) wrong", file=sys.stderr)
            return 1
        print("\nAll steps gave the expected result.")
        return 0
    finally:
        env.stop_functions()
        hung_dynamodb.stop()
        moto.stop()


def _check_accounts(env: stack.Stack, url: str, payment_id: str) -> bool:
    acme, globex = env.partners
    in_acme = scan_items(f"{acme.table_prefix}payments", acme.account_id, url)
    in_globex = scan_items(f"{globex.table_prefix}payments", globex.account_id, url)
    return [i["id"]["S"] for i in in_acme] == [payment_id] and in_globex == []


def _leaks(functions: Any, env: stack.Stack, registry_ids: list[str]) -> list[str]:
    logs = "".join(fn.logs() for fn in functions)
    secrets = {
        "home secret key": stack.HOME_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "home session token": stack.HOME_CREDENTIALS["AWS_SESSION_TOKEN"],
    }
    secrets.update({f"{p.partner_id} ExternalId": p.external_id for p in env.partners})
    secrets.update({f"registry ExternalId {n}": value for n, value in enumerate(registry_ids)})
    return [name for name, value in secrets.items() if value in logs]


def _print_table(outcomes: list[Outcome]) -> None:
    rows = [("#", "step", "partner", "expected", "got", "ms", "")]
    for n, o in enumerate(outcomes, 1):
        cold_ms = o.result.cold_start_ms if o.result.cold_start else None
        ms = cold_ms if cold_ms is not None else o.result.total_ms
        cold = " (cold start)" if cold_ms is not None else ""
        rows.append((str(n), o.step.title, o.step.partner, o.step.expect, summary(o.result),
                     f"{ms:.0f}{cold}", "ok" if o.ok else "WRONG"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        print("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
        if i == 0:
            print("  " + "  ".join("-" * w for w in widths))


if __name__ == "__main__":
    sys.exit(run())
