"""``mcpgram audit``: the operator's view of the audit journal: list, ``--verify``, ``--head``.

Reads ``data_dir/audit/`` (whoever can read the data dir is the operator). Listing prints the newest
``--limit`` entries that match every filter given, oldest first, as a table or JSON lines.
``--verify`` walks the whole chain across the rotated files with the keys derived from the server
secret, and exits 1 naming the first line that breaks it; ``--head`` prints the newest entry's
``seq:mac``, to be kept somewhere an attacker of this machine cannot write (a ticket, another host)
and given back later as ``--verify --anchor SEQ:MAC``: the only way to see entries removed from the
end, or a journal rewritten whole with the server secret.

Must not: write to the journal, or print anything but what entries hold (no text is in them).
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from cyclopts import Parameter

from ..audit.entry import JournalKeys, timestamp
from ..audit.journal import Head
from ..audit.reading import Filter, newest
from ..audit.reading import verify as verify_chain
from ..datadir import server_secret_bytes
from ..errors import ConfigError
from .runtime import load_settings, require, terminal

EXIT_BROKEN = 1
_ANCHOR = re.compile(r"^(\d{1,18}):([0-9a-f]{64})$")
_RELATIVE = re.compile(r"^(\d{1,6})([mhd])$")
_UNITS = {"m": 60, "h": 3600, "d": 86400}
_COLUMNS = ("seq", "time", "tenant", "kind", "tool", "chat", "outcome", "content")


def since_time(text: str, now: float) -> str:
    """``--since`` as an entry time: ``90m``, ``24h``, ``7d`` ago, or an ISO date or time (UTC unless
    an offset is given)."""
    relative = _RELATIVE.match(text.strip())
    if relative:
        moment = now - int(relative.group(1)) * _UNITS[relative.group(2)]
    else:
        try:
            parsed = datetime.fromisoformat(text.strip())
        except ValueError:
            raise ConfigError("--since takes an ISO date or time, or 90m, 24h, 7d") from None
        moment = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    return timestamp(moment)


def audit(  # one flag per filter and mode
    *,
    tenant: str = "",
    since: str = "",
    tool: str = "",
    outcome: str = "",
    kind: Literal["write", "approval", "raw"] | None = None,
    limit: int = 50,
    json_output: Annotated[bool, Parameter(name="--json")] = False,
    content_stdin: bool = False,
    verify: bool = False,
    anchor: str | None = None,
    head: bool = False,
    data_dir: Path | None = None,
) -> int:
    """List, verify or anchor the audit journal (operator).

    Args:
        tenant: Only this tenant's entries (tnt_..., or owner).
        since: Only entries from then on: 90m, 24h, 7d, or an ISO date or time (UTC).
        tool: Only this tool or MTProto method.
        outcome: Only this outcome: ok, or an error code such as NOT_ALLOWED.
        kind: Only write, approval or raw entries.
        limit: The newest this many matching entries (1-100000).
        json_output: Print JSON lines instead of a table.
        content_stdin: Only entries whose content is the text read from stdin (a text-only message).
        verify: Check the whole chain; exit 1 naming the first broken line.
        anchor: With --verify: a head printed earlier by --head (SEQ:MAC) that must still be in the chain.
        head: Print the newest entry's SEQ:MAC, to keep elsewhere.
        data_dir: Where the journal lives (data_dir/audit).
    """
    term = terminal()
    require(1 <= limit <= 100_000, "--limit is a whole number from 1 to 100000")
    require(anchor is None or verify, "--anchor goes with --verify")
    parsed_anchor = None
    if anchor is not None:
        match = _ANCHOR.match(anchor.strip())
        require(match is not None, "--anchor is SEQ:MAC as --head printed it")
        assert match is not None
        parsed_anchor = Head(int(match.group(1)), match.group(2))
    settings = load_settings(data_dir=data_dir)
    directory = settings.data_dir / "audit"
    keys = JournalKeys.derive(server_secret_bytes(settings))
    if verify or head:
        verdict = verify_chain(directory, keys, anchor=parsed_anchor)
        if verdict.problem is not None:
            term.say(f"mcpgram: the audit journal is broken at {verdict.problem}")
            return EXIT_BROKEN
        if head:
            shown = str(verdict.head) if verdict.head is not None else "0:" + "0" * 64
            term.out(json.dumps({"head": shown}) if json_output else shown)
        if verify:
            files = len(verdict.files)
            term.say(f"ok: {verdict.entries} entries in {files} file{'s' * (files != 1)}, the chain holds")
        return 0
    digest = ""
    if content_stdin:
        digest = keys.content_digest([term.stdin.read()])
    where = Filter(
        tenant=tenant,
        tool=tool,
        outcome=outcome,
        kind=kind or "",
        content=digest,
        since=since_time(since, time.time()) if since else "",
    )
    found = newest(directory, where, limit)
    if json_output:
        for entry in found:
            term.out(json.dumps(entry.as_dict(), separators=(",", ":")))
        return 0
    rows = [[_cell(name, getattr(entry, name)) for name in _COLUMNS] for entry in found]
    widths = [max([len(name), *(len(row[i]) for row in rows)]) for i, name in enumerate(_COLUMNS)]
    term.out("  ".join(name.ljust(width) for name, width in zip(_COLUMNS, widths, strict=True)).rstrip())
    for row in rows:
        term.out("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    if not rows:
        term.say("no entries match")
    return 0


def _cell(name: str, value: object) -> str:
    if value is None:
        return "-"
    if name == "content":
        return str(value)[:12]
    return str(value)
