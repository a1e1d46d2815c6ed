# Both targets set everything up on a fresh machine with only Python 3.11: a local uv, then the
# locked environment from uv.lock.
UV_VERSION := 0.13.9
UV := .tools/bin/uv

# The project's own modules and tests are compiled once and kept (in __pycache__/, ignored by git),
# even where the environment says not to write bytecode: otherwise every process (each test
# worker, each `liia` a test or a service starts) compiles them again, and pytest rewrites every
# test module's assertions again, about 2.5 CPU-seconds a test process.
unexport PYTHONDONTWRITEBYTECODE

$(UV):
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

# The environment's interpreter: Debian's python3.11 where the machine has it. Debian builds it
# with profile-guided and link-time optimisation, which a Python built from source leaves out by
# default (pyenv's, this machine's python3): the same pipeline run costs 11-13% less CPU on it, a
# pure-Python loop 21% less. Anywhere else, python3. A change of interpreter remakes .venv.
PYTHON := $(or $(wildcard /usr/bin/python3.11),$(shell command -v python3))

.venv: $(UV) pyproject.toml uv.lock Makefile
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	touch .venv

# The download page test opens reports/index.html in Debian's chromium; the run-history test
# starts a real PostgreSQL server from Debian's postgresql package.
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

# The DuckDB clients analysts have, older than the project's own (Python 2.0, CLI 1.5.6), for the
# warehouse README's recipes: the Python client 1.1 and the oldest CLI on PyPI (1.4), each locked.
CLIENTS := .tools/clients
# (uv's own environments: no pip in them, made in moments where `python -m venv` takes seconds.)
$(CLIENTS)/%/bin/python: tests/clients/%.txt $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(CLIENTS)/$*
	$(UV) pip install --quiet --python $@ --require-hashes -r $<

clients: $(CLIENTS)/duckdb-1.1/bin/python $(CLIENTS)/duckdb-cli-1.4/bin/python

.PHONY: run serve test lint chromium postgresql libreoffice benchmark clients
chromium:
	@(command -v chromium >/dev/null || command -v chromium-browser >/dev/null) && \
	  command -v chromedriver >/dev/null || \
	  ($(SUDO) apt-get update -qq && \
	   $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	     chromium chromium-driver)

# The web front door's pages use the GOV.UK Design System; its browser tests run axe-core. Both
# are npm packages, locked in package-lock.json (Debian's nodejs and npm if the machine lacks them).
node_modules: package.json package-lock.json
	@command -v npm >/dev/null || \
	  ($(SUDO) apt-get update -qq && \
	   $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm)
	npm ci --no-audit --no-fund --silent
	touch node_modules

postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  ($(SUDO) apt-get update -qq && \
	   $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql)

# LibreOffice renders the workbooks for the render test; Carlito and Liberation have Calibri's and
# Arial's metrics, so text wraps and fits as it does in Excel.
libreoffice:
	@(command -v soffice >/dev/null && command -v pdftotext >/dev/null && \
	  fc-match Calibri | grep -q Carlito) || \
	  ($(SUDO) apt-get update -qq && \
	   $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	     libreoffice-calc poppler-utils fonts-crosextra-carlito fonts-liberation2)

run: .venv node_modules
	$(UV) run --frozen liia run --all

# The web front door on http://127.0.0.1:8000 (its database is made or brought up to date first).
serve: .venv node_modules
	LIIA_WEB_BEHIND_TLS=0 $(UV) run --frozen liia serve

test: .venv node_modules clients chromium postgresql libreoffice
	$(UV) run --frozen ruff check .
	$(UV) run --frozen lint-imports --no-logo
	@rm -rf .tools/test-results && mkdir -p .tools/test-results
	@# The tests of real servers mostly wait on them: they run in a stream of their own beside the
	@# rest, which takes both cores, two at a time (one after another they took longer than the
	@# rest); the ten slowest of both are printed at the end. Both streams share one cache of DfE's
	@# table (LIIA_CACHE), so the suite reads it once, and one temporary folder (TMPDIR, traversable
	@# by PostgreSQL's user), removed at the end: whatever a test, or a process it started, left
	@# there fails the suite (pytest's own folders, pytest-of-*, aside; uv's lock stays outside).
	@# Ctrl-C stops both: a command put in the background by sh ignores it unless told otherwise
	@# (env --default-signal), and the shell waits for both streams' teardown (which stops their
	@# servers) before removing the folder.
	tmp=$$(mktemp -d -t liia-test-XXXXXX); chmod 711 "$$tmp"; mkdir "$$tmp/cache"; \
	export LIIA_CACHE=$$tmp/cache; \
	trap 'echo "Interrupted: stopping both streams..."; wait; rm -rf "$$tmp"; echo "Stopped."; exit 130' INT TERM; \
	env --default-signal=INT \
	$(UV) run --frozen env TMPDIR=$$tmp pytest -q -p no:cacheprovider --numprocesses 2 -m real_servers \
	  --junitxml=.tools/test-results/servers.xml > .tools/test-results/servers.log 2>&1 & \
	servers=$$!; \
	$(UV) run --frozen env TMPDIR=$$tmp pytest -q --numprocesses 2 -m "not real_servers" \
	  --junitxml=.tools/test-results/main.xml; main=$$?; \
	wait $$servers; others=$$?; \
	echo "--- the real servers' stream:"; \
	if [ $$others -eq 0 ]; then tail -n 1 .tools/test-results/servers.log; \
	else cat .tools/test-results/servers.log; fi; \
	$(UV) run --frozen python -m tests.slowest .tools/test-results/*.xml; \
	left=$$(ls -A "$$tmp" | grep -v -x -e cache -e 'pytest-of-.*'); rm -rf "$$tmp"; \
	if [ -n "$$left" ]; then \
	  echo "Left behind in the temporary folder (whatever makes a file there removes it):"; \
	  echo "$$left" | sed 's/^/    /'; fi; \
	exit $$(( main || others || $${#left} ))

lint: .venv
	$(UV) run --frozen ruff format --check .

# make benchmark BASELINE=<commit> also measures a quarter with that commit's code, in turns.
benchmark: .venv node_modules
	$(UV) run --frozen python -m benchmarks.run $(if $(BASELINE),--baseline $(BASELINE))
