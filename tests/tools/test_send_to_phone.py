"""send_to_phone: every branch of the temporary-contact flow, with the sandbox's address book as the truth."""

from __future__ import annotations

import pytest
from fastmcp.exceptions import ToolError
from telethon.tl import functions

from .conftest import Demo


def _contacts(served: Demo) -> dict[int, tuple[str, str]]:
    book = served.world.users[served.me].contacts
    return {uid: (c.first_name, c.last_name) for uid, c in book.items()}


def _received(served: Demo, user_id: int) -> list[str]:
    """Texts ``user_id`` received from the demo account, oldest first."""
    box = served.world.box(user_id)
    return [m.content.text for m in box.messages.values() if m.from_id == served.me and not m.out]


async def test_stranger_gets_the_message_and_the_contact_goes_again(served: Demo) -> None:
    """A number outside the address book is imported, messaged, and removed: the book is as before."""
    igor = served.demo.users["igor"]
    before = _contacts(served)
    assert igor not in before
    result = await served.call("send_to_phone", phone="+" + served.demo.phones["igor"], text="hi_there *x*")
    assert result["contact"] == "removed" and result["chat"] == igor and result["id"] > 0
    assert _received(served, igor)[-1] == "hi_there *x*"
    assert _contacts(served) == before


async def test_keep_contact_keeps_it_under_the_given_name(served: Demo) -> None:
    """keep_contact leaves the new contact, saved under first_name."""
    emma = served.demo.users["emma"]
    result = await served.call(
        "send_to_phone",
        phone=served.demo.phones["emma"],
        text="hello",
        first_name="Emma B",
        keep_contact=True,
    )
    assert result["contact"] == "kept"
    assert _contacts(served)[emma] == ("Emma B", "")
    assert _received(served, emma)[-1] == "hello"


async def test_existing_contact_is_messaged_and_never_touched(served: Demo) -> None:
    """A number that already is a contact is messaged directly: not renamed, not removed."""
    mom = served.demo.users["mom"]
    before = _contacts(served)
    result = await served.call(
        "send_to_phone", phone=served.demo.phones["mom"], text="Привет", first_name="X"
    )
    assert result["contact"] == "existing"
    assert _contacts(served) == before and before[mom] == ("Мама", "")
    assert _received(served, mom)[-1] == "Привет"


async def test_unknown_number_is_a_clear_error_and_changes_nothing(served: Demo) -> None:
    """A number nobody registered: PHONE_NOT_FOUND, no contact left, no message, no number in the error."""
    before = _contacts(served)
    with pytest.raises(ToolError) as caught:
        await served.call("send_to_phone", phone="+9996619876", text="anyone?")
    assert str(caught.value).startswith("PHONE_NOT_FOUND: ") and "9996619876" not in str(caught.value)
    assert _contacts(served) == before


async def test_failed_send_removes_the_temporary_contact(served: Demo) -> None:
    """When the send fails, the contact added for it is removed even though keep_contact was set."""
    igor = served.demo.users["igor"]
    before = _contacts(served)
    served.sandbox.faults.error(functions.messages.SendMessageRequest, 403, "USER_PRIVACY_RESTRICTED")
    with pytest.raises(ToolError) as caught:
        await served.call("send_to_phone", phone=served.demo.phones["igor"], text="x", keep_contact=True)
    assert str(caught.value).startswith("NOT_ALLOWED: ")
    assert _contacts(served) == before and _received(served, igor) == []


async def test_failed_send_to_an_existing_contact_keeps_the_contact(served: Demo) -> None:
    """A failed send never deletes a contact that was there before."""
    before = _contacts(served)
    served.sandbox.faults.flood_wait(functions.messages.SendMessageRequest, 60)
    with pytest.raises(ToolError) as caught:
        await served.call("send_to_phone", phone=served.demo.phones["alex"], text="x")
    assert str(caught.value).startswith("RATE_LIMITED: ")
    assert _contacts(served) == before


@pytest.mark.parametrize(
    ("phone", "text", "code"),
    [
        ("not a number", "x", "PHONE_INVALID"),
        ("+1 (555) abc", "x", "PHONE_INVALID"),
        ("+1234567890123456", "x", "PHONE_INVALID"),
        ("+9996610002", "y" * 4097, "MESSAGE_TOO_LONG"),
        ("+9996610002", "", "MESSAGE_EMPTY"),
    ],
)
async def test_bad_input_is_refused_before_any_change(served: Demo, phone: str, text: str, code: str) -> None:
    """Malformed numbers and texts are refused before the address book is read or changed."""
    before = _contacts(served)
    with pytest.raises(ToolError) as caught:
        await served.call("send_to_phone", phone=phone, text=text)
    assert str(caught.value).startswith(f"{code}: ")
    assert _contacts(served) == before
