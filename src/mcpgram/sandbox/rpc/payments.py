"""Payments and Stars (``payments.*``, ``messages.sendPaidReaction``): an account with no invoices,
no saved card, no gifts and, unless a test sets ``AccountData.stars``, no Stars.

Implemented as Telegram answers such an account:

- ``payments.getPaymentForm``: an invoice message must exist (``MESSAGE_ID_INVALID``) and be an
  invoice, which no sandbox message is (``MESSAGE_ID_INVALID`` too); an invoice slug is
  ``SLUG_INVALID``; any other invoice kind (Stars, Premium, gifts) is ``INVOICE_INVALID``.
- ``payments.sendPaymentForm`` / ``sendStarsForm``: no form was ever issued, so every form id is
  ``FORM_EXPIRED`` (0: ``FORM_ID_EMPTY``).
- ``payments.getStarsStatus`` / ``getStarsTransactions``: the balance, no history; for the account
  itself or a channel it administers (``CHAT_ADMIN_REQUIRED`` for another channel,
  ``PEER_ID_INVALID`` for another user).
- ``payments.getSavedInfo`` (nothing saved), ``payments.clearSavedInfo``.
- ``messages.sendPaidReaction``: ``BALANCE_TOO_LOW`` unless the balance covers ``count``, which is
  then spent.

Every other ``payments.*`` method of the layer reaches :func:`unavailable`, which answers
``400 PAYMENT_UNSUPPORTED``: the sandbox's own name (no Stars economy, gift catalogue or store),
distinct from ``INPUT_METHOD_INVALID`` for a method the sandbox does not know.
"""

from __future__ import annotations

from typing import Any

from telethon.tl import functions, types

from ..accountdata import account_data
from ..render import entities_for, resolve_input_peer
from ..router import Ctx, Router, RpcError
from ..threads import is_admin
from ..world import PeerKey
from .actions import find_message

router = Router()

UNSUPPORTED = "PAYMENT_UNSUPPORTED"
MAX_PAID_REACTION = 2500


@router.method(functions.payments.GetPaymentFormRequest)
def get_payment_form(ctx: Ctx, req: Any) -> Any:
    invoice = req.invoice
    if isinstance(invoice, types.InputInvoiceMessage):
        peer = resolve_input_peer(ctx.world, ctx.user_id, invoice.peer)
        find_message(ctx.world, ctx.user_id, peer, invoice.msg_id)  # MESSAGE_ID_INVALID if absent
        raise RpcError(400, "MESSAGE_ID_INVALID")  # it exists, but no sandbox message is an invoice
    if isinstance(invoice, types.InputInvoiceSlug):
        raise RpcError(400, "SLUG_INVALID")
    raise RpcError(400, "INVOICE_INVALID")


@router.method(functions.payments.SendPaymentFormRequest, functions.payments.SendStarsFormRequest)
def send_payment_form(ctx: Ctx, req: Any) -> Any:
    _ = ctx.user_id
    raise RpcError(400, "FORM_ID_EMPTY" if not req.form_id else "FORM_EXPIRED")


def _stars_owner(ctx: Ctx, input_peer: Any) -> PeerKey:
    peer = resolve_input_peer(ctx.world, ctx.user_id, input_peer)
    if peer.kind == "user" and peer.id != ctx.user_id:
        raise RpcError(400, "PEER_ID_INVALID")
    if peer.kind == "chat":
        raise RpcError(400, "PEER_ID_INVALID")
    if peer.kind == "channel" and not is_admin(ctx.world.channels[peer.id], ctx.user_id):
        raise RpcError(400, "CHAT_ADMIN_REQUIRED")
    return peer


def _status(ctx: Ctx, peer: PeerKey, *, history: bool) -> Any:
    balance = account_data(ctx.world, ctx.user_id).stars if peer.kind == "user" else 0
    users, chats = entities_for(ctx.world, ctx.user_id, [peer])
    return types.payments.StarsStatus(
        balance=types.StarsAmount(amount=balance, nanos=0),
        chats=chats,
        users=users,
        history=[] if history else None,
    )


@router.method(functions.payments.GetStarsStatusRequest)
def get_stars_status(ctx: Ctx, req: Any) -> Any:
    return _status(ctx, _stars_owner(ctx, req.peer), history=False)


@router.method(functions.payments.GetStarsTransactionsRequest)
def get_stars_transactions(ctx: Ctx, req: Any) -> Any:
    return _status(ctx, _stars_owner(ctx, req.peer), history=True)


@router.method(functions.payments.GetSavedInfoRequest)
def get_saved_info(ctx: Ctx, _req: Any) -> Any:
    _ = ctx.user_id
    return types.payments.SavedInfo()


@router.method(functions.payments.ClearSavedInfoRequest)
def clear_saved_info(ctx: Ctx, _req: Any) -> bool:
    _ = ctx.user_id
    return True


@router.method(functions.messages.SendPaidReactionRequest)
def send_paid_reaction(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    peer = resolve_input_peer(world, viewer, req.peer)
    if peer.kind != "channel":
        raise RpcError(400, "PEER_ID_INVALID")  # paid reactions exist in channels only
    find_message(world, viewer, peer, req.msg_id)
    if not 1 <= req.count <= MAX_PAID_REACTION:
        raise RpcError(400, "REACTION_INVALID")
    data = account_data(world, viewer)
    if data.stars < req.count:
        raise RpcError(400, "BALANCE_TOO_LOW")
    data.stars -= req.count
    return types.Updates(updates=[], users=[], chats=[], date=world.now(), seq=0)


def unavailable(ctx: Ctx, _req: Any) -> Any:
    """Every ``payments.*`` method without a handler above: no Stars economy, store or gifts here."""
    _ = ctx.user_id
    raise RpcError(400, UNSUPPORTED)


def _every_payments_request() -> list[type]:
    found = []
    for name in dir(functions.payments):
        request = getattr(functions.payments, name)
        if name.endswith("Request") and isinstance(request, type):
            found.append(request)
    return found


router.method(
    *(r for r in _every_payments_request() if r.CONSTRUCTOR_ID not in router.routes)  # type: ignore[attr-defined]
)(unavailable)
