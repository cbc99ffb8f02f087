# hotline: the two set-up commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
CONFIG ?= config/hotline.example.toml
# Debian packages the daemon and its test suite use; installed when missing (as root).
DEB_PACKAGES := python3-venv postgresql dovecot-imapd systemd openssl tesseract-ocr tesseract-ocr-pol tesseract-ocr-eng fonts-dejavu-core fonts-liberation jbig2dec faketime chromium chromium-driver strace

.PHONY: run test bench deps venv clean

deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "missing Debian packages:$$missing (run as root or install them)"; exit 1; fi; \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

run: deps venv config/var/token-secret config/var/register-key
	$(VENV)/bin/hotline --config $(CONFIG) db upgrade
	exec $(VENV)/bin/hotline --config $(CONFIG) run

config/var/token-secret:  # the reply-token key of the embedded config (paths are relative to it), made once
	mkdir -p config/var && (umask 077 && head -c 32 /dev/urandom | base64 > $@)

config/var/register-key:  # the reply log's signing key of the embedded config, made once
	mkdir -p config/var && (umask 077 && openssl genpkey -algorithm ed25519 -out $@)

test: deps venv
	$(VENV)/bin/pytest -q

bench: deps venv
	$(PY) bench/ingest_bench.py
	$(PY) bench/speed_bench.py
	$(PY) bench/hostile_bench.py
	$(PY) bench/ocr_bench.py
	$(PY) bench/forms_bench.py
	$(PY) bench/queue_bench.py
	$(PY) bench/startup_bench.py
	$(PY) bench/sla_bench.py
	$(PY) bench/register_bench.py
	$(PY) bench/replylog_bench.py
	$(PY) bench/kb_bench.py
	$(PY) bench/several_bench.py

clean:
	rm -rf $(VENV) config/var .pytest_cache
