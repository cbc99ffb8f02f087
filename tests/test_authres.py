"""Authentication-Results: parsed per RFC 8601, trusted only from our own servers."""
from __future__ import annotations

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


def test_failures_count_only_from_trusted_servers_and_for_the_senders_domain() -> None:
    msg = message("evil.example; dkim=fail header.d=example.org",
                  "mx.example.org; dkim=pass header.d=example.org; dmarc=fail header.from=example.org",
                  "mx.example.org; dkim=fail header.d=other.example")  # fmt: skip
    assert authres.failures(msg, ["mx.example.org"], "example.org") == ["mx.example.org: dmarc=fail for example.org"]
    assert authres.failures(msg, [], "example.org") == []


def test_passing_and_absent_results_are_no_failure() -> None:
    assert authres.failures(message("mx.example.org; dkim=pass header.d=example.org"), ["mx.example.org"], "example.org") == []
    assert authres.failures(message(), ["mx.example.org"], "example.org") == []
    assert authres.failures(message("garbage without structure"), ["garbage"], "example.org") == []
