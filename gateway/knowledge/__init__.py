"""The knowledge base (issue 18, SPEC.md rule 5): documentation sections and past answers,
indexed with Polish terms that survive inflection and OCR (terms), read from files
(documents), kept in the database and ranked with BM25 (index), kept current (build), and
offered to consultants or added to answers (suggest)."""
