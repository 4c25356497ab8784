"""How the policy sees a raw MTProto method: read or write, denylisted, refused, bound to chats (pure).

Every method name here is a TL name as Telegram's schema spells it (``messages.getHistory``);
``tests/policy/test_rawmethods.py`` checks each against Telethon's schema, so a typo cannot hide
a method from its rule. The tables:

- :data:`READ_METHODS`: classified ``raw_read``. Anything not listed is ``raw_write``: a method
  this table does not know is treated as one that changes something.
- :data:`DENIED`: refused (``NOT_ALLOWED``) whatever the verbs say, unless the operator lifts the
  method for one tenant (``mcpgram policy set --lift METHOD``). Each entry says why.
- :data:`DENIED_NAMESPACES`: every method of these namespaces is denylisted the same way.
- :func:`never_reason`: refused always, for everyone, not liftable: MTProto's own service calls,
  the ``invokeWith*``/``initConnection`` wrappers (they carry another method inside, past its
  classification) and the login flow (``mcpgram login`` owns the session's authorization).
- :data:`PEER_BOUND`: methods whose reach is the chats their parameters name. Only these may run
  under a read or write scope narrower than ``*`` (or ``sends: known``): any other method
  (``messages.searchGlobal``, ``messages.getDialogs``, a message id without a chat) could touch a
  chat the scope leaves out, and there is nothing to check it against.

Imports nothing from mcpgram but the model's verb names.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from .model import Verb

#: Telegram-side reads: they change nothing an account owner would notice.
READ_METHODS: frozenset[str] = frozenset(
    {
        "account.getAuthorizations",
        "account.getContentSettings",
        "account.getNotifySettings",
        "account.getPassword",
        "account.getPrivacy",
        "channels.getAdminedPublicChannels",
        "channels.getChannels",
        "channels.getFullChannel",
        "channels.getGroupsForDiscussion",
        "channels.getMessages",
        "channels.getParticipant",
        "channels.getParticipants",
        "contacts.getBlocked",
        "contacts.getContacts",
        "contacts.getStatuses",
        "contacts.resolvePhone",
        "contacts.resolveUsername",
        "contacts.search",
        "help.getAppConfig",
        "help.getConfig",
        "help.getNearestDc",
        "messages.getAllStickers",
        "messages.getAvailableReactions",
        "messages.getChats",
        "messages.getCommonChats",
        "messages.getDialogFilters",
        "messages.getDialogs",
        "messages.getDiscussionMessage",
        "messages.getForumTopics",
        "messages.getForumTopicsByID",
        "messages.getFullChat",
        "messages.getHistory",
        "messages.getMessageEditData",
        "messages.getMessages",
        "messages.getMessagesReactions",
        "messages.getMessagesViews",
        "messages.getOnlines",
        "messages.getPeerDialogs",
        "messages.getPinnedDialogs",
        "messages.getPollResults",
        "messages.getReplies",
        "messages.getSavedDialogs",
        "messages.getSavedHistory",
        "messages.getScheduledHistory",
        "messages.getScheduledMessages",
        "messages.getSearchCounters",
        "messages.getStickerSet",
        "messages.getSuggestedDialogFilters",
        "messages.getUnreadMentions",
        "messages.search",
        "messages.searchGlobal",
        "photos.getUserPhotos",
        "stories.getPeerStories",
        "updates.getState",
        "upload.getFile",
        "users.getFullUser",
        "users.getUsers",
    }
)

_ACCOUNT = "would delete the account, or set it to delete itself"
_PHONE = "would move the account to another phone number"
_SELF_LOGOUT = "would log this gateway's own session out (the tenant then needs `mcpgram login`)"
_OTHER_SESSIONS = "would log out or change the account's other sessions (the owner's own devices)"
_WEB_SESSIONS = "would log out the websites the owner signed in to with Telegram"
_GRANTS_LOGIN = "would hand a login to this account to another device or website"
_EXPORTS_AUTH = "exports an authorization of this account (a credential for it)"
_TAKEOUT = "starts a bulk export of the whole account"
_PASSWORD = "reads or changes the two-step verification password, its recovery or its reset"  # noqa: S105  # a reason, not a secret
_EMAIL = "changes the login or recovery email of the account"
_PASSPORT = "reads or discloses Telegram Passport identity documents"
_PUSH = "would send the account's notifications (with message previews) to a device the caller names"
_DELETES_CHAT = "deletes a whole chat, channel or history, for every member"
_OWNERSHIP = "transfers ownership of a group or channel"
_SPENDS = "spends or transfers money, Stars or gifts"
_SMS = "enrolls the account's phone in sending SMS for Telegram"

#: Denylisted methods and why; only the operator can lift one, per tenant.
DENIED: Mapping[str, str] = MappingProxyType(
    {
        "account.deleteAccount": _ACCOUNT,
        "account.setAccountTTL": _ACCOUNT,
        "account.sendChangePhoneCode": _PHONE,
        "account.changePhone": _PHONE,
        "auth.logOut": _SELF_LOGOUT,
        "auth.resetAuthorizations": _OTHER_SESSIONS,
        "account.resetAuthorization": _OTHER_SESSIONS,
        "account.setAuthorizationTTL": _OTHER_SESSIONS,
        "account.changeAuthorizationSettings": _OTHER_SESSIONS,
        "account.resetWebAuthorization": _WEB_SESSIONS,
        "account.resetWebAuthorizations": _WEB_SESSIONS,
        "auth.acceptLoginToken": _GRANTS_LOGIN,
        "messages.acceptUrlAuth": _GRANTS_LOGIN,
        "auth.exportAuthorization": _EXPORTS_AUTH,
        "account.initTakeoutSession": _TAKEOUT,
        "account.getPasswordSettings": _PASSWORD,
        "account.updatePasswordSettings": _PASSWORD,
        "account.getTmpPassword": _PASSWORD,
        "account.resetPassword": _PASSWORD,
        "account.declinePasswordReset": _PASSWORD,
        "account.confirmPasswordEmail": _PASSWORD,
        "account.resendPasswordEmail": _PASSWORD,
        "account.cancelPasswordEmail": _PASSWORD,
        "auth.requestPasswordRecovery": _PASSWORD,
        "auth.checkRecoveryPassword": _PASSWORD,
        "auth.recoverPassword": _PASSWORD,
        "account.sendVerifyEmailCode": _EMAIL,
        "account.verifyEmail": _EMAIL,
        "auth.resetLoginEmail": _EMAIL,
        "account.getAuthorizationForm": _PASSPORT,
        "account.acceptAuthorization": _PASSPORT,
        "account.getAllSecureValues": _PASSPORT,
        "account.getSecureValue": _PASSPORT,
        "account.saveSecureValue": _PASSPORT,
        "account.deleteSecureValue": _PASSPORT,
        "account.registerDevice": _PUSH,
        "channels.deleteChannel": _DELETES_CHAT,
        "messages.deleteChat": _DELETES_CHAT,
        "messages.deleteHistory": _DELETES_CHAT,
        "channels.deleteHistory": _DELETES_CHAT,
        "channels.deleteParticipantHistory": _DELETES_CHAT,
        "messages.deleteSavedHistory": _DELETES_CHAT,
        "messages.deleteTopicHistory": _DELETES_CHAT,
        "messages.deletePhoneCallHistory": _DELETES_CHAT,
        "messages.editChatCreator": _OWNERSHIP,
        "messages.sendPaidReaction": _SPENDS,
        "smsjobs.join": _SMS,
    }
)

#: Namespaces denylisted whole (each method liftable by its own name).
DENIED_NAMESPACES: Mapping[str, str] = MappingProxyType({"payments": _SPENDS})

_WRAPPER = "MTProto plumbing: the client library's, and wrappers would carry another method past its rule"
_LOGIN = "the login flow belongs to `mcpgram login`; through the bridge it could rebind this session"

#: ``auth.*`` methods that are neither denylisted above nor part of the login flow: none today.
_AUTH_ALLOWED: frozenset[str] = frozenset()

#: Methods a scope narrower than '*' can be checked for: they reach only the chats they name.
PEER_BOUND: frozenset[str] = frozenset(
    {
        "channels.deleteMessages",
        "channels.getFullChannel",
        "channels.getMessages",
        "channels.getParticipant",
        "channels.getParticipants",
        "channels.readHistory",
        "messages.editMessage",
        "messages.forwardMessages",
        "messages.getDiscussionMessage",
        "messages.getForumTopics",
        "messages.getForumTopicsByID",
        "messages.getHistory",
        "messages.getMessagesReactions",
        "messages.getMessagesViews",
        "messages.getOnlines",
        "messages.getPeerDialogs",
        "messages.getReplies",
        "messages.getScheduledHistory",
        "messages.getSearchCounters",
        "messages.getUnreadMentions",
        "messages.readHistory",
        "messages.search",
        "messages.sendMedia",
        "messages.sendMessage",
        "messages.sendReaction",
        "messages.setTyping",
        "messages.updatePinnedMessage",
        "photos.getUserPhotos",
        "users.getFullUser",
        "users.getUsers",
    }
)


def verb_of(method: str) -> Verb:
    """``raw_read`` for a method in :data:`READ_METHODS`, else ``raw_write`` (unknown counts as write)."""
    return "raw_read" if method in READ_METHODS else "raw_write"


def denied_reason(method: str) -> str | None:
    """Why ``method`` is denylisted (operator-liftable), or None if it is not."""
    reason = DENIED.get(method)
    if reason is None and "." in method:
        reason = DENIED_NAMESPACES.get(method.partition(".")[0])
    return reason


def never_reason(method: str) -> str | None:
    """Why ``method`` is refused for everyone, always (not liftable), or None."""
    if "." not in method:
        return _WRAPPER
    if method.startswith("auth.") and method not in DENIED and method not in _AUTH_ALLOWED:
        return _LOGIN
    return None


def is_peer_bound(method: str) -> bool:
    return method in PEER_BOUND


__all__ = [
    "DENIED",
    "DENIED_NAMESPACES",
    "PEER_BOUND",
    "READ_METHODS",
    "denied_reason",
    "is_peer_bound",
    "never_reason",
    "verb_of",
]
