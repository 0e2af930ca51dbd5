# Duo Unix in Rust. `make demo` shows a login; `make check` runs every test.
CARGO   ?= cargo
PREFIX  ?= /usr
DESTDIR ?=

.PHONY: all build release demo check test unit e2e packaging-test lint bench install deb rpm clean

all: release

build:
	$(CARGO) build --workspace --all-targets

release:
	$(CARGO) build --release --workspace

# A full login_duo login against the bundled mock Duo service, on a pseudo-terminal:
# the menu, a push approval, then the wrapped command.
demo: build
	$(CARGO) run -q -p duo-tests --bin demo

# Every test: formatting, lints, unit tests, end-to-end tests (real libpam, sudo, sshd,
# setuid login_duo against the mock service), then the package tests.
check: lint build
	$(CARGO) test --workspace --no-fail-fast
	$(MAKE) packaging-test

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

packaging-test: release
	if [ -f tests/packaging/test-packages.sh ]; then bash tests/packaging/test-packages.sh; else echo "package tests not written yet"; fi

bench: release
	$(CARGO) run --release -q -p duo-tests --bin bench

install: release
	bash packaging/install.sh "$(DESTDIR)" "$(PREFIX)"

deb: release
	bash packaging/build-deb.sh

rpm: release
	bash packaging/build-rpm.sh

clean:
	$(CARGO) clean
	rm -rf dist
