# Rondo: the two commands a new machine needs are `make up` and `make test`.
SHELL := /bin/bash
NPM_STAMP := node_modules/.package-lock.json

.PHONY: up down test lint format bench build deps

# `npm install` rather than `npm ci`: npm 11 leaves other platforms' optional packages (Biome's
# binaries) out of the lock file and `npm ci` then refuses it; install honours the lock all the same.
$(NPM_STAMP): package.json package-lock.json
	npm install --no-audit --no-fund --no-save --loglevel=error
	@touch $@

deps: $(NPM_STAMP)

build: deps
	npm run --silent build

## up: install what is missing, then start Rondo in the background and print the URL and admin token.
up: build
	@scripts/install-deps.sh runtime
	@ln -sf "$(CURDIR)/bin/rondo" /usr/local/bin/rondo 2>/dev/null || echo "note: could not link /usr/local/bin/rondo; use ./bin/rondo"
	@./bin/rondo up
	@./bin/rondo images bootstrap --if-missing

down:
	@./bin/rondo down

## test: install what is missing (PostgreSQL included), then run every test on both store drivers.
test: build
	@scripts/install-deps.sh test
	# Platform tests (real containers under load) run one file at a time so timings stay honest.
	npm run --silent test

lint: deps
	npm run --silent lint

format: deps
	npm run --silent format

bench: build
	@scripts/install-deps.sh test
	npm run --silent bench
