"""The payments function: create, get, list and refund payments in each partner's own account.

Direct invoke: {"partnerId": "acme", "action": "createPayment", "data": {...}}.
Money is integer minor units. Every write that must not happen twice is conditional, and a
refund is one DynamoDB transaction, so a retry, a race or a deadline never leaves half a write.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import QueryError, TransactWriteError

from handler_sdk import ActionRouter, BadRequest, Conflict, NotFound, with_partner_db

from . import validate
from .models import MODELS, Customer, Payment, Transaction

router = ActionRouter("payments")
REFUNDABLE = ("captured", "partially_refunded")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _payment_id(idempotency_key: str) -> str:
    # One key, one payment id: the conditional put then makes retries and races idempotent.
    return "pay_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]


def _view(payment: Payment) -> dict[str, Any]:
    return {
        "id": payment.id,
        "customerId": payment.customer_id,
        "amount": int(payment.amount),
        "currency": payment.currency,
        "status": payment.status,
        "refunded": int(payment.refunded),
        "createdAt": payment.created_at,
    }


def _cancel_codes(err: TransactWriteError) -> set[str]:
    """Why DynamoDB cancelled a transaction: ConditionalCheckFailed, TransactionConflict, ..."""
    reasons = getattr(err, "cancellation_reasons", None) or []
    return {r.code for r in reasons if r is not None and r.code}


def _transact(db: Any, build: Any, attempts: int = 3) -> None:
    """Run one transaction; a conflict with a concurrent one is retried, briefly.

    No ClientRequestToken is passed: botocore generates one per call and reuses it across its
    own retries, which is the idempotency a token gives. A token derived from our keys would
    make a repeated call with new timestamps fail with IdempotentParameterMismatch.
    """
    for attempt in range(1, attempts + 1):
        try:
            with db.transact_write() as tx:
                build(tx)
            return
        except TransactWriteError as err:
            codes = _cancel_codes(err)
            if "TransactionConflict" not in codes or "ConditionalCheckFailed" in codes:
                raise
            if attempt == attempts or db.remaining_ms() < 200:
                raise Conflict("a concurrent request is changing this payment; retry") from None
            time.sleep(0.02 * attempt)


@router.action("createPayment")
def create_payment(data: dict[str, Any], db: Any, context: Any) -> dict[str, Any]:
    """Capture a payment once per idempotency key; a repeat returns the first payment."""
    customer_id = validate.identifier(data, "customerId")
    amount = validate.amount(data)
    currency = validate.currency(data)
    key = validate.identifier(data, "idempotencyKey")
    request_hash = hashlib.sha256(
        json.dumps([customer_id, amount, currency]).encode()
    ).hexdigest()
    payments, transactions, customers = (db.model(m) for m in (Payment, Transaction, Customer))
    payment_id = _payment_id(key)
    now = _now()
    payment = payments(
        id=payment_id,
        customer_id=customer_id,
        amount=amount,
        currency=currency,
        status="captured",
        refunded=0,
        created_at=now,
        idempotency_key=key,
        request_hash=request_hash,
    )
    charge = transactions(
        payment_id=payment_id, id="charge", kind="charge", amount=amount, currency=currency,
        created_at=now,
    )
    customer = customers(id=customer_id)

    def build(tx: Any) -> None:
        tx.save(payment, condition=payments.id.does_not_exist())
        tx.save(charge, condition=transactions.id.does_not_exist())
        tx.update(
            customer,
            actions=[
                customers.created_at.set(customers.created_at | now),
                customers.payments.add(1),
                customers.last_payment_at.set(now),
            ],
        )

    try:
        _transact(db, build)
    except TransactWriteError as err:
        if "ConditionalCheckFailed" not in _cancel_codes(err):
            raise
        # This key was used before (or by a racing call that won): answer with that payment.
        existing = payments.get(payment_id, consistent_read=True)
        if existing.request_hash != request_hash:
            raise Conflict("idempotencyKey was already used for a different payment") from None
        return {"payment": _view(existing), "created": False}
    return {"payment": _view(payment), "created": True}


@router.action("getPayment")
def get_payment(data: dict[str, Any], db: Any, context: Any) -> dict[str, Any]:
    payment_id = validate.identifier(data, "id")
    try:
        return {"payment": _view(db.model(Payment).get(payment_id))}
    except Payment.DoesNotExist:
        raise NotFound(f"payment {payment_id} not found") from None


@router.action("listPayments")
def list_payments(data: dict[str, Any], db: Any, context: Any) -> dict[str, Any]:
    """A customer's payments, newest first, a page at a time (`cursor` from the last page)."""
    customer_id = validate.identifier(data, "customerId")
    limit = validate.limit(data)
    start = validate.decode_cursor(data, customer_id)
    payments = db.model(Payment)
    try:
        pages = payments.by_customer.query(
            customer_id, limit=limit, scan_index_forward=False, last_evaluated_key=start
        )
        items = [_view(p) for p in pages]
    except QueryError as err:
        if start is not None and err.cause_response_code == "ValidationException":
            raise BadRequest("cursor is not valid") from None
        raise
    last = pages.last_evaluated_key
    return {
        "payments": items,
        "cursor": validate.encode_cursor(last, customer_id) if last else None,
    }


@router.action("refundPayment")
def refund_payment(data: dict[str, Any], db: Any, context: Any) -> dict[str, Any]:
    """Refund part or all of a captured payment: one transaction or nothing at all."""
    payment_id = validate.identifier(data, "id")
    amount = validate.amount(data)
    refund_key = validate.identifier(data, "idempotencyKey")
    payments, transactions = db.model(Payment), db.model(Transaction)
    refund_id = "refund_" + hashlib.sha256(refund_key.encode()).hexdigest()[:24]
    with db.transact_get() as reads:
        payment_read = reads.get(payments, payment_id)
        refund_read = reads.get(transactions, payment_id, refund_id)
    try:
        payment = payment_read.get()
    except Payment.DoesNotExist:
        raise NotFound(f"payment {payment_id} not found") from None
    try:
        done = refund_read.get()
    except Transaction.DoesNotExist:
        done = None
    if done is not None:  # this idempotency key already refunded: same answer, no new write
        if int(done.amount) != amount:
            raise Conflict("idempotencyKey was already used for a different refund")
        return {"payment": _view(payment), "refundId": refund_id, "created": False}
    already = int(payment.refunded)
    if payment.status not in REFUNDABLE:
        raise Conflict(f"payment {payment_id} is {payment.status} and cannot be refunded")
    if already + amount > int(payment.amount):
        raise Conflict(
            f"refund of {amount} exceeds the {int(payment.amount) - already} still refundable"
        )
    total = already + amount
    status = "refunded" if total == int(payment.amount) else "partially_refunded"
    refund = transactions(
        payment_id=payment_id, id=refund_id, kind="refund", amount=amount,
        currency=payment.currency, created_at=_now(),
    )

    def build(tx: Any) -> None:
        tx.update(
            payment,
            actions=[payments.refunded.set(total), payments.status.set(status)],
            # the payment must still be as we read it: no concurrent refund in between
            condition=(payments.refunded == already) & payments.status.is_in(*REFUNDABLE),
        )
        tx.save(refund, condition=transactions.id.does_not_exist())

    try:
        _transact(db, build)
    except TransactWriteError as err:
        if "ConditionalCheckFailed" not in _cancel_codes(err):
            raise
        # A racing call with this same key may have made the refund: answer as a retry would.
        try:
            done = transactions.get(payment_id, refund_id, consistent_read=True)
        except Transaction.DoesNotExist:
            raise Conflict(
                "the payment changed while refunding; read it again before retrying"
            ) from None
        if int(done.amount) != amount:
            raise Conflict("idempotencyKey was already used for a different refund") from None
        current = payments.get(payment_id, consistent_read=True)
        return {"payment": _view(current), "refundId": refund_id, "created": False}
    payment.refunded, payment.status = total, status
    return {"payment": _view(payment), "refundId": refund_id, "created": True}


handler = with_partner_db(models=list(MODELS))(router)
