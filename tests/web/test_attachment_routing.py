"""The front sends an attachment link to the worker of the token it was minted under (pure)."""

from __future__ import annotations

from mcpgram import auth
from mcpgram.signing import Capability, Keyring, mint
from mcpgram.web.frontwire import request_worker, route_hash, worker_index

KEYRING = Keyring([(1, b"k" * 32)])


def _link(token: str) -> bytes:
    cap = Capability("tnt_0123456789abcdef", b"d" * 32, 1, 2_000_000_000, 5, 6, 7, "full", route_hash(token))
    return b"/v1/attachments/" + mint(KEYRING, cap).encode()


def test_a_link_goes_where_its_token_goes() -> None:
    for _ in range(50):
        token = auth.new_token()
        for workers in (1, 2, 3, 7, 64):
            bearer = [(b"authorization", b"Bearer " + token.encode())]
            assert request_worker(_link(token), [], workers) == worker_index(token, workers)
            assert request_worker(b"/v1/mcp", bearer, workers) == worker_index(token, workers)


def test_a_link_that_is_not_one_goes_to_worker_zero() -> None:
    assert request_worker(b"/v1/attachments/garbage!", [], 4) == 0
    assert request_worker(b"/v1/attachments/", [], 4) == 0
