"""Hostile input: property tests over events of every shape, through the payments handler.

Three properties, 700 generated events each (direct invoke and junk events, API Gateway REST
v1, HTTP API v2): wrong types, huge strings, unicode, nested junk, JSON bodies and cursors
nested past the parser's recursion limit, headers in odd case, partner ids aimed at the role
session name or the table prefix. For every event:

- the handler returns (no exception escapes), with a documented status, in the response format
  of the event's shape (as the SDK documents shape detection), JSON-serializable, with a short
  error text that carries no role ARN, account, ExternalId or traceback;
- unless every partner id the event carries is a configured partner (letters, digits and
  underscore, any case, all agreeing), the answer is 400 or 403 and not one STS or DynamoDB
  request was made (counted at loopback servers in front of moto, around each example);
- for a configured partner, the answer is one of 200, 400, 404, 409: never a 5xx.

One `Partners` and one decorated handler serve all examples, as in a warm container.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, configuration, given, settings
from hypothesis import strategies as st

from handler_sdk import UnsupportedEvent
from tests.reliability.conftest import RigFactory
from tests.reliability.support import ACME, DOCUMENTED_STATUSES, GLOBEX, PaymentsRig
from tests.support import FakeContext

EXAMPLES = 700
KNOWN = frozenset({"acme", "globex"})
_PARTNER_ID_SPEC = re.compile(r"[A-Za-z0-9_]{1,64}")
_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # nothing written into the repository
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- strategies ----------------------------------------------------------------------------

HOSTILE_IDS = [
    "acme/../x", "acme\n", "ACME;drop", "a" * 65, "acme%00", "acme\x00", " acme", "acme ",
    "ac me", "acme'--", 'acme"', "globex\r\nX-Injected: 1", "../globex", "gx_", "gx_payments",
    "acme.payments", "acme-", "acmé", "\uff41\uff43\uff4d\uff45", "ACME\u0130", "\u212acme",
    "", "*", "%", "acme*",
    "arn:aws:iam::311111111111:role/partnerdb-access", "${PARTNER_ACME_ROLE_ARN}",
    "PARTNER_ACME_EXTERNAL_ID", "a" * 64, "initech", "acme_", "_", "0", "ACME\t", "acme\u200b",
    "<script>", "{{7*7}}", "acme\u0000globex", "globex;acme", "ACME,GLOBEX", "null", "None",
]
HEADER_NAMES = [
    "X-Partner-Id", "x-partner-id", "X-PARTNER-ID", "x-PaRtNeR-iD", "X-Partner-Id ",
    "X_Partner_Id", "XPartnerId", "Content-Type", "Host",
]
ACTIONS = ["createPayment", "getPayment", "listPayments", "refundPayment"]
ODD_ACTIONS = [
    "", "CREATEPAYMENT", "createPayment ", "__init__", "dispatch", "__call__", "_actions",
    "constructor", "toString", "getPayment\x00", "refundPayment/../createPayment",
]

def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """Draw from one of `choices`, each picked in proportion to its weight."""
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(pool).flatmap(lambda strategy: strategy)


json_junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=8,
)
huge_text = st.builds(
    lambda unit, size: (unit * size)[:size],
    st.text(min_size=1, max_size=4),
    st.integers(1_000, 100_000),
)
#: JSON nested past the parser's recursion limit (closed, unclosed, arrays or objects).
nested_json = st.builds(
    lambda depth, kind: {
        "arrays": "[" * depth + "]" * depth,
        "unclosed": "[" * depth,
        "objects": '{"a":' * depth + "1" + "}" * depth,
    }[kind],
    st.integers(1_100, 6_000),
    st.sampled_from(["arrays", "unclosed", "objects"]),
)
known_ids = st.sampled_from(["acme", "ACME", "Acme", "globex", "GLOBEX", "gLoBeX"])
partner_values = weighted(
    (4, known_ids),
    (3, st.sampled_from(HOSTILE_IDS)),
    (1, st.text(max_size=70)),
    (1, st.from_regex(r"[A-Za-z0-9_]{1,70}", fullmatch=True)),
    (1, json_junk),
    (1, huge_text),
)
#: Idempotency keys reused across examples, so creates repeat, conflict and get refunded.
KEYS = [f"fuzz-{n}" for n in range(6)]
PAYMENT_IDS = ["pay_" + hashlib.sha256(key.encode()).hexdigest()[:24] for key in KEYS]
CUSTOMERS = ["cust-1", "cust-2"]
ids = weighted(
    (2, st.from_regex(r"[A-Za-z0-9_.:-]{1,128}", fullmatch=True)),
    (2, st.sampled_from(HOSTILE_IDS)),
    (1, st.text(max_size=140)),
    (1, json_junk),
    (1, huge_text),
)
amounts = st.one_of(
    st.integers(-10, 10**13), st.floats(), st.sampled_from(["1000", "12.50", True]), json_junk
)
currencies = st.one_of(st.sampled_from(["EUR", "USD", "eur", "XXX", "", "EUR\x00"]), json_junk)
limits = st.one_of(st.integers(-5, 200), json_junk)


def _encode_cursor(customer: str, key: object) -> str:
    """A cursor in the function's own format (validate.encode_cursor), around a forged key."""
    raw = json.dumps({"c": customer, "k": key}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


forged_keys = st.one_of(
    json_junk,
    st.dictionaries(
        st.sampled_from(["id", "customer_id", "created_at", "x"]),
        st.one_of(st.fixed_dictionaries({"S": st.text(max_size=10)}), json_junk),
        max_size=3,
    ),
)
#: Cursors that decode to nested arrays, within the 2,048 characters the function accepts.
nested_cursors = st.integers(1_100, 1_536).map(
    lambda depth: base64.urlsafe_b64encode(b"[" * depth).decode().rstrip("=")
)
cursors = weighted(
    (1, st.text(max_size=40)),
    (1, huge_text),
    (1, nested_cursors),
    (2, st.builds(_encode_cursor, st.sampled_from(CUSTOMERS), forged_keys)),
)
#: Hostile replacements for the fields of any action's data.
corrupt_fields = st.fixed_dictionaries(
    {},
    optional={
        "customerId": ids,
        "amount": amounts,
        "currency": currencies,
        "idempotencyKey": ids,
        "id": ids,
        "limit": limits,
        "cursor": cursors,
    },
)
data_values = weighted((2, corrupt_fields), (1, json_junk), (1, huge_text))
actions = weighted(
    (3, st.sampled_from(ACTIONS)),
    (2, st.sampled_from(ODD_ACTIONS)),
    (1, st.text(max_size=30)),
    (1, json_junk),
    (1, huge_text),
)


@st.composite
def list_data(draw: st.DrawFn) -> dict[str, Any]:
    """listPayments data, often with a forged cursor that names the right customer."""
    customer = draw(st.sampled_from(CUSTOMERS))
    data: dict[str, Any] = {"customerId": customer}
    if draw(st.booleans()):
        data["limit"] = draw(st.integers(1, 100))
    cursor_for = draw(st.sampled_from([customer, customer, customer, "cust-other", None]))
    if cursor_for is not None:
        data["cursor"] = _encode_cursor(cursor_for, draw(forged_keys))
    elif draw(st.booleans()):
        data["cursor"] = draw(nested_cursors)
    return data


#: Data meant for each action (well-formed, over a few customers, keys and payments).
DATA_FOR: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "createPayment": st.fixed_dictionaries(
        {
            "customerId": st.sampled_from(CUSTOMERS),
            "amount": st.integers(1, 5000),
            "currency": st.sampled_from(["EUR", "USD"]),
            "idempotencyKey": st.sampled_from(KEYS),
        }
    ),
    "getPayment": st.fixed_dictionaries({"id": st.sampled_from(PAYMENT_IDS) | ids}),
    "listPayments": list_data(),
    "refundPayment": st.fixed_dictionaries(
        {
            "id": st.sampled_from(PAYMENT_IDS),
            "amount": st.integers(1, 500),
            "idempotencyKey": st.sampled_from(["r-1", "r-2", "r-3"]),
        }
    ),
}


@st.composite
def operations(draw: st.DrawFn) -> tuple[object, object]:
    """(action, data): mostly an action with data meant for it, sometimes with hostile fields
    mixed in; otherwise any action with any data."""
    if draw(st.integers(0, 9)) < 7:
        action = draw(st.sampled_from(ACTIONS))
        data: object = draw(DATA_FOR[action])
        if draw(st.integers(0, 3)) == 0:
            data = {**draw(DATA_FOR[action]), **draw(corrupt_fields)}
        return action, data
    return draw(actions), draw(data_values)


@st.composite
def bodies(draw: st.DrawFn, payload: object) -> dict[str, Any]:
    """An API Gateway body carrying `payload` (and its isBase64Encoded flag), or garbage."""
    how = draw(
        st.sampled_from(
            ["json", "json", "json", "json", "base64", "bad-base64", "text", "junk", "none", "huge",
             "nested"]
        )
    )
    if how == "json":
        flag = draw(st.sampled_from([False, None, "false"]))
        return {"body": json.dumps(payload), "isBase64Encoded": flag}
    if how == "base64":
        encoded = base64.b64encode(json.dumps(payload).encode()).decode()
        return {"body": encoded, "isBase64Encoded": True}
    if how == "bad-base64":
        return {"body": draw(st.text(max_size=30)), "isBase64Encoded": True}
    if how == "text":
        return {"body": draw(st.text(max_size=60)), "isBase64Encoded": draw(json_junk)}
    if how == "junk":
        return {"body": draw(json_junk)}
    if how == "huge":
        return {"body": draw(huge_text)}
    if how == "nested":
        text = draw(nested_json)
        if draw(st.booleans()):
            return {"body": base64.b64encode(text.encode()).decode(), "isBase64Encoded": True}
        return {"body": text}
    return {}


partner_header_names = st.sampled_from(HEADER_NAMES)
headers = weighted(
    (6, st.dictionaries(partner_header_names, partner_values, min_size=1, max_size=3)),
    (2, st.dictionaries(st.text(max_size=15), st.text(max_size=15), max_size=3)),
    (1, st.none()),
    (1, json_junk),
)
multi_headers = weighted(
    (4, st.none()),
    (3, st.dictionaries(partner_header_names, st.lists(partner_values, max_size=3), max_size=2)),
    (1, st.dictionaries(partner_header_names, json_junk, max_size=2)),
    (1, json_junk),
)


@st.composite
def api_request(draw: st.DrawFn) -> dict[str, Any]:
    """pathParameters and body of an API Gateway event: the action in the path with the data
    as body, or an {action, data} envelope as body; partner id in the path or not."""
    action, data = draw(operations())
    path: dict[str, Any] = {}
    if draw(st.integers(0, 2)) == 0:
        path["partnerId"] = draw(partner_values)
    if draw(st.booleans()):
        path["action"] = action
        payload: object = data
    else:
        payload = {"action": action, "data": data}
        if draw(st.integers(0, 4)) == 0:
            anything = {"action": actions, "data": data_values}
            payload = draw(st.fixed_dictionaries({}, optional=anything))
    parts: dict[str, Any] = {"pathParameters": path or None}
    if draw(st.integers(0, 9)) == 0:
        parts["pathParameters"] = draw(json_junk)
    parts.update(draw(bodies(payload)))
    return parts


@st.composite
def direct_events(draw: st.DrawFn) -> object:
    """Direct invokes, well-formed or not, and events that are not objects at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.one_of(json_junk, huge_text))
    action, data = draw(operations())
    event: dict[str, Any] = {"partnerId": draw(partner_values), "action": action, "data": data}
    for name in draw(st.sets(st.sampled_from(["partnerId", "action", "data"]), max_size=1)):
        del event[name]
    extra = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "requestContext": json_junk,
                "httpMethod": json_junk,
                "version": st.sampled_from(["2.0", "1.0"]) | json_junk,
                "headers": headers,
            },
        )
    )
    event.update(extra)
    return event


_V1_CONTEXT = st.fixed_dictionaries({"httpMethod": st.just("POST")}, optional={"x": json_junk})
_V2_CONTEXT = st.fixed_dictionaries(
    {"http": st.fixed_dictionaries({"method": st.sampled_from(["GET", "POST"])})},
    optional={"x": json_junk},
)


@st.composite
def v1_events(draw: st.DrawFn) -> object:
    """API Gateway REST (payload 1.0) events."""
    event: dict[str, Any] = {
        "resource": draw(st.sampled_from(["/payments", "/p/{partnerId}/{action}"]) | json_junk),
        "path": draw(st.text(max_size=30)),
        "httpMethod": draw(weighted((9, st.sampled_from(["GET", "POST"])), (1, json_junk))),
        "requestContext": draw(weighted((9, _V1_CONTEXT), (1, json_junk))),
        "headers": draw(headers),
        "multiValueHeaders": draw(multi_headers),
    }
    for name in draw(st.sets(st.sampled_from(["headers", "multiValueHeaders"]), max_size=1)):
        del event[name]
    event.update(draw(api_request()))
    return event


@st.composite
def v2_events(draw: st.DrawFn) -> object:
    """HTTP API / function URL (payload 2.0) events."""
    event: dict[str, Any] = {
        "version": draw(weighted((9, st.just("2.0")), (1, st.sampled_from(["1.0", "2", 2.0])))),
        "routeKey": draw(st.sampled_from(["POST /payments", "$default"]) | json_junk),
        "rawPath": draw(st.text(max_size=30)),
        "requestContext": draw(weighted((9, _V2_CONTEXT), (1, json_junk))),
        "headers": draw(headers),
    }
    if draw(st.booleans()):
        event["cookies"] = draw(json_junk)
    event.update(draw(api_request()))
    return event


# -- the oracle: the SDK's documented rules, restated independently -------------------------


#: top-level keys of other AWS sources' events (README, Event sources): raised, not answered
_OTHER_SOURCE_KEYS = ("awslogs", "deliveryStreamArn", "invocationSchemaVersion", "triggerSource",
                      "ResponseURL")


def expected_shape(event: object) -> str:
    """Payload 2.0 if version is "2.0" and requestContext has http; 1.0 if it has httpMethod
    with a requestContext object; an array, or an object without partnerId that carries
    another source's markers, is unsupported; anything else is a direct invoke."""
    if isinstance(event, list):
        return "unsupported"
    if isinstance(event, dict) and "partnerId" not in event and (
        (isinstance(event.get("eventSource"), str) and event["eventSource"].startswith("aws:"))
        or any(key in event for key in _OTHER_SOURCE_KEYS)
    ):
        return "unsupported"
    if isinstance(event, dict) and isinstance(event.get("requestContext"), dict):
        if event.get("version") == "2.0" and "http" in event["requestContext"]:
            return "v2"
        if "httpMethod" in event:
            return "v1"
    return "direct"


def _known(value: object) -> str | None:
    if isinstance(value, str) and _PARTNER_ID_SPEC.fullmatch(value) and value.lower() in KNOWN:
        return value.lower()
    return None


def configured_partner(event: object, shape: str) -> str | None:
    """The configured partner every partner id in the event names, or None when any is
    missing, malformed, unknown or in disagreement (then no request may be made)."""
    if not isinstance(event, dict):
        return None
    if shape == "direct":
        return _known(event.get("partnerId"))
    claims: list[object] = []
    for name in ("headers", "multiValueHeaders", "pathParameters"):
        if event.get(name) is not None and not isinstance(event.get(name), dict):
            return None
    for name, value in (event.get("headers") or {}).items():
        if isinstance(name, str) and name.lower() == "x-partner-id":
            claims.append(value)
    for name, values in (event.get("multiValueHeaders") or {}).items():
        if isinstance(name, str) and name.lower() == "x-partner-id":
            if not isinstance(values, list):
                return None
            claims.extend(values)
    path = (event.get("pathParameters") or {}).get("partnerId")
    if path is not None:
        claims.append(path)
    known = {_known(claim) for claim in claims}
    if len(known) != 1 or None in known:
        return None
    return known.pop()


_SECRETS_OF_CONFIG = [
    value
    for partner in (ACME, GLOBEX)
    for value in (partner.role_arn, partner.account_id, partner.external_id)
]


def check_response(response: object, shape: str, request_id: str) -> tuple[int, str | None]:
    """The documented format for `shape`; returns (status, error text)."""
    json.dumps(response, allow_nan=False)  # the runtime's encoder can always send it
    assert isinstance(response, dict)
    if shape == "direct":
        status = response["status"]
        if response["success"] is True:
            assert set(response) == {"success", "status", "data"} and status == 200
            return status, None
        assert response["success"] is False
        assert set(response) == {"success", "status", "error", "requestId"}
        assert response["requestId"] == request_id
        return status, response["error"]
    assert set(response) == {"statusCode", "headers", "body"}
    assert response["headers"] == {"Content-Type": "application/json"}
    body = json.loads(response["body"])
    status = response["statusCode"]
    if status == 200:
        assert set(body) == {"data"}
        return status, None
    assert set(body) == {"error", "requestId"} and body["requestId"] == request_id
    return status, body["error"]


def _strings(value: object, depth: int = 0) -> Iterator[str]:
    """Every string inside a JSON value (bounded depth)."""
    if depth > 20:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, depth + 1)


def _decoded_body(event: dict[str, Any]) -> object:
    body = event.get("body")
    if not isinstance(body, str):
        return None
    try:
        if event.get("isBase64Encoded") is True:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def run_property(rig: PaymentsRig, events: st.SearchStrategy[object], shape_name: str) -> None:
    """Drive `events` through the rig's handler and check every response."""
    seen: dict[str, int] = {}

    @_SETTINGS
    @given(event=events)
    def check(event: object) -> None:
        shape = expected_shape(event)
        partner = configured_partner(event, shape)
        sts, dynamodb = rig.sts_calls.count(), rig.dynamodb_calls.count()
        context = FakeContext(remaining_ms=30_000)
        if shape == "unsupported":
            with pytest.raises(UnsupportedEvent):
                rig.handler(event, context)
            assert (rig.sts_calls.count(), rig.dynamodb_calls.count()) == (sts, dynamodb)
            seen["unsupported:raised"] = seen.get("unsupported:raised", 0) + 1
            return
        response = rig.handler(event, context)
        rig.collector.add_body(rig.where, response)
        status, error = check_response(response, shape, context.aws_request_id)
        if error is not None:
            assert len(error) <= 300, "an error echoes too much of the request"
            assert "Traceback" not in error
            assert not any(secret in error for secret in _SECRETS_OF_CONFIG), error
        if partner is None:
            assert status in (400, 403), (status, error)
            assert (rig.sts_calls.count(), rig.dynamodb_calls.count()) == (sts, dynamodb), (
                "a request went out for an invalid or unknown partner"
            )
            key = f"{shape}:refused:{status}"
        else:
            assert status in (200, 400, 404, 409), (status, error)
            key = f"{shape}:known:{status}"
        assert status in DOCUMENTED_STATUSES, (status, error)
        seen[key] = seen.get(key, 0) + 1

    check()
    total = sum(seen.values())
    assert total >= EXAMPLES, seen
    assert rig.partners.stats.sts_calls <= 2  # at most one AssumeRole per configured partner
    rig.collector.add_text(f"{rig.where} [outcomes]", json.dumps(seen, sort_keys=True))
    print(f"{shape_name}: {json.dumps(seen, sort_keys=True)}")


@pytest.fixture(autouse=True)
def _hypothesis_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Hypothesis's caches go to a temporary directory, not .hypothesis/ in the repository
    (the example database is off already); the previous setting is restored after."""
    before = vars(configuration)["__hypothesis_home_directory"]
    configuration.set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    configuration.set_hypothesis_home_dir(before)


def _rig(make_rig: RigFactory) -> PaymentsRig:
    """ACME and GLOBEX (table prefix gx_); one attempt per request, since retries are not
    what this tests and a 500 from moto would otherwise be retried with backoff."""
    return make_rig([ACME, GLOBEX], max_attempts=1)


def test_direct_and_junk_events(make_rig: RigFactory) -> None:
    """700 direct invokes and non-object events."""
    run_property(_rig(make_rig), direct_events(), "direct")


def test_api_gateway_v1_events(make_rig: RigFactory) -> None:
    """700 API Gateway REST (payload 1.0) events."""
    run_property(_rig(make_rig), v1_events(), "v1")


def test_api_gateway_v2_events(make_rig: RigFactory) -> None:
    """700 HTTP API (payload 2.0) events."""
    run_property(_rig(make_rig), v2_events(), "v2")
