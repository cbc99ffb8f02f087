"""The auditors' register (`export.py`, `html.py`) and the reply log an auditor can check
without our code: RFC 6962 Merkle hashing, signed checkpoints in the C2SP signed-note
format, and the entries written with the changes they record (SPEC "Register and reply log")."""
