"""Per-ticket reply addresses and their HMAC tokens."""
from __future__ import annotations

from gateway import tokens

SECRET = "a-test-secret-of-32-characters!!"


def test_reply_address_carries_number_and_token() -> None:
    address = tokens.reply_address("hotline@example.org", "hot-2026-000123", SECRET)
    local, domain = address.split("@")
    assert domain == "example.org" and local.startswith("hotline+HOT-2026-000123.")
    number, token = tokens.claimed(address, "hotline@example.org") or ("", "")
    assert number == "HOT-2026-000123" and tokens.valid(SECRET, number, token)


def test_tokens_differ_by_ticket_and_secret() -> None:
    a = tokens.token(SECRET, "HOT-2026-000123")
    assert a != tokens.token(SECRET, "HOT-2026-000124") and a != tokens.token(SECRET + "x", "HOT-2026-000123")
    assert not tokens.valid(SECRET, "HOT-2026-000124", a)
    assert tokens.valid(SECRET, "HOT-2026-000123", a.upper())  # mail systems may change the case


def test_only_our_own_plus_addresses_are_claims() -> None:
    good = tokens.reply_address("hotline@example.org", "HOT-2026-000123", SECRET)
    assert tokens.claimed(good.replace("example.org", "evil.example"), "hotline@example.org") is None
    assert tokens.claimed(good.replace("hotline+", "other+"), "hotline@example.org") is None
    assert tokens.claimed("hotline@example.org", "hotline@example.org") is None
    assert tokens.claimed("hotline+HOT-2026-000123.zzzz@example.org", "hotline@example.org") == ("HOT-2026-000123", "zzzz")


def test_a_non_ascii_token_is_simply_wrong() -> None:
    """`ſ` folds to `s` under IGNORECASE and once reached hmac.compare_digest, which raises
    TypeError on non-ASCII text (the message was quarantined instead of held)."""
    address = tokens.reply_address("hotline@example.org", "HOT-2026-000123", SECRET)
    number, good = tokens.claimed(address, "hotline@example.org") or ("", "")
    forged = good[:-1] + "ſ"
    assert tokens.claimed(address.replace(good, forged), "hotline@example.org") == (number, forged)
    assert not tokens.valid(SECRET, number, forged) and not tokens.valid(SECRET, number, "K" * 8)
