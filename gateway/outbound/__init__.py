"""Outbound: the facts of the messages we send, their words (templates), headers and
PDFs, the loop governor, the outbox (a queue of durable states), its worker and the
transports (SMTP relay, Maildir)."""
