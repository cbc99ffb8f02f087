"""The service: `hotline run` (the daemon and its job table), systemd's notify protocol
and the metrics endpoint."""
