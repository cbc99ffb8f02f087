"""Per-ticket reply addresses: `hotline+HOT-2026-000123.k3j9x2ab@example.org`.

The token is an HMAC of the ticket number under a secret from the config, so only mail
we sent (the consultants' notifications) carries a valid one; with plus-addressing the
address reaches our own mailbox, and pressing Reply in any mail client routes back.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re

from parsers.refs import canonical_number

TOKEN_LENGTH = 8  # base32 characters: 40 bits, checked in constant time
_PLUS = re.compile(r"^(?P<base>[^+@\s]+)\+(?P<number>HOT-\d{4}-\d{6})\.(?P<token>[a-z2-7]+)@(?P<domain>[^@\s]+)$",
                   re.IGNORECASE)  # fmt: skip


def token(secret: str, number: str) -> str:
    digest = hmac.new(secret.encode(), canonical_number(number).encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:TOKEN_LENGTH]


def reply_address(own: str, number: str, secret: str) -> str:
    """`hotline@example.org` + HOT-2026-000123 -> `hotline+HOT-2026-000123.<token>@example.org`."""
    local, _, domain = own.rpartition("@")
    return f"{local}+{canonical_number(number)}.{token(secret, number)}@{domain}"


def claimed(address: str, own: str) -> tuple[str, str] | None:
    """(ticket number, token) when `address` is one of our reply addresses, valid or not."""
    match = _PLUS.match(address.strip())
    local, _, domain = own.lower().rpartition("@")
    if match is None or match["base"].lower() != local or match["domain"].lower() != domain:
        return None
    return canonical_number(match["number"]), match["token"].lower()


def valid(secret: str, number: str, candidate: str) -> bool:
    return hmac.compare_digest(token(secret, number), candidate.lower())
