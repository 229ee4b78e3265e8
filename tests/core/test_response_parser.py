"""DynamoDB responses parse to exactly what botocore's own parser makes of them.

The first tests parse canned response bodies with both parsers (no network); the last one
compares, for every response a partner client got from moto on 127.0.0.1 (DynamoDB Local
under `make test-ddblocal`), what the client returned with what botocore's parser makes of
the same bytes.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Iterator
from typing import Any

import botocore.parsers
import botocore.session
import pytest

from partnerdb import Partners
from partnerdb.private_access import model_connection
from partnerdb.response_parser import parser_factory
from tests.core.models import Ledger, Order

SERVICE = botocore.session.get_session().get_service_model("dynamodb")


def response(body: Any, status: int = 200) -> dict[str, Any]:
    return {
        "body": json.dumps(body).encode(),
        "headers": {"x-amzn-RequestId": "r-1", "Content-Type": "application/x-amz-json-1.0"},
        "status_code": status,
        "context": {"operation_name": "GetItem"},
    }


def both(operation: str, body: Any, status: int = 200) -> tuple[Any, Any]:
    """(botocore's parse, ours) of one response body."""
    shape = SERVICE.operation_model(operation).output_shape
    theirs = botocore.parsers.create_parser("json").parse(response(body, status), shape)
    ours = parser_factory().create_parser("json").parse(response(body, status), shape)
    return theirs, ours


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


EVERY_TYPE = {
    "id": {"S": "o-1"}, "n": {"N": "12.50"}, "flag": {"BOOL": False}, "none": {"NULL": True},
    "tags": {"SS": ["a", "b"]}, "nums": {"NS": ["1", "2"]}, "empty_s": {"S": ""},
    "map": {"M": {"a": {"S": "x"}, "deep": {"L": [{"N": "1"}, {"M": {}}, {"L": []}]}}},
    "list": {"L": [{"S": "y"}, {"BOOL": True}, {"SS": ["z"]}]},
}
BINARY = {"blob": {"B": b64(b"\x00\xffbin")}, "blobs": {"BS": [b64(b"a"), b64(b"\x01")]}}
NESTED_BINARY = {"map": {"M": {"inner": {"L": [{"B": b64(b"\x02")}]}}}, "id": {"S": "o-2"}}


@pytest.mark.parametrize(
    "operation,body",
    [
        ("GetItem", {"Item": EVERY_TYPE}),
        ("GetItem", {"Item": {**EVERY_TYPE, **BINARY}}),
        ("GetItem", {"Item": NESTED_BINARY}),
        ("GetItem", {}),
        ("GetItem", {"Item": {}, "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 0.5}}),
        ("Query", {"Items": [EVERY_TYPE, BINARY, {}], "Count": 3, "ScannedCount": 3,
                   "LastEvaluatedKey": {"id": {"S": "o-1"}}}),
        ("Scan", {"Items": [], "Count": 0, "ScannedCount": 0}),
        ("PutItem", {"Attributes": BINARY,
                     "ItemCollectionMetrics": {"ItemCollectionKey": {"id": {"S": "k"}},
                                               "SizeEstimateRangeGB": [0.0, 1.0]}}),
        ("BatchGetItem", {"Responses": {"t1": [EVERY_TYPE], "t2": [BINARY]},
                          "UnprocessedKeys": {"t1": {"Keys": [{"id": {"S": "x"}}],
                                                     "ProjectionExpression": "id"}}}),
        ("BatchWriteItem", {"UnprocessedItems": {"t1": [
            {"PutRequest": {"Item": EVERY_TYPE}},
            {"DeleteRequest": {"Key": {"id": {"B": b64(b"k")}}}},
        ]}}),
        ("TransactGetItems", {"Responses": [{"Item": EVERY_TYPE}, {}, {"Item": BINARY}]}),
        ("DescribeTable", {"Table": {"TableName": "t", "CreationDateTime": 1700000000.5,
                                     "ItemCount": 3}}),
    ],
)
def test_same_result_as_botocore(operation: str, body: Any) -> None:
    theirs, ours = both(operation, body)
    assert ours == theirs
    assert repr(ours) == repr(theirs)  # same types too (bytes, floats, datetimes)


@pytest.mark.parametrize("item", [EVERY_TYPE, {**EVERY_TYPE, **BINARY}])
def test_modeled_errors_parse_the_same(item: dict[str, Any]) -> None:
    """A failed condition with ReturnValuesOnConditionCheckFailure=ALL_OLD carries the item
    in the error, which botocore parses along the exception's shape."""
    shape = SERVICE.shape_for("ConditionalCheckFailedException")
    body = response({"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
                     "message": "The conditional request failed", "Item": item}, status=400)
    theirs = botocore.parsers.create_parser("json").parse(body, shape)
    ours = parser_factory().create_parser("json").parse(body, shape)
    assert ours == theirs and repr(ours) == repr(theirs)
    assert ours["Item"]["id"] == {"S": "o-1"}


@pytest.mark.parametrize(
    "odd",
    [
        {"S": "a", "N": "1"},  # two types: botocore keeps both members
        {"X": "unknown type"},  # botocore drops what it does not know
        {"S": None},  # a null member: dropped
        {"L": [None, {"S": "a"}]},  # a null in a list: kept as None
        {"M": {"a": None}},  # a null in a map: kept as None
        {"SS": "not a list"},
        {"M": ["not", "a", "map"]},
        {},
    ],
)
def test_values_botocore_would_change_are_left_to_botocore(odd: Any) -> None:
    try:
        theirs, ours = both("GetItem", {"Item": {"odd": odd, "id": {"S": "1"}}})
    except Exception as error:  # botocore fails on it: so must we, the same way
        with pytest.raises(type(error)):
            both("GetItem", {"Item": {"odd": odd, "id": {"S": "1"}}})
        return
    assert ours == theirs and repr(ours) == repr(theirs)


def random_value(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    kinds = ["S", "N", "BOOL", "NULL", "SS", "NS", "B", "BS"] + (["M", "L"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "M":
        return {"M": {f"k{i}": random_value(rng, depth + 1) for i in range(rng.randrange(4))}}
    if kind == "L":
        return {"L": [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]}
    return {
        "S": lambda: {"S": rng.choice(["", "x", "é€", "a" * 40])},
        "N": lambda: {"N": str(rng.randrange(-1000, 1000) / 7)},
        "BOOL": lambda: {"BOOL": rng.random() < 0.5},
        "NULL": lambda: {"NULL": True},
        "SS": lambda: {"SS": ["a", "b"][: rng.randrange(1, 3)]},
        "NS": lambda: {"NS": ["1", "2.5"]},
        "B": lambda: {"B": b64(bytes([rng.randrange(256)]) * 3)},
        "BS": lambda: {"BS": [b64(b"x"), b64(b"y")]},
    }[kind]()


def random_items(seed: int, count: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for _ in range(count):
        yield {f"a{i}": random_value(rng) for i in range(rng.randrange(1, 8))}


def test_random_items_parse_the_same() -> None:
    items = list(random_items(seed=15, count=300))
    for start in range(0, len(items), 25):
        page = items[start:start + 25]
        theirs, ours = both("Query", {"Items": page, "Count": len(page)})
        assert ours == theirs and repr(ours) == repr(theirs)
        theirs, ours = both("BatchGetItem", {"Responses": {"t": page}})
        assert ours == theirs and repr(ours) == repr(theirs)


def attribute_value_walks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the structures botocore's JSON parsers walk member by member."""
    walked: list[str] = []
    walk = botocore.parsers.BaseJSONParser._handle_structure

    def counting(self: Any, shape: Any, value: Any) -> Any:
        walked.append(shape.name)
        return walk(self, shape, value)

    monkeypatch.setattr(botocore.parsers.BaseJSONParser, "_handle_structure", counting)
    return walked


def test_plain_items_are_not_walked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    walked = attribute_value_walks(monkeypatch)
    shape = SERVICE.operation_model("Query").output_shape
    body = response({"Items": [EVERY_TYPE] * 10, "Count": 10,
                     "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 1.0}})
    botocore.parsers.create_parser("json").parse(body, shape)
    assert walked.count("AttributeValue") == 10 * 17  # botocore: 9 values and 8 nested ones
    walked.clear()
    parser_factory().create_parser("json").parse(body, shape)
    assert walked == ["QueryOutput", "ConsumedCapacity"]
    walked.clear()
    # an item with binary is botocore's to parse; the plain ones beside it are still not
    body = response({"Items": [EVERY_TYPE, BINARY], "Count": 2})
    parser_factory().create_parser("json").parse(body, shape)
    assert walked.count("AttributeValue") == len(BINARY)


def test_parser_defaults_set_on_the_factory_apply_as_on_botocores() -> None:
    """`set_parser_defaults` (a timestamp or blob parser) reaches the JSON parser too."""
    defaults = {"timestamp_parser": lambda value: f"raw:{value}",
                "blob_parser": lambda value: f"blob:{value}".encode()}
    ours, theirs = parser_factory(), botocore.parsers.ResponseParserFactory()
    for factory in (ours, theirs):
        factory.set_parser_defaults(**defaults)
    for operation, body in [
        ("DescribeTable", {"Table": {"TableName": "t", "CreationDateTime": 1700000000.5}}),
        ("GetItem", {"Item": {**EVERY_TYPE, **BINARY}}),
    ]:
        shape = SERVICE.operation_model(operation).output_shape
        parsed = ours.create_parser("json").parse(response(body), shape)
        assert parsed == theirs.create_parser("json").parse(response(body), shape)
    assert parsed["Item"]["blob"]["B"] == ("blob:" + BINARY["blob"]["B"]).encode()


def test_other_protocols_get_botocores_parsers() -> None:
    factory = parser_factory()
    for protocol in ("query", "rest-json", "rest-xml", "ec2"):
        parser = factory.create_parser(protocol)
        assert type(parser) is type(botocore.parsers.create_parser(protocol))


def received(client: Any) -> list[tuple[str, dict[str, Any]]]:
    """(operation, raw response) of every response `client` gets, as botocore saw it."""
    seen: list[tuple[str, dict[str, Any]]] = []
    client.meta.events.register(
        "before-parse.dynamodb",
        lambda operation_model, response_dict, **_: seen.append(
            (operation_model.name, dict(response_dict))
        ),
    )
    return seen


@pytest.mark.ddblocal
def test_partner_client_responses_from_a_server_match_botocore(
    partners: Partners, monkeypatch: pytest.MonkeyPatch
) -> None:
    walked = attribute_value_walks(monkeypatch)
    with partners.db("acme") as db:
        order, ledger = db.model(Order), db.model(Ledger)
        client = model_connection(order).client
        seen = received(client)
        returned: list[Any] = []
        client.meta.events.register(
            "after-call.dynamodb", lambda parsed, **_: returned.append(dict(parsed))
        )
        table = order.Meta.table_name
        blobs = {"blob": {"B": b"\x00\xffbin"}, "blobs": {"BS": [b"a", b"\x01"]}}
        client.put_item(TableName=table, Item={**EVERY_TYPE, **blobs, "id": {"S": "rich"},
                                               "customer": {"S": "c"}, "amount": {"N": "1"}})
        for n in range(5):
            order(f"o-{n}", customer="c", amount=n).save()
            ledger("acct", seq=n, note=f"n{n}").save()
        assert order.get("o-1").customer == "c"
        assert client.get_item(TableName=table, Key={"id": {"S": "rich"}})["Item"]["blob"] == {
            "B": b"\x00\xffbin"}
        assert [e.seq for e in ledger.query("acct", limit=2)] == [0, 1]
        assert len(list(order.scan())) == 6
        assert len(list(order.batch_get([f"o-{n}" for n in range(5)]))) == 5
    assert len(seen) == len(returned) >= 15
    # only the two binary values of the one item holding them, in the GetItem and the Scan
    assert walked.count("AttributeValue") == 4
    for (operation, raw), parsed in zip(seen, returned, strict=True):
        shape = SERVICE.operation_model(operation).output_shape
        theirs = botocore.parsers.create_parser("json").parse(raw, shape)
        parsed["ResponseMetadata"] = {  # botocore's endpoint adds RetryAttempts after parsing
            k: v for k, v in parsed["ResponseMetadata"].items() if k != "RetryAttempts"}
        assert parsed == theirs, operation
