"""Authentication-Results: parsed per RFC 8601, trusted only from our own servers."""
from __future__ import annotations

import pytest

from parsers import authres
from parsers.mime import parse
from tests import mailfactory as mf


def message(*values: str):  # type: ignore[no-untyped-def]
    return parse(mf.make_message(sender="anna@example.org", headers=[("Authentication-Results", v) for v in values]))


def test_results_are_parsed_with_comments_and_quoted_semicolons() -> None:
    authserv, results = authres.parse('mx.example.org 1; dkim=fail reason="bad; sig" (oops) header.d=Example.org; '
                                      "spf=pass (sender ok) smtp.mailfrom=anna@example.org; dmarc=fail (p=reject) header.from=example.org")  # fmt: skip
    assert authserv == "mx.example.org"
    assert [(r.method, r.result, r.about()) for r in results] == [
        ("dkim", "fail", "example.org"), ("spf", "pass", None), ("dmarc", "fail", "example.org")]  # fmt: skip


TRUSTED = ["mx.example.org"]


def test_a_dmarc_failure_counts_only_from_trusted_servers_and_for_the_senders_domain() -> None:
    msg = message("evil.example; dkim=fail header.d=example.org",
                  "mx.example.org; dkim=pass header.d=example.org; dmarc=fail header.from=example.org",
                  "mx.example.org; dkim=fail header.d=other.example")  # fmt: skip
    assert authres.unverified(msg, TRUSTED, "example.org") == ["mx.example.org: dmarc=fail for example.org"]
    assert authres.unverified(msg, [], "example.org") == []  # nothing trusted: nothing to check


@pytest.mark.parametrize("value", [
    "mx.example.org; dmarc=pass header.from=example.org",
    "mx.example.org; dkim=pass header.d=example.org; spf=fail",
    "mx.example.org; dkim=fail header.d=example.org; dkim=pass header.d=example.org",  # a second signature survived
    "mx.example.org; dkim=pass header.i=@example.org",
])  # fmt: skip
def test_a_trusted_pass_for_the_senders_domain_vouches(value: str) -> None:
    assert authres.unverified(message(value), TRUSTED, "example.org") == []
    if "dmarc" not in value:  # a signature by a parent domain vouches for its subdomains too
        assert authres.unverified(message(value), TRUSTED, "mail.example.org") == []


@pytest.mark.parametrize("values", [
    (),  # the trusted MTA stamped nothing
    ("evil.example; dmarc=pass header.from=example.org",),  # only an untrusted stamp
    ("mx.example.org; spf=fail; dkim=none; dmarc=none",),
    ("mx.example.org; dkim=temperror header.d=example.org; dmarc=temperror header.from=example.org",),
    ("mx.example.org; dkim=permerror header.d=example.org",),
    ("mx.example.org; dkim=pass header.d=evil.example; spf=pass",),  # signed, but not by the From's domain
    ("mx.example.org; dkim=pass header.d=sub.example.org",),  # a child domain does not vouch for its parent
    ("mx.example.org; dmarc=pass header.from=evil.example",),
    ("mx.example.org; dkim=pass header.d=example.org; dmarc=fail header.from=example.org",),
    ("garbage without structure",),
])  # fmt: skip
def test_anything_short_of_an_aligned_pass_leaves_the_sender_unproven(values: tuple[str, ...]) -> None:
    assert authres.unverified(message(*values), TRUSTED, "example.org")


def test_a_server_that_is_trusted_with_no_results_is_no_proof() -> None:
    (reason,) = authres.unverified(message("mx.example.org; none"), TRUSTED, "example.org")
    assert "mx.example.org" in reason
