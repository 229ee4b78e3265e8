"""`partnerdb partners ...`: onboard, list, show, disable, enable, rotate and check partners.

Plugs into the `partnerdb` command through `register(subparsers)`; `main()` runs it alone
(`python -m partnerdb.cli_partners partners ...`) until the root command is there. The registry
is `--registry dynamodb:TABLE | ssm:PATH`, by default the one the runtime's environment names.
An ExternalId is printed only by `add` (when generated) and `rotate-external-id`, once; `list`
never prints one and `show` masks it. Bad input exits 2 with a message, AWS errors exit 1.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from partnerdb.config import normalize_partner_id
from partnerdb.constants import REGISTRY_REGION_ENV
from partnerdb.errors import PartnerDBError, RegistryEntryInvalid
from partnerdb.registry import (
    ACTIVE,
    DISABLED,
    DynamoDBRegistry,
    SsmRegistry,
    parse_entry,
    parse_registry_spec,
    registry_from_env,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: Bytes of randomness in a generated ExternalId (43 URL-safe characters).
EXTERNAL_ID_BYTES = 32
Store = DynamoDBRegistry | SsmRegistry


class UsageError(Exception):
    """Bad input from the operator: exit 2 with this message."""


def register(subparsers: Any) -> None:
    """Add `partners` and its subcommands to the root command's subparsers."""
    partners = subparsers.add_parser("partners", help="manage the partner registry")
    partners.add_argument(
        "--registry",
        help="dynamodb:TABLE or ssm:PATH (default: $PARTNERDB_REGISTRY_TABLE or "
        "$PARTNERDB_REGISTRY_SSM_PATH)",
    )
    partners.add_argument(
        "--registry-region", help="region of the registry (default: $PARTNERDB_REGISTRY_REGION "
        "or $AWS_REGION)",
    )
    sub = partners.add_subparsers(dest="partners_command", metavar="ACTION", required=True)

    add = sub.add_parser("add", help="register a partner (prints a new ExternalId once)")
    add.add_argument("partner_id", metavar="ID")
    add.add_argument("--role-arn", required=True)
    add.add_argument("--region", default="")
    add.add_argument("--table-prefix", default="")
    add.add_argument("--external-id", help="agreed ExternalId (default: a new random one)")
    add.set_defaults(func=_guarded(_add))

    sub.add_parser("list", help="every partner, never an ExternalId").set_defaults(
        func=_guarded(_list)
    )
    for name, func, text in (
        ("show", _show, "one partner, ExternalId masked"),
        ("disable", _disable, "stop serving a partner (403 after the cache TTL)"),
        ("enable", _enable, "serve a disabled partner again"),
        ("rotate-external-id", _rotate, "new ExternalId, printed once with the partner's steps"),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("partner_id", metavar="ID")
        cmd.set_defaults(func=_guarded(func))

    check = sub.add_parser("check", help="assume the role with the ExternalId, check tables")
    check.add_argument("partner_id", metavar="ID")
    check.add_argument("--table", action="append", default=[], metavar="NAME",
                       help="table name without the partner's prefix (repeatable)")
    check.set_defaults(func=_guarded(_check))


def _guarded(func: Any) -> Any:
    """Run a subcommand: user errors exit 2, AWS failures exit 1, never a traceback."""

    def run(args: argparse.Namespace) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            code: int = func(args, _store(args), sys.stdout)
            return code
        except (UsageError, PartnerDBError) as err:
            print(f"partnerdb: error: {err}", file=sys.stderr)
            return EXIT_USAGE
        except ClientError as err:
            error = err.response.get("Error", {})
            print(f"partnerdb: AWS error: {error.get('Code')}: {error.get('Message')}",
                  file=sys.stderr)
            return EXIT_FAILED
        except BotoCoreError as err:
            print(f"partnerdb: AWS error: {type(err).__name__}: {err}", file=sys.stderr)
            return EXIT_FAILED

    return run


def _store(args: argparse.Namespace) -> Store:
    region = args.registry_region or os.environ.get(REGISTRY_REGION_ENV) or None
    if args.registry:
        return parse_registry_spec(args.registry, region)
    store = registry_from_env()
    if store is None:
        raise UsageError(
            "no registry: pass --registry dynamodb:TABLE or ssm:PATH, or set "
            "PARTNERDB_REGISTRY_TABLE or PARTNERDB_REGISTRY_SSM_PATH"
        )
    assert isinstance(store, DynamoDBRegistry | SsmRegistry)
    return store


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _new_external_id() -> str:
    return secrets.token_urlsafe(EXTERNAL_ID_BYTES)


def _existing(store: Store, raw_id: str) -> tuple[str, dict[str, str]]:
    pid = normalize_partner_id(raw_id)
    raw = store.get_raw(pid)
    if raw is None:
        raise UsageError(f"partner {pid!r} is not in {store.describe()}")
    return pid, {k: str(v) for k, v in raw.items()}


def _save(store: Store, pid: str, fields: dict[str, str]) -> dict[str, str]:
    """Validate (as the runtime will) and write the entry."""
    fields = {**fields, "partner_id": pid, "updated_at": _now()}
    try:
        parse_entry(pid, fields, store.home_region)
    except RegistryEntryInvalid as err:
        raise UsageError(str(err)) from None
    store.put_raw(fields)
    return fields


def _add(args: argparse.Namespace, store: Store, out: TextIO) -> int:
    pid = normalize_partner_id(args.partner_id)
    if store.get_raw(pid) is not None:
        raise UsageError(
            f"partner {pid!r} is already in {store.describe()}: use enable, disable or "
            "rotate-external-id"
        )
    generated = args.external_id is None
    external_id = _new_external_id() if generated else args.external_id
    fields = _save(store, pid, {
        "role_arn": args.role_arn, "external_id": external_id, "region": args.region,
        "table_prefix": args.table_prefix, "status": ACTIVE,
    })
    print(f"added partner {pid} to {store.describe()} (active)", file=out)
    if generated:
        print(f"\nExternalId (shown once, send it to the partner over a secure channel):\n"
              f"  {external_id}", file=out)
    _print_partner_parameters(fields, "<the ExternalId above>" if generated
                              else "<the ExternalId you agreed>", out)
    return EXIT_OK


def _print_partner_parameters(fields: dict[str, str], external_id: str, out: TextIO) -> None:
    from partnerdb.cli_check import home_account_id
    from partnerdb.clients import ClientFactory
    from partnerdb.config import ClientSettings

    settings = ClientSettings.from_env()
    account = home_account_id(ClientFactory(settings), settings.sts_region or "us-east-1")
    account = account or "<the 12-digit id of the account the functions run in>"
    role_name = fields["role_arn"].rsplit("/", 1)[-1]
    print("\nThe partner deploys partner-role.yaml in its account with:", file=out)
    print(f"  TrustedAccountId={account}", file=out)
    print(f"  RoleName={role_name}", file=out)
    print(f"  ExternalId={external_id}", file=out)
    print(f"  TablePrefix={fields.get('table_prefix', '')}", file=out)


def _list(args: argparse.Namespace, store: Store, out: TextIO) -> int:
    entries = sorted(store.list_raw(), key=lambda e: str(e.get("partner_id", "")))
    columns = ("partner_id", "status", "role_arn", "region", "table_prefix", "updated_at")
    print("\t".join(columns), file=out)
    for entry in entries:
        print("\t".join(str(entry.get(c, "")) for c in columns), file=out)
    return EXIT_OK


def _show(args: argparse.Namespace, store: Store, out: TextIO) -> int:
    pid, fields = _existing(store, args.partner_id)
    for name in ("partner_id", "role_arn", "region", "table_prefix", "status", "updated_at"):
        print(f"{name}: {fields.get(name, '')}", file=out)
    secret = fields.get("external_id", "")
    print(f"external_id: {'*** (' + str(len(secret)) + ' characters)' if secret else '(missing)'}",
          file=out)
    try:
        parse_entry(pid, fields, store.home_region)
    except RegistryEntryInvalid as err:
        print(f"invalid: {err}", file=out)
        return EXIT_FAILED
    return EXIT_OK


def _set_status(args: argparse.Namespace, store: Store, out: TextIO, status: str) -> int:
    pid, fields = _existing(store, args.partner_id)
    _save(store, pid, {**fields, "status": status})
    print(f"partner {pid} is {status}; running functions see it within "
          f"PARTNERDB_REGISTRY_TTL (default 300 s)", file=out)
    return EXIT_OK


def _disable(args: argparse.Namespace, store: Store, out: TextIO) -> int:
    return _set_status(args, store, out, DISABLED)


def _enable(args: argparse.Namespace, store: Store, out: TextIO) -> int:
    return _set_status(args, store, out, ACTIVE)


def _rotate(args: argparse.Namespace, store: Store, out: TextIO) -> int:
    pid, fields = _existing(store, args.partner_id)
    external_id = _new_external_id()
    fields = _save(store, pid, {**fields, "external_id": external_id})
    print(f"new ExternalId for {pid} (shown once):\n  {external_id}\n", file=out)
    print("Steps:", file=out)
    print("  1. Send it to the partner over a secure channel.", file=out)
    print("  2. The partner updates its partner-role.yaml stack: ExternalId=<the new value>.",
          file=out)
    print("  3. Running functions use the new value within PARTNERDB_REGISTRY_TTL (300 s);\n"
          "     calls between the registry change and the partner's update get 502.", file=out)
    print(f"  4. Verify: partnerdb partners --registry {store.describe()} check {pid}", file=out)
    return EXIT_OK


def _check(args: argparse.Namespace, store: Store, out: TextIO) -> int:
    from partnerdb.cli_check import check_partner

    pid, fields = _existing(store, args.partner_id)
    try:
        record = parse_entry(pid, fields, store.home_region)
    except RegistryEntryInvalid as err:
        print(f"entry: FAILED {err}", file=out)
        return EXIT_FAILED
    if not record.active:
        print(f"note: partner {pid} is disabled; checking its role anyway", file=out)
    return EXIT_OK if check_partner(record.config, args.table, out) else EXIT_FAILED

