"""What the HOT-01 parser returns: the fields found, each with how sure it is (see the
package's docstring for the confidence)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class Field:
    value: str
    confidence: float  # 0..1


@dataclass(frozen=True, slots=True)
class Hot01Form:
    is_form: bool  # False: no HOT-01 found; then only `question` is set, to the whole text
    form_date: date | None
    date: Field | None  # as written
    reference: Field | None  # znak
    user_name: Field | None
    office: Field | None
    return_phones: tuple[str, ...]  # E.164, e.g. "+48221234567"
    return_faxes: tuple[str, ...]
    return_emails: tuple[str, ...]
    contacts: Field | None  # the return-contact line as written
    question: Field
