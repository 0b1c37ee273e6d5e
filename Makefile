# Rondo: the two commands a new machine needs are `make up` and `make test`.
SHELL := /bin/bash
NPM_STAMP := node_modules/.package-lock.json

# A supported Node.js first on PATH: the machine's when it is 20.19+, else one provided from the npm
# registry (scripts/ensure-node.sh; a fresh Debian 12 has Node 18 or none).
NODE_BIN := $(shell scripts/ensure-node.sh)
ifneq ($(.SHELLSTATUS),0)
$(error Rondo needs Node.js 20.19+, 22 or 24; see the message above)
endif
ifneq ($(NODE_BIN),)
export PATH := $(NODE_BIN):$(PATH)
# nodejs.org's binaries trust only their own CA list; the machine's bundle is what reaches the npm
# registry on networks with their own CA (Debian's node trusts it already).
export NODE_EXTRA_CA_CERTS ?= /etc/ssl/certs/ca-certificates.crt
endif

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
	# A real Kubernetes for test/deploy/kube-cluster.test.ts, built once from Debian's source package
	# and cached outside the checkout (~10 min cold; nothing when cached).
	@scripts/kube-build.sh > /dev/null
	# Platform tests (real containers under load) run one file at a time so timings stay honest.
	npm run --silent test
	@scripts/test-newest-node.sh

lint: deps
	npm run --silent lint

format: deps
	npm run --silent format

bench: build
	@scripts/install-deps.sh test
	npm run --silent bench
