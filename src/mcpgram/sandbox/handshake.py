"""Authorization key exchange, server side (https://core.telegram.org/mtproto/auth_key).

``req_pq_multi`` -> ``resPQ``; ``req_DH_params`` (RSA under the sandbox key) -> ``server_DH_params_ok``;
``set_client_DH_params`` -> ``dh_gen_ok``. One :class:`Handshake` per TCP connection holds the state
between steps; any inconsistency raises :class:`HandshakeError` and the connection is dropped, as
Telegram does. No I/O here: the connection feeds requests in and writes the answers out.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass

from telethon import helpers
from telethon.crypto import AES, AuthKey
from telethon.extensions import BinaryReader
from telethon.tl import TLObject, functions, types

from .crypto import DH_G, DH_PRIME, SandboxKey, bytes_to_int, int_to_bytes, is_good_dh_value, random_pq


class HandshakeError(Exception):
    """The client broke the key exchange; drop the connection."""


@dataclass(frozen=True)
class NewAuthKey:
    """The outcome of a completed exchange."""

    key: bytes  # 256 bytes
    key_id: int  # unsigned 64-bit
    first_salt: int  # signed 64-bit


def _nonce_bytes(value: int, size: int) -> bytes:
    return int.to_bytes(value, size, "little", signed=True)


class Handshake:
    """One client's progress through the three steps of the key exchange."""

    def __init__(self, key: SandboxKey) -> None:
        self._key = key
        self._nonce: int | None = None
        self._server_nonce: int | None = None
        self._pq: tuple[int, int, int] | None = None
        self._new_nonce: int | None = None
        self._a: int | None = None
        self._retry_id = 0

    def handle(self, request: TLObject) -> tuple[TLObject, NewAuthKey | None]:
        """Answer one unencrypted request; the second item is set once the key is agreed."""
        if isinstance(request, functions.ReqPqMultiRequest | functions.ReqPqRequest):
            return self._res_pq(request.nonce), None
        if isinstance(request, functions.ReqDHParamsRequest):
            return self._server_dh_params(request), None
        if isinstance(request, functions.SetClientDHParamsRequest):
            return self._dh_gen(request)
        raise HandshakeError(f"{type(request).__name__} is not allowed before an auth key exists")

    def _res_pq(self, nonce: int) -> TLObject:
        self._nonce = nonce
        self._server_nonce = int.from_bytes(os.urandom(16), "little", signed=True)
        self._pq = random_pq()
        return types.ResPQ(
            nonce=nonce,
            server_nonce=self._server_nonce,
            pq=int_to_bytes(self._pq[0]),
            server_public_key_fingerprints=[self._key.fingerprint],
        )

    def _check_nonces(self, nonce: int, server_nonce: int) -> None:
        if self._nonce is None or nonce != self._nonce or server_nonce != self._server_nonce:
            raise HandshakeError("nonce mismatch")

    def _server_dh_params(self, req: functions.ReqDHParamsRequest) -> TLObject:
        self._check_nonces(req.nonce, req.server_nonce)
        assert self._pq is not None
        pq, p, q = self._pq
        if bytes_to_int(req.p) != p or bytes_to_int(req.q) != q:
            raise HandshakeError("wrong factorisation of pq")
        if req.public_key_fingerprint != self._key.fingerprint:
            raise HandshakeError("unknown public key fingerprint")
        data = self._key.decrypt_inner_data(req.encrypted_data)
        if data is None:
            raise HandshakeError("encrypted_data does not decrypt")
        inner = BinaryReader(data).tgread_object()
        if not isinstance(inner, types.PQInnerData | types.PQInnerDataDc | types.PQInnerDataTempDc):
            raise HandshakeError("unexpected inner data")
        self._check_nonces(inner.nonce, inner.server_nonce)
        if bytes_to_int(inner.pq) != pq:
            raise HandshakeError("inner data pq mismatch")
        self._new_nonce = inner.new_nonce
        while True:
            # The size of the secret exponent is the server's choice and invisible to the client;
            # 512 bits keeps the two modular exponentiations per handshake cheap for test suites
            # that open hundreds of connections, and is still far beyond any attack on a sandbox.
            self._a = bytes_to_int(os.urandom(64))
            g_a = pow(DH_G, self._a, DH_PRIME)
            if is_good_dh_value(g_a):
                break
        answer = bytes(
            types.ServerDHInnerData(
                nonce=inner.nonce,
                server_nonce=inner.server_nonce,
                g=DH_G,
                dh_prime=int_to_bytes(DH_PRIME),
                g_a=int_to_bytes(g_a),
                server_time=int(time.time()),
            )
        )
        with_hash = hashlib.sha1(answer).digest() + answer  # noqa: S324 - protocol-mandated
        with_hash += os.urandom(-len(with_hash) % 16)
        key, iv = helpers.generate_key_data_from_nonce(inner.server_nonce, inner.new_nonce)
        return types.ServerDHParamsOk(
            nonce=inner.nonce,
            server_nonce=inner.server_nonce,
            encrypted_answer=AES.encrypt_ige(with_hash, key, iv),
        )

    def _dh_gen(self, req: functions.SetClientDHParamsRequest) -> tuple[TLObject, NewAuthKey | None]:
        self._check_nonces(req.nonce, req.server_nonce)
        if self._new_nonce is None or self._a is None:
            raise HandshakeError("set_client_DH_params before req_DH_params")
        key, iv = helpers.generate_key_data_from_nonce(req.server_nonce, self._new_nonce)
        if len(req.encrypted_data) % 16:
            raise HandshakeError("encrypted_data is not block-aligned")
        plain = AES.decrypt_ige(req.encrypted_data, key, iv)
        reader = BinaryReader(plain[20:])
        inner = reader.tgread_object()
        size = reader.tell_position()
        if hashlib.sha1(plain[20 : 20 + size]).digest() != plain[:20]:  # noqa: S324 - protocol-mandated
            raise HandshakeError("client_DH_inner_data hash mismatch")
        if not isinstance(inner, types.ClientDHInnerData):
            raise HandshakeError("unexpected client inner data")
        self._check_nonces(inner.nonce, inner.server_nonce)
        g_b = bytes_to_int(inner.g_b)
        if not is_good_dh_value(g_b):
            raise HandshakeError("g_b out of the safe range")
        auth_key = AuthKey(int_to_bytes(pow(g_b, self._a, DH_PRIME), 256))
        new_nonce = _nonce_bytes(self._new_nonce, 32)
        server_nonce = _nonce_bytes(req.server_nonce, 16)
        salt = int.from_bytes(
            bytes(a ^ b for a, b in zip(new_nonce[:8], server_nonce[:8], strict=True)), "little", signed=True
        )
        answer = types.DhGenOk(
            nonce=req.nonce,
            server_nonce=req.server_nonce,
            new_nonce_hash1=auth_key.calc_new_nonce_hash(self._new_nonce, 1),
        )
        # A finished handshake cannot be replayed on this connection.
        self._nonce = self._new_nonce = self._a = None
        return answer, NewAuthKey(key=auth_key.key, key_id=auth_key.key_id, first_salt=salt)
