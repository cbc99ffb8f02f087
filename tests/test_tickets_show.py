"""`hotline tickets show` lets a person see why a ticket needs them: its events (review
reasons among them), its attachments, and the text OCR read from a faxed form."""
from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from tests import formfactory as ff
from tests import mailfactory as mf
from tests.support import Hotline, ingest_raw, show_ticket, write_config
from tests.test_fax_ingest import FIELDS, GATEWAY

NO_CONTACT = replace(FIELDS, contacts="")  # nothing on the form, and the gateway names no number
NO_WAY_BACK = "no return contact: no e-mail, fax or phone on the form and no sender fax number"


def test_show_lists_events_review_reasons_attachments_and_the_ocr_text(db_url: str, tmp_path: Path) -> None:
    hotline = Hotline(write_config(tmp_path / "c.toml", db_url, f'[fax]\ngateway_senders = ["{GATEWAY}"]\n'))
    tiff = ff.to_g4_tiff([ff.render_form(NO_CONTACT, header_line=None)])
    raw = mf.make_message(subject="Fax received", sender=f"Fax Server <{GATEWAY}>", body="See attachment.\n",
                          attachments=[("form.tif", "image/tiff", tiff)], message_id="<fax.show@example.org>")  # fmt: skip
    line = ingest_raw(hotline, tmp_path, raw)
    ticket = show_ticket(hotline, line["ticket"])

    assert ticket["needs_review"] is True and NO_WAY_BACK in ticket["review_reasons"]
    kinds = [e["kind"] for e in ticket["events"]]
    assert kinds[:2] == ["created", "needs_review"] and "ack_skipped" in kinds
    (review,) = [e for e in ticket["events"] if e["kind"] == "needs_review"]
    assert review["data"]["reasons"] == ticket["review_reasons"] and review["at"].endswith("Z")
    (question,) = ticket["messages"]
    original, ocr = question["attachments"]
    assert original == {"filename": "form.tif", "content_type": "image/tiff", "size": len(tiff),
                        "sha256": hashlib.sha256(tiff).hexdigest(), "ocr_text": False}  # fmt: skip
    assert ocr["filename"] == "form.tif.ocr.txt" and ocr["ocr_text"] is True and ocr["content_type"] == "text/plain"

    text = hotline("tickets", "show", line["ticket"])
    assert text.code == 0
    assert f"  review reason:         {NO_WAY_BACK}" in text.out.splitlines()
    assert f"    [attachment] form.tif (image/tiff, {len(tiff)} bytes, sha256 {original['sha256']})" in text.out
    assert f"    [OCR text] form.tif.ocr.txt (text/plain, {ocr['size']} bytes, sha256 {ocr['sha256']})" in text.out
    events = text.out.split("\nEvents:\n")[1].splitlines()
    assert len(events) == len(ticket["events"]) and "needs_review" in events[1] and NO_WAY_BACK in events[1]
