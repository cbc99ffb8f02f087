"""The HOT-01 form (moving into modules by job: this step only renames the file)."""
from parsers.hot01.labels import (
    Field, Hot01Form, _parse, edit_distance, looks_like_form, match_label, not_a_form, parse_contacts, parse_date,
    parse_form,
)
