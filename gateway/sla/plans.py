"""The plan a new ticket falls under, and the terms recorded on it at receipt: a later
change of the config never rewrites an old ticket's targets."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.settings import SEVERITIES, SlaSection


@dataclass(frozen=True, slots=True)
class Terms:
    """A plan as it stood at receipt: its rank in the queue, the calendar and the targets
    (working minutes per clock; None for rule 3) of every severity."""

    plan: str
    rank: int
    calendars: Mapping[str, str]  # severity -> calendar name
    targets: Mapping[str, Mapping[str, int | None]]  # severity -> clock -> minutes

    def json(self) -> dict[str, Any]:
        return {"plan": self.plan, "rank": self.rank, "calendars": dict(self.calendars),
                "targets": {s: dict(t) for s, t in self.targets.items()}}  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Terms:
        return cls(data["plan"], int(data["rank"]), dict(data["calendars"]), {s: dict(t) for s, t in data["targets"].items()})


def matches(entry: str, addresses: Sequence[str], office: str | None) -> bool:
    """`match` entries: "@domain", an address, or an office name as the form gives it."""
    entry = entry.strip().casefold()
    if entry.startswith("@"):
        return any(a.casefold().endswith(entry) for a in addresses)
    if "@" in entry:
        return any(a.strip().casefold() == entry for a in addresses)
    return office is not None and " ".join(office.split()).casefold() == " ".join(entry.split())


def terms_for(sla: SlaSection, addresses: Sequence[str], office: str | None) -> Terms:
    """The first plan that matches the sender or the office, else `default_plan`."""
    names = list(sla.plans)
    name = next((n for n, p in sla.plans.items() if any(matches(e, addresses, office) for e in p.match)), sla.default_plan)
    plan = sla.plans[name]
    return Terms(name, names.index(name), {s: plan.calendar_for(int(s)) for s in SEVERITIES},
                 {s: plan.targets[s].minutes() for s in SEVERITIES})  # fmt: skip


def default_severity(sla: SlaSection, plan: str) -> int:
    return sla.plans[plan].default_severity
