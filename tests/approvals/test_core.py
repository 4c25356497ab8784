"""What an approval is bound to, its ids and codes, the answers it accepts, and the page's HTML."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from mcpgram.approvals import page
from mcpgram.approvals.core import (
    Ask,
    binding_of,
    is_approval_id,
    looks_like_answer,
    new_approval_id,
    new_code,
    parse_answer,
    preview_of,
)

BASE: dict[str, Any] = {
    "tenant": "tnt_0000000000000001",
    "tool": "send_message",
    "verbs": ("send",),
    "chat_id": 42,
    "details": ("text", "reply to 7"),
    "content": ("hello",),
}


@pytest.mark.parametrize(
    "change",
    [
        {"tenant": "tnt_0000000000000002"},
        {"tool": "edit_message"},
        {"verbs": ("send", "upload")},
        {"chat_id": 43},
        {"chat_id": None},
        {"details": ("text", "reply to 8")},
        {"content": ("hello!",)},
        {"content": ("hello", b"file")},
        {"content": ("hel", "lo")},
    ],
)
def test_any_changed_fact_is_another_binding(change: dict[str, Any]) -> None:
    """Tenant, tool, verbs, chat, details and content are each bound; parts are framed, not joined."""
    assert binding_of(**{**BASE, **change}) != binding_of(**BASE)


def test_a_file_is_bound_by_its_bytes(tmp_path: Path) -> None:
    """A temporary file binds by content: the same bytes bind the same, other bytes differently."""
    one, two = tmp_path / "one", tmp_path / "two"
    one.write_bytes(b"x" * 5000)
    two.write_bytes(b"x" * 5000)
    same = binding_of(**{**BASE, "content": ("t", one)})
    assert same == binding_of(**{**BASE, "content": ("t", two)})
    two.write_bytes(b"y" * 5000)
    assert same != binding_of(**{**BASE, "content": ("t", two)})


def test_ids_carry_128_random_bits_and_codes_are_three_letters_three_digits() -> None:
    ids = {new_approval_id() for _ in range(200)}
    assert len(ids) == 200 and all(is_approval_id(i) for i in ids)
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)
    assert not is_approval_id("../../etc") and not is_approval_id("a" * 23)
    codes = {new_code() for _ in range(200)}
    assert all(c[:3].isalpha() and c[3:].isdigit() and len(c) == 6 for c in codes)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes KQT482", True),
        ("  Yes kqt-482. ", True),
        ("да KQT482", True),
        ("no KQT482", False),
        ("нет kqt482", False),
        ("yes KQT483", None),
        ("yes", None),
        ("sure, yes KQT482", None),
        ("yes KQT482 and more", None),
    ],
)
def test_only_a_whole_answer_with_the_right_code_counts(text: str, expected: bool | None) -> None:
    assert parse_answer(text, "KQT482") is expected


def test_writes_that_read_like_answers_are_recognised() -> None:
    """An agent's text holding "yes ABC123" anywhere is caught; ordinary words are not."""
    assert looks_like_answer(["please, yes ABC123"]) and looks_like_answer(["x", "No abc-123"])
    assert not looks_like_answer(["yes PLEASE", "no 123456", b"yes ABC123", "yesterday ABC123"])


def ask(preview: str) -> Ask:
    return Ask("tnt_1", "send_message", ("send",), ("first_contact",), 42, "<Emma & co>", preview, b"b")


def test_the_page_escapes_everything_and_holds_no_script() -> None:
    """Message text, chat title and tool are HTML-escaped; the page has no script, style or remote URL."""
    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    shown = page.shown(ask(preview_of((hostile,), ())), expires=0)
    html = page.render(shown, action_url="/approve/t/i", csrf='c"><x', status="pending")
    assert "<script" not in html and "<img" not in html and "<x" not in html
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img" in html and "&lt;Emma &amp; co&gt;" in html
    )
    assert "http" not in html and "style" not in html and "onerror=alert(2)&gt;" in html
    assert html.count("<form") == 1 and 'method="post"' in html
    assert "<form" not in page.render(shown, action_url="/a", csrf="c", status="used")


def test_the_sign_in_page_shows_nothing_of_the_action() -> None:
    """The page for anyone but the approval's signed-in tenant: a token form, escaped, and nothing else."""
    html = page.render_signin(action_url='/approve/t/i/signin"><x', csrf='c"><y', problem="<bad & co>")
    assert "<x" not in html and "<y" not in html and "&lt;bad &amp; co&gt;" in html
    assert html.count("<form") == 1 and 'type="password" name="token"' in html
    assert "Approve" not in html and "decision" not in html and "<table" not in html and "<pre" not in html
    assert "another account" in page.render_signin(action_url="/a", csrf="c", other_account=True)


def test_csrf_tokens_and_tenant_tags_are_keyed() -> None:
    """The decision token is bound to the approval, the browser's session and the secret; the sign-in
    token to the approval and the browser's nonce, and is never a decision token."""
    secret, other = b"k" * 32, b"o" * 32
    token = page.csrf_token(secret, "id1", "session1")
    assert page.check_csrf(secret, "id1", "session1", token)
    assert not page.check_csrf(secret, "id2", "session1", token)
    assert not page.check_csrf(secret, "id1", "session2", token)
    assert not page.check_csrf(other, "id1", "session1", token)
    assert not page.check_csrf(secret, "id1", "session1", "")
    assert not page.check_csrf(secret, "id1", "session1", token[:-1] + "A")
    signin = page.signin_token(secret, "id1", "session1")
    assert signin != token and not page.check_csrf(secret, "id1", "session1", signin)
    assert signin != page.signin_token(secret, "id1", "nonce2") != page.signin_token(other, "id1", "nonce2")
    assert page.tenant_tag(secret, "t1") != page.tenant_tag(secret, "t2") != page.tenant_tag(other, "t2")
