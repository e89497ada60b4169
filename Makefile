# OpenProctor — the two commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
MANAGE := $(PY) manage.py
HOST ?= 127.0.0.1
PORT ?= 8000

# The full stack profile: local PostgreSQL, Redis, Celery workers, dynalite and an S3-compatible
# server (moto's server mode, requirements-stack.txt) holding the biometric files in S3_BUCKET.
STACK_DB ?= openproctor
DYNAMODB_PORT ?= 4567
S3_PORT ?= 4569
S3_BUCKET ?= openproctor-evidence
# The production profile (DEBUG=0) on plain http on this machine: a generated SECRET_KEY kept in
# var/secret-key (600), no HTTPS redirect, HSTS or Secure-only cookies (a TLS proxy in production).
STACK_ENV := DEBUG=0 SECRET_KEY=$$(scripts/secret_key.sh var/secret-key) ALLOWED_HOSTS=127.0.0.1,localhost \
	SECURE_SSL_REDIRECT=0 SECURE_HSTS_SECONDS=0 SECURE_COOKIES=0 \
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/$(STACK_DB) \
	REDIS_URL=redis://127.0.0.1:6379/0 \
	DYNAMODB_ENDPOINT_URL=http://127.0.0.1:$(DYNAMODB_PORT) \
	S3_BUCKET=$(S3_BUCKET) S3_ENDPOINT_URL=http://127.0.0.1:$(S3_PORT) \
	AWS_ACCESS_KEY_ID=$${AWS_ACCESS_KEY_ID:-local} AWS_SECRET_ACCESS_KEY=$${AWS_SECRET_ACCESS_KEY:-local} \
	AWS_REGION=$${AWS_REGION:-us-east-1}
TEST_PG_URL := postgres://postgres@127.0.0.1:5432/openproctor

.PHONY: run stack worker stop bench-scale stop-scale test test-sqlite test-postgres test-browser lint bench model-card deps dev-deps browser-deps clean

$(VENV)/.installed: requirements.txt requirements-nodeps.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	$(PIP) install --quiet --no-deps -r requirements-nodeps.txt
	touch $@

$(VENV)/.stack-installed: $(VENV)/.installed requirements-stack.txt
	$(PIP) install --quiet -r requirements-stack.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed requirements-dev.txt requirements-stack.txt
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

deps: $(VENV)/.installed
dev-deps: $(VENV)/.dev-installed node_modules/.installed

run: deps node_modules/.installed
	$(MANAGE) migrate --noinput
	$(MANAGE) loaddemo
	@echo "Serving OpenProctor on http://$(HOST):$(PORT)/  (Ctrl-C to stop)"
	@# The periodic jobs (reminders, the retention purge, ...) beside the server: there is no celery beat here.
	$(MANAGE) periodic & trap 'kill $$! 2>/dev/null' EXIT; $(MANAGE) runserver $(HOST):$(PORT)

# WEB_PROCS web processes (ports PORT, PORT+1, ...; gunicorn, WEB_WORKERS workers x WEB_THREADS threads each)
# and WORKER_PROCS Celery worker processes (solo: one frame at a time each), plus beat, run under supervisord,
# which restarts any that dies; Ctrl-C stops them all. The config is generated (scripts/stack_nodes.py) into
# var/nodes/supervisord.conf; each process has its own working directory, log, TMPDIR and VAR_DIR under
# var/nodes/<name>/ and shares only PostgreSQL, Redis, DynamoDB and S3 with the others. Static files are
# collected into var/static for WhiteNoise (DEBUG=0 serves nothing from static/ itself), the release's one
# read-only tree that every node reads. Two solo workers by default, as the one worker of concurrency 2 before.
WEB_PROCS ?= 1
WORKER_PROCS ?= 2
WEB_WORKERS ?= 2
WEB_THREADS ?= 4
stack: deps $(VENV)/.stack-installed node_modules/.installed
	scripts/services.sh all $(STACK_DB)
	scripts/background.sh start dynalite node_modules/.bin/dynalite --port $(DYNAMODB_PORT)
	scripts/background.sh start s3 $(PY) -m moto.server -H 127.0.0.1 -p $(S3_PORT)
	mkdir -p var/log var/run
	$(STACK_ENV) $(MANAGE) migrate --noinput
	$(STACK_ENV) $(MANAGE) collectstatic --noinput --verbosity 0
	$(STACK_ENV) $(MANAGE) dynamodb_setup
	$(STACK_ENV) $(MANAGE) s3_setup
	$(STACK_ENV) $(MANAGE) loaddemo
	@echo "Serving OpenProctor (stack profile, DEBUG=0) on http://$(HOST):$(PORT)/  (Ctrl-C to stop; make stop ends dynalite and S3)"
	@echo "Logs in var/nodes/<name>/; status: $(VENV)/bin/supervisorctl -c var/nodes/supervisord.conf status"
	$(PY) scripts/stack_nodes.py --var var --web $(WEB_PROCS) --workers $(WORKER_PROCS) --host $(HOST) --port $(PORT) --web-workers $(WEB_WORKERS) --web-threads $(WEB_THREADS)
	$(STACK_ENV) $(VENV)/bin/supervisord -c var/nodes/supervisord.conf

worker: deps
	$(STACK_ENV) $(VENV)/bin/celery -A config worker --beat --loglevel=INFO

stop:
	-test -f var/nodes/supervisord.conf && $(VENV)/bin/supervisorctl -c var/nodes/supervisord.conf shutdown 2>/dev/null
	scripts/background.sh stop worker
	scripts/background.sh stop dynalite
	scripts/background.sh stop s3

# Chromium for the browser tests; espeak-ng and sox voice and mix the test speech (tests/proctoring/test_speech.py,
# tests/browser/test_listening.py, scripts/measure_speech.py).
browser-deps:
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	(command -v espeak-ng && command -v sox) >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng sox)

# The suite runs on SQLite (the embedded default) and on PostgreSQL side by side, each half with its own
# Redis database for its Celery workers; make prints each part when it ends (var/test-*.log meanwhile).
# The PostgreSQL half runs only the tests that use a database: the others answer the same on both
# (tests/conftest.py, DATABASE_TESTS_ONLY). The schema fuzzing runs on PostgreSQL only (it is the stricter: NUL
# bytes, 32-bit integers), the accessibility crawl and the CSP page walk on SQLite only (they judge the markup,
# which does not change with the database): SUITE_HALF, marker one_database. Each browser test runs in one half too
# (its module says which; tests/conftest.py refuses a browser test that does not): what depends on the database is
# tested below the browser on both, and run twice the browser tests took make test past 15 minutes. PostgreSQL has
# those whose server writes race (offline and late answers, the gate's approval), SQLite the rest.
# The browser tests of both halves run in a third process (test-browser: SUITE_PART, its own PostgreSQL test
# database and Redis databases) beside the other two: waiting on browsers, servers and workers, two processes
# left about 40% of two cores idle (vmstat 10 through a run).
test: dev-deps browser-deps
	scripts/services.sh all
	$(VENV)/bin/ruff check .
	mkdir -p var
	$(MAKE) --no-print-directory -j3 --output-sync=target test-sqlite test-postgres test-browser

test-sqlite: dev-deps
	@echo "=== Test suite on SQLite (embedded default; browser tests apart) ==="
	set -o pipefail; env -u DATABASE_URL -u REDIS_URL SUITE_HALF=sqlite SUITE_PART=rest $(VENV)/bin/pytest \
		--durations=25 2>&1 | tee var/test-sqlite.log

test-postgres: dev-deps
	@echo "=== Test suite on PostgreSQL (the tests that use a database; browser tests apart) ==="
	scripts/services.sh all
	set -o pipefail; env -u REDIS_URL DATABASE_URL=$(TEST_PG_URL) DATABASE_TESTS_ONLY=1 SUITE_HALF=postgresql \
		SUITE_PART=rest TEST_REDIS_URL=redis://127.0.0.1:6379/13 $(VENV)/bin/pytest --durations=25 \
		-o cache_dir=.pytest_cache/postgres 2>&1 | tee var/test-postgres.log

test-browser: dev-deps browser-deps
	@echo "=== Browser tests: the SQLite half's, then the PostgreSQL half's ==="
	scripts/services.sh all
	set -o pipefail; ( env -u DATABASE_URL -u REDIS_URL SUITE_HALF=sqlite SUITE_PART=browser \
		TEST_REDIS_URL=redis://127.0.0.1:6379/12 $(VENV)/bin/pytest --durations=15 -o cache_dir=.pytest_cache/browser \
		&& env -u REDIS_URL DATABASE_URL=$(TEST_PG_URL)_browser DATABASE_TESTS_ONLY=1 SUITE_HALF=postgresql \
		SUITE_PART=browser TEST_REDIS_URL=redis://127.0.0.1:6379/11 $(VENV)/bin/pytest --durations=10 \
		-o cache_dir=.pytest_cache/browser-postgres ) 2>&1 | tee var/test-browser.log

$(VENV)/.bench-installed: $(VENV)/.installed requirements-bench.txt requirements-bench-nodeps.txt
	command -v cmake >/dev/null || (apt-get update -qq && apt-get install -y -qq cmake)
	$(PIP) install --quiet -r requirements-bench.txt
	$(PIP) install --quiet --no-deps -r requirements-bench-nodeps.txt
	touch $@

bench: deps $(VENV)/.stack-installed node_modules/.installed $(VENV)/.bench-installed
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	scripts/services.sh all $(STACK_DB)
	scripts/background.sh start dynalite node_modules/.bin/dynalite --port $(DYNAMODB_PORT)
	scripts/background.sh start s3 $(PY) -m moto.server -H 127.0.0.1 -p $(S3_PORT)
	$(STACK_ENV) $(MANAGE) migrate --noinput
	$(STACK_ENV) $(MANAGE) dynamodb_setup
	$(STACK_ENV) $(MANAGE) s3_setup
	@echo "=== Analysis engine (local) ==="
	$(PY) -m proctoring.analysis.bench
	@echo "=== Analysis engine accuracy (../shared/data/images) ==="
	$(MANAGE) evaluate_engine --images ../shared/data/images
	@echo "=== Pipeline ==="
	$(STACK_ENV) $(PY) scripts/bench_pipeline.py
	$(STACK_ENV) $(PY) scripts/bench_face_store.py

# docs/model-card.md: the engine's models, licences and figures by condition, measured on the dev set.
model-card: deps
	$(MANAGE) model_card --images ../shared/data/images --output docs/model-card.md

lint: dev-deps
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) node_modules var

# The scale benchmark (scripts/bench_scale.py; printed, never asserted; about 5 minutes on 2 cores): its own
# share-nothing stack of SCALE_WEB web and SCALE_WORKERS worker nodes (var/scale/nodes/), database, Redis db
# and ports; an ingest-only phase at SCALE_INGEST_RATE frames/s for SCALE_INGEST_SECONDS, then a sweep of
# open-loop students (SCALE_STUDENTS, then half as many again each step until one fails; one frame per
# SCALE_INTERVAL s, SCALE_DURATION s a step), a run at 80% of the capacity found, and the capacity model for
# 10,000 students. The students sign in as the exam page does (SCALE_AUTH=session: a session cookie and CSRF
# token; token: an API token). SCALE_PROFILE=<folder> samples the nodes
# with py-spy (requirements-bench.txt). make stop-scale ends what it leaves running.
SCALE_DB ?= op_scale
SCALE_REDIS_DB ?= 6
SCALE_PORT ?= 8106
SCALE_DYNAMODB_PORT ?= 4606
SCALE_S3_PORT ?= 4607
SCALE_WEB ?= 2
SCALE_WORKERS ?= 2
SCALE_STUDENTS ?= 5,10,20,40,80
SCALE_INTERVAL ?= 5
SCALE_DURATION ?= 30
SCALE_INGEST_RATE ?= 300
SCALE_INGEST_SECONDS ?= 5
SCALE_PROFILE ?=
SCALE_AUTH ?= session
SCALE_ENV := $(subst REDIS_URL=redis://127.0.0.1:6379/0,REDIS_URL=redis://127.0.0.1:6379/$(SCALE_REDIS_DB),$(subst \
	/$(STACK_DB) ,/$(SCALE_DB) ,$(subst :$(DYNAMODB_PORT),:$(SCALE_DYNAMODB_PORT),$(subst :$(S3_PORT),:$(SCALE_S3_PORT),$(STACK_ENV)))))
bench-scale: deps $(VENV)/.stack-installed node_modules/.installed
	scripts/services.sh all $(SCALE_DB)
	scripts/background.sh start scale-dynalite node_modules/.bin/dynalite --port $(SCALE_DYNAMODB_PORT)
	scripts/background.sh start scale-s3 $(PY) -m moto.server -H 127.0.0.1 -p $(SCALE_S3_PORT)
	$(SCALE_ENV) $(MANAGE) migrate --noinput -v 0
	$(SCALE_ENV) STATIC_ROOT=$(CURDIR)/var/scale/static $(MANAGE) collectstatic --noinput --verbosity 0
	$(SCALE_ENV) $(MANAGE) dynamodb_setup
	$(SCALE_ENV) $(MANAGE) s3_setup
	$(SCALE_ENV) $(PY) scripts/bench_scale.py --var var/scale --web $(SCALE_WEB) --workers $(SCALE_WORKERS) \
		--port $(SCALE_PORT) --students $(SCALE_STUDENTS) --interval $(SCALE_INTERVAL) --duration $(SCALE_DURATION) \
		--ingest-rate $(SCALE_INGEST_RATE) --ingest-seconds $(SCALE_INGEST_SECONDS) --auth $(SCALE_AUTH) $(if $(SCALE_PROFILE),--profile $(SCALE_PROFILE)); status=$$?; $(STOP_SCALE); exit $$status

STOP_SCALE := (test ! -f var/scale/nodes/supervisord.conf || $(VENV)/bin/supervisorctl \
	-c var/scale/nodes/supervisord.conf shutdown >/dev/null 2>&1; scripts/background.sh stop scale-dynalite; \
	scripts/background.sh stop scale-s3)
stop-scale:
	-$(STOP_SCALE)
