"""``account.getPrivacy``: privacy rules, at Telegram's defaults (``account.getPassword`` is in auth.py).

The sandbox keeps one privacy switch per account, ``User.allow_group_invites``; every other key
answers the rules a fresh Telegram account has.
"""

from __future__ import annotations

from typing import Any

from telethon.tl import functions, types

from ..router import Ctx, Router

router = Router()

_EVERYBODY = (types.PrivacyValueAllowAll,)
_CONTACTS = (types.PrivacyValueAllowContacts, types.PrivacyValueDisallowAll)

#: A new account's rules per key; "My contacts" is sent as allow-contacts then disallow-all.
_DEFAULTS: dict[type, tuple[type, ...]] = {
    types.InputPrivacyKeyStatusTimestamp: _EVERYBODY,
    types.InputPrivacyKeyChatInvite: _EVERYBODY,
    types.InputPrivacyKeyPhoneCall: _EVERYBODY,
    types.InputPrivacyKeyPhoneNumber: _CONTACTS,
    types.InputPrivacyKeyAddedByPhone: _EVERYBODY,
    types.InputPrivacyKeyProfilePhoto: _EVERYBODY,
    types.InputPrivacyKeyForwards: _EVERYBODY,
    types.InputPrivacyKeyVoiceMessages: _EVERYBODY,
    types.InputPrivacyKeyAbout: _EVERYBODY,
    types.InputPrivacyKeyBirthday: _CONTACTS,
}


@router.method(functions.account.GetPrivacyRequest)
def get_privacy(ctx: Ctx, req: Any) -> Any:
    user = ctx.world.users[ctx.user_id]
    if isinstance(req.key, types.InputPrivacyKeyChatInvite) and not user.allow_group_invites:
        rules: list[Any] = [types.PrivacyValueDisallowAll()]
    else:
        rules = [rule() for rule in _DEFAULTS.get(type(req.key), _EVERYBODY)]
    return types.account.PrivacyRules(rules=rules, chats=[], users=[])
