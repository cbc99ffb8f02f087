"""The auditors' register (export) and the reply log."""
