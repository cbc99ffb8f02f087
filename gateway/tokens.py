"""Per-ticket reply addresses: `hotline+HOT-2026-000123.k3j9x2ab@example.org`.

The token is an HMAC of the ticket number under a secret from the config, so only mail
we sent (the consultants' notifications) carries a valid one; with plus-addressing the
address reaches our own mailbox, and pressing Reply in any mail client routes back.
"""
from __future__ import annotations

import base64
import hashlib
import hmac

from parsers.refs import canonical_number, reply_address as parse_reply_address

TOKEN_LENGTH = 8  # base32 characters: 40 bits, checked in constant time


def token(secret: str, number: str) -> str:
    digest = hmac.new(secret.encode(), canonical_number(number).encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:TOKEN_LENGTH]


def reply_address(own: str, number: str, secret: str) -> str:
    """`hotline@example.org` + HOT-2026-000123 -> `hotline+HOT-2026-000123.<token>@example.org`."""
    local, _, domain = own.rpartition("@")
    return f"{local}+{canonical_number(number)}.{token(secret, number)}@{domain}"


def claimed(address: str, own: str) -> tuple[str, str] | None:
    """(ticket number, token) when `address` is one of our reply addresses, valid or not."""
    found = parse_reply_address(address)
    if found is None or not found.ours(own):
        return None
    return found.number, found.token.lower()


def valid(secret: str, number: str, candidate: str) -> bool:
    """Constant-time, and ASCII only: compare_digest refuses other text (a `ſ` in a token
    raised TypeError), and no token we issue has any."""
    return candidate.isascii() and hmac.compare_digest(token(secret, number), candidate.lower())
