"""Authentication-Results (RFC 8601): what our own receiving MTA found out about a sender.

Only results stamped by a server we trust (its authserv-id in the config) mean anything:
anyone can write such a header into a message. Where a trusted server is configured it
must vouch for the From's domain: dmarc=pass, or dkim=pass by the From's domain or a
parent of it (relaxed alignment without a public-suffix list: a passing signature for a
public suffix such as com.pl cannot be made, since nobody can publish its key). Silence,
none, fail, temperror and permerror all leave the sender unproven.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from parsers.mime import ParsedMessage

_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"^\s*(?P<method>[a-z0-9_-]+)\s*=\s*(?P<result>[a-z]+)\b(?P<props>.*)$", re.IGNORECASE | re.DOTALL)
_PROP = re.compile(r"(?P<key>[a-z0-9_.-]+)\s*=\s*(?P<value>\"[^\"]*\"|[^\s;]+)", re.IGNORECASE)
FAILING = {"fail", "temperror", "permerror"}  # a DMARC result that settles it


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


def unverified(msg: ParsedMessage, trusted: Iterable[str], domain: str) -> list[str]:
    """Why the trusted servers do not vouch for `domain` (the From's); empty when they do,
    or when no server is trusted (nothing can be checked then)."""
    trusted_ids = {t.lower() for t in trusted}
    if not trusted_ids:
        return []
    domain = domain.lower()
    found = [(authserv, r) for authserv, results in _stamped(msg, trusted_ids) for r in results]
    if not found:
        return [f"no authentication results from {', '.join(sorted(trusted_ids))}"]
    failed = [f"{a}: dmarc={r.result} for {domain}" for a, r in found
              if r.method == "dmarc" and r.result in FAILING and (r.about() or domain) == domain]  # fmt: skip
    if failed:  # the domain's own policy refused it, whatever else passed
        return failed
    if any(_vouches(r, domain) for _, r in found):
        return []  # one aligned signature is enough: another may have broken on the way (a list footer)
    seen = "; ".join(f"{a}: {r.method}={r.result}" + (f" for {r.about()}" if r.about() else "") for a, r in found)
    return [f"neither dmarc=pass nor an aligned dkim=pass for {domain} ({seen})"]


def _stamped(msg: ParsedMessage, trusted_ids: set[str]) -> list[tuple[str, tuple[Result, ...]]]:
    parsed = [parse(v) for k, v in msg.headers if k.lower() == "authentication-results"]
    return [(authserv, results) for authserv, results in parsed if authserv in trusted_ids]


def _vouches(r: Result, domain: str) -> bool:
    """dmarc=pass for the From's domain, or dkim=pass signed by it or a parent domain."""
    if r.result != "pass":
        return False
    if r.method == "dmarc":
        return (r.prop("header.from") or domain) == domain
    signer = r.prop("header.d") or (r.prop("header.i") or "").rpartition("@")[2]
    return r.method == "dkim" and bool(signer) and _within(domain, signer)


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
