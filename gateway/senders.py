"""Whether two addresses are the same sender: one person, or one organisation.

An office's mail comes from its own domain (`@gmina.example.pl`), so two addresses there
are the same organisation; an address at a public mail provider speaks only for itself,
since everyone has one there. Threading (gateway/pipeline/threads.py: siblings of a mailing join
only when they come from one sender), the acknowledgement's Reply-To rule and its
per-domain limit (gateway/pipeline/acknowledge.py) all ask this one question. Config lists that
name "an address or @domain" (consultants, languages, the SMTP listener's recipients) are
read here too, by ``covering_entry``.
"""
from __future__ import annotations

from collections.abc import Container

# Public mail providers whose users share nothing but the domain: the big Polish ones
# (WP, Onet, Interia, o2/Tlen, Gazeta), and the international ones seen at a public office.
PUBLIC_PROVIDERS = frozenset({
    "gmail.com", "googlemail.com",
    "wp.pl", "o2.pl", "tlen.pl", "go2.pl", "onet.pl", "onet.eu", "op.pl", "poczta.onet.pl", "vp.pl", "spoko.pl",
    "interia.pl", "interia.eu", "poczta.fm", "gazeta.pl", "int.pl", "autograf.pl", "buziaczek.pl",
    "outlook.com", "outlook.pl", "hotmail.com", "live.com", "msn.com",
    "yahoo.com", "icloud.com", "me.com", "aol.com", "gmx.com", "gmx.de", "proton.me", "protonmail.com",
})  # fmt: skip


def organisation(address: str) -> str | None:
    """Who stands behind an address: `@domain` for an organisation's own domain, the
    address itself at a public provider; None for no address at all."""
    address = address.strip().lower()
    if "@" not in address:
        return None
    domain = address.rpartition("@")[2]
    return address if domain in PUBLIC_PROVIDERS else "@" + domain


def covering_entry(address: str, entries: Container[str], *, plus_detail: bool = False) -> str | None:
    """The entry of an "address or @domain" list (lower-case entries) that covers
    ``address``: the address itself, then with ``plus_detail`` the address without its
    "+detail" (the tickets' reply addresses), then its ``@domain``. Addresses compare
    case-insensitively (domains are, and local parts are in practice); one without "@"
    is covered only by itself."""
    address = address.strip().lower()
    local, at, domain = address.rpartition("@")
    if not at:
        return address if address in entries else None
    base = [f"{local.partition('+')[0]}@{domain}"] if plus_detail else []
    return next((c for c in (address, *base, "@" + domain) if c in entries), None)


def same_organisation(a: str, b: str) -> bool:
    """The same address, or two addresses of one organisation's (non-public) domain."""
    key = organisation(a)
    return key is not None and key == organisation(b)
