"""Authentication-Results (RFC 8601): what our own receiving MTA found out about a sender.

Only results stamped by a server we trust (its authserv-id in the config) mean anything:
anyone can write such a header into a message. A trusted "dkim=fail" or "dmarc=fail" for
a domain tells us the From was forged.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from parsers.mime import ParsedMessage

_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"^\s*(?P<method>[a-z0-9_-]+)\s*=\s*(?P<result>[a-z]+)\b(?P<props>.*)$", re.IGNORECASE | re.DOTALL)
_PROP = re.compile(r"(?P<key>[a-z0-9_.-]+)\s*=\s*(?P<value>\"[^\"]*\"|[^\s;]+)", re.IGNORECASE)
FAILING = {"dkim": {"fail"}, "dmarc": {"fail"}}


@dataclass(frozen=True, slots=True)
class Result:
    method: str  # dkim, spf, dmarc, ...
    result: str  # pass, fail, none, ...
    props: tuple[tuple[str, str], ...]  # header.d=example.org, header.from=example.org, ...

    def prop(self, key: str) -> str | None:
        return next((v for k, v in self.props if k == key), None)

    def about(self) -> str | None:
        """The domain the result is for (the signing domain, or the From's)."""
        return self.prop("header.d") or self.prop("header.from") or (self.prop("header.i") or "").rpartition("@")[2] or None


def _within(name: str, domain: str) -> bool:
    return name == domain or name.endswith("." + domain)


def parse(value: str) -> tuple[str, tuple[Result, ...]]:
    """`mx.example.org; dkim=fail header.d=example.org` -> ("mx.example.org", (Result...))."""
    text = _strip_comments(value)
    parts = _split(text)
    authserv = parts[0].split()[0].lower() if parts and parts[0].split() else ""
    results = []
    for part in parts[1:]:
        match = _RESULT.match(part)
        if match is None:
            continue
        props = tuple((p["key"].lower(), p["value"].strip('"').lower()) for p in _PROP.finditer(match["props"]))
        results.append(Result(match["method"].lower(), match["result"].lower(), props))
    return authserv, tuple(results)


def failures(msg: ParsedMessage, trusted: Iterable[str], domain: str) -> list[str]:
    """The failed DKIM/DMARC results a trusted server recorded for `domain` (the From's)."""
    trusted_ids = {t.lower() for t in trusted}
    domain = domain.lower()
    found = []
    for name, value in msg.headers:
        if name.lower() != "authentication-results":
            continue
        authserv, results = parse(value)
        if authserv not in trusted_ids:
            continue
        for r in results:
            about = r.about()
            if r.result in FAILING.get(r.method, ()) and (about is None or _within(about, domain)):
                found.append(f"{authserv}: {r.method}={r.result}" + (f" for {about}" if about else ""))
    return found


def _strip_comments(value: str) -> str:
    previous = None
    while previous != value:  # nested comments, innermost first
        previous, value = value, _COMMENT.sub(" ", value)
    return value


def _split(text: str) -> list[str]:
    """Split on semicolons outside quoted strings."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]
