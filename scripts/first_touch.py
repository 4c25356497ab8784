#!/usr/bin/env python3
"""First touch: what a new user's MCP client does with a fresh clone, on one interpreter.

    python3.X scripts/first_touch.py /path/to/fresh/clone

Runs the README's demo command (``python3.X dev.py demo``) in the clone, as an MCP client
launches it: the first run creates ``.venv`` and installs the lock with this interpreter and the
pip it brought. Then it speaks MCP over stdin/stdout (newline-delimited JSON-RPC): ``initialize``,
``tools/list``, ``find_chats``, and ``get_messages`` with a chat id passed back exactly as it came.
Exits 0 when every answer is right, 1 otherwise, printing what went wrong. Standard library only,
so it runs on any Python 3.11+ before anything is installed. ``.ci/run`` runs it for every stock
interpreter on the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

#: The first answer waits for .venv to be created and the lock installed.
SETUP_SECONDS = 600
ANSWER_SECONDS = 60


class Conversation:
    """One MCP client over a child's stdin/stdout; stderr is kept for the failure report."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - this interpreter running the clone's dev.py
            argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.stderr: list[str] = []
        self.answers: dict[int, Any] = {}
        self.ready = threading.Condition()
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self.next_id = 0

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                self.stderr.append(f"[stdout, not JSON] {line[:200]!r}")
                continue
            if "id" in message and ("result" in message or "error" in message):
                with self.ready:
                    self.answers[message["id"]] = message
                    self.ready.notify_all()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line.decode(errors="replace").rstrip())

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def request(self, method: str, params: dict[str, Any], timeout: float = ANSWER_SECONDS) -> Any:
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        with self.ready:
            while self.next_id not in self.answers:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise RuntimeError(f"no answer to {method} (exit code {self.proc.poll()})")
                self.ready.wait(min(left, 1.0))
        answer = self.answers.pop(self.next_id)
        if "error" in answer:
            raise RuntimeError(f"{method} failed: {answer['error']}")
        return answer["result"]

    def tool(self, name: str, arguments: dict[str, Any]) -> Any:
        result = self.request("tools/call", {"name": name, "arguments": arguments})
        text = result["content"][0]["text"]
        if result.get("isError"):
            raise RuntimeError(f"{name} answered an error: {text}")
        return json.loads(text)

    def close(self) -> int:
        if self.proc.stdin is not None:
            self.proc.stdin.close()  # how an MCP client ends a stdio server
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("the demo did not exit after stdin closed") from None
        finally:
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    stream.close()


def first_touch(clone: Path) -> None:
    started = time.monotonic()
    talk = Conversation([sys.executable, "dev.py", "demo"], clone)
    try:
        init = talk.request(
            "initialize",
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "first-touch", "version": "1"},
            },
            timeout=SETUP_SECONDS,
        )
        setup = time.monotonic() - started
        assert init["serverInfo"]["name"] == "mcpgram", init
        talk.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        tools = {tool["name"] for tool in talk.request("tools/list", {})["tools"]}
        assert {"find_chats", "get_messages", "send_message"} <= tools, tools
        chats = talk.tool("find_chats", {"limit": 5})["chats"]
        assert chats, "the demo account has chats"
        chat_id = chats[0]["id"]  # passed back exactly as it came, number or string
        messages = talk.tool("get_messages", {"chat": chat_id, "limit": 3})["messages"]
        assert messages, f"chat {chat_id!r} has messages"
        code = talk.close()
        assert code == 0, f"the demo exited {code} after stdin closed"
    except (AssertionError, RuntimeError) as exc:
        talk.proc.kill()
        print(f"first touch FAILED with {sys.executable}: {exc}", file=sys.stderr)
        print("\n".join(talk.stderr[-40:]), file=sys.stderr)
        raise SystemExit(1) from None
    version = ".".join(map(str, sys.version_info[:3]))
    print(
        f"first touch ok: Python {version} ({sys.executable}): set-up and first answer {setup:.0f} s, "
        f"{len(tools)} tools, find_chats -> get_messages({chat_id!r})"
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    first_touch(Path(sys.argv[1]).resolve())
