"""Input checks of the payments actions: each returns the clean value or raises BadRequest."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from handler_sdk import BadRequest, parse_json

MAX_AMOUNT = 10**12  # minor units; far above any card payment, well inside DynamoDB numbers
_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_CURSOR_KEYS = {"id", "customer_id", "created_at"}  # table key + by_customer index keys

# ISO 4217 active codes (funds and precious metals left out).
CURRENCIES = frozenset(
    {
        "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
        "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
        "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
        "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ",
        "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD",
        "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR",
        "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
        "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN",
        "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR",
        "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
        "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS",
        "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
    }
)


def identifier(data: dict[str, Any], field: str) -> str:
    """A required id: 1 to 128 letters, digits and _.:- (no spaces, quotes or slashes)."""
    value = data.get(field)
    if value is None:
        raise BadRequest(f"{field} is required")
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise BadRequest(f"{field} must be 1 to 128 letters, digits or _.:-")
    return value


def amount(data: dict[str, Any], field: str = "amount") -> int:
    """A positive whole number of minor units (cents); floats and strings are refused."""
    value = data.get(field)
    if value is None:
        raise BadRequest(f"{field} is required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{field} must be a whole number of minor units (e.g. 1999 for 19.99)")
    if not 0 < value <= MAX_AMOUNT:
        raise BadRequest(f"{field} must be between 1 and {MAX_AMOUNT}")
    return value


def currency(data: dict[str, Any]) -> str:
    value = data.get("currency")
    if value is None:
        raise BadRequest("currency is required")
    if not isinstance(value, str) or value not in CURRENCIES:
        raise BadRequest("currency must be an ISO 4217 code such as USD or EUR")
    return value


def limit(data: dict[str, Any], default: int = 20, most: int = 100) -> int:
    value = data.get("limit", default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise BadRequest(f"limit must be a whole number from 1 to {most}")
    return value


def encode_cursor(last_key: dict[str, Any], customer_id: str) -> str:
    """An opaque cursor: the page's last key, tied to the customer it was issued for."""
    raw = json.dumps({"c": customer_id, "k": last_key}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(data: dict[str, Any], customer_id: str) -> dict[str, Any] | None:
    """The last key a cursor carries, or None without one; a foreign or broken one is a 400."""
    value = data.get("cursor")
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 2048:
        raise BadRequest("cursor is not valid")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise BadRequest("cursor is not valid") from None
    decoded = parse_json(raw, "cursor")
    if not isinstance(decoded, dict) or decoded.get("c") != customer_id:
        raise BadRequest("cursor is not valid for this customer")
    key = decoded.get("k")
    # Only the key shape this function issues: the index's keys, each a non-empty string.
    if not isinstance(key, dict) or set(key) != _CURSOR_KEYS:
        raise BadRequest("cursor is not valid")
    for value in key.values():
        if not (isinstance(value, dict) and list(value) == ["S"] and isinstance(value["S"], str)
                and value["S"]):
            raise BadRequest("cursor is not valid")
    if key["customer_id"]["S"] != customer_id:
        raise BadRequest("cursor is not valid for this customer")
    return key
