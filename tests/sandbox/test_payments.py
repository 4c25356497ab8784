"""Payments and Stars in the sandbox: no invoices, no gifts, Stars only where a test grants them."""

from __future__ import annotations

from telethon import functions, types

from mcpgram.sandbox import SandboxServer
from mcpgram.sandbox.accountdata import account_data

from .conftest import ClientFactory
from .rpcerrors import error_of
from .test_channels import create


async def test_an_invoice_the_sandbox_never_issued(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """getPaymentForm: a missing message and a message that is no invoice are MESSAGE_ID_INVALID, a
    slug SLUG_INVALID, a Stars top-up INVOICE_INVALID; sendPaymentForm / sendStarsForm: FORM_EXPIRED
    (FORM_ID_EMPTY for 0); getSavedInfo has nothing, clearSavedInfo succeeds."""
    client = await make_client(phone="9996683001", first_name="Nia")
    note = await client.send_message("me", "not an invoice")
    form = functions.payments.GetPaymentFormRequest
    by_message = types.InputInvoiceMessage(types.InputPeerSelf(), note.id)
    assert await error_of(client(form(by_message))) == "MESSAGE_ID_INVALID"
    absent = types.InputInvoiceMessage(types.InputPeerSelf(), note.id + 100)
    assert await error_of(client(form(absent))) == "MESSAGE_ID_INVALID"
    assert await error_of(client(form(types.InputInvoiceSlug("abc")))) == "SLUG_INVALID"
    topup = types.InputInvoiceStars(types.InputStorePaymentStarsTopup(stars=50, currency="EUR", amount=99))
    assert await error_of(client(form(topup))) == "INVOICE_INVALID"
    pay = functions.payments.SendPaymentFormRequest(
        form_id=42, invoice=by_message, credentials=types.InputPaymentCredentialsSaved("id", b"tmp")
    )
    assert await error_of(client(pay)) == "FORM_EXPIRED"
    stars = functions.payments.SendStarsFormRequest(form_id=0, invoice=by_message)
    assert await error_of(client(stars)) == "FORM_ID_EMPTY"
    saved = await client(functions.payments.GetSavedInfoRequest())
    assert not saved.has_saved_credentials and saved.saved_info is None
    assert await client(functions.payments.ClearSavedInfoRequest(credentials=True, info=True))


async def test_stars_balance_and_a_paid_reaction(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """getStarsStatus: the account's balance (0 unless granted), its channel's, never another user's;
    sendPaidReaction: BALANCE_TOO_LOW, then, with Stars granted, spends them."""
    owner = await make_client(phone="9996683002", first_name="Oli")
    other = await make_client(phone="9996683003", first_name="Pam")
    me = (await owner.get_me()).id
    status = functions.payments.GetStarsStatusRequest
    assert (await owner(status(types.InputPeerSelf()))).balance.amount == 0
    other_me = await other.get_me()
    stranger = types.InputPeerUser(other_me.id, sandbox.world.access_hash(me, "user", other_me.id))
    assert await error_of(owner(status(stranger))) == "PEER_ID_INVALID"
    channel = await create(owner, "Paid", broadcast=True)
    history = await owner(functions.payments.GetStarsTransactionsRequest(channel, offset="", limit=10))
    assert history.balance.amount == 0 and history.history == []
    post = await owner.send_message(channel, "react with Stars")
    react = functions.messages.SendPaidReactionRequest(peer=channel, msg_id=post.id, count=3, random_id=1)
    assert await error_of(owner(react)) == "BALANCE_TOO_LOW"
    account_data(sandbox.world, me).stars = 5
    await owner(react)
    assert (await owner(status(types.InputPeerSelf()))).balance.amount == 2


async def test_other_payments_methods_answer_an_error_not_an_unknown_method(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """A payments method without its own behaviour reaches the catch-all handler (counted like any
    handled RPC) and answers PAYMENT_UNSUPPORTED, unlike a method the sandbox does not know."""
    client = await make_client(phone="9996683004", first_name="Quin")
    sandbox.rpc_counts.clear()
    gifts = client(functions.payments.GetStarGiftsRequest(hash=0))
    assert await error_of(gifts) == "PAYMENT_UNSUPPORTED"
    assert sandbox.rpc_counts["payments.getStarGifts"] == 1
    unknown = client(functions.langpack.GetLanguagesRequest(lang_pack="tdesktop"))
    assert await error_of(unknown) == "INPUT_METHOD_INVALID"
    assert sandbox.rpc_counts["langpack.getLanguages"] == 0
