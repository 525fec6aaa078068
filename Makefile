# Adal: the two commands a newcomer needs are `make run` and `make test`.
SWIFT ?= swift
SWIFT_FORMAT_PATHS = Sources Tests Package.swift

.PHONY: setup build run test lint bench clean

## Install the system packages Adal needs (PostgreSQL, libqrencode, pkg-config) when missing.
setup:
	@scripts/setup.sh

## Build the adal command.
build: setup
	$(SWIFT) build

## Start demo cities and serve them on http://127.0.0.1:8080 (data under ./.adal).
run: build
	$(SWIFT) run adal demo

## Build and run the whole test suite against a real, embedded PostgreSQL.
test: setup
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-xctest

## Benchmarks on a throw-away embedded PostgreSQL, release build.
bench:
	@scripts/setup.sh bench
	$(SWIFT) build -c release
	.build/release/adal bench audit
	.build/release/adal bench workflow
	.build/release/adal bench verify
	.build/release/adal bench rotation
	.build/release/adal bench meals

## Check formatting with the toolchain's swift-format and the committed .swift-format.
lint:
	$(SWIFT) format lint --strict --recursive $(SWIFT_FORMAT_PATHS)

clean:
	rm -rf .build
