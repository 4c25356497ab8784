"""The audit journal: every write, approval and raw MTProto call, per tenant, in a keyed hash chain.

- ``entry``: an entry as bytes, the keys derived from the server secret, the content digest and
  the chain check; pure (no I/O, the clock is a parameter).
- ``journal``: :class:`~mcpgram.audit.journal.AuditJournal`, the append-only files in
  ``data_dir/audit/`` (mode 0600), shared by every process under an OS lock, rotated by size.
- ``reading``: the files in order, a tenant's newest entries, filters, and ``verify`` over them all.

What an entry never holds: message text, captions, file bytes, phone numbers or chat references
as the agent wrote them; only a chat id, an outcome code and a keyed digest of the content.
Imports nothing from mcpgram but ``errors``, ``datadir`` and ``configs``: tools, the CLI and the
raw bridge call it, never the other way round.
"""
