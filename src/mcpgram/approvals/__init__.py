"""Approvals: a person confirming one exact action before mcpgram does it.

- ``core``: what an approval is bound to (a hash of tenant, tool, verbs, chat, details and
  content), ids, Saved Messages codes and answers; pure.
- ``store``: approvals in the vault's SQLite file, single-use and expiring, shared by processes.
- ``page``: the approval page's HTML (autoescaped, no script) and its CSRF token; pure.

The channels that ask (input-required with a URL, elicitation, Saved Messages) live with the tools
(``tools/approving.py``); the page's routes in ``web/approve.py``.
"""
