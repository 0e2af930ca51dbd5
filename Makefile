# Duo Unix in Rust. `make demo` shows a login; `make check` runs every test; `make help` lists
# every target.
CARGO   ?= cargo
PREFIX  ?= /usr
DESTDIR ?=
# Seconds per target for `make fuzz` (each also stops after 10 million executions) and for the
# fuzzing part of `make fuzz-smoke`.
FUZZ_SECONDS ?= 180
FUZZ_SMOKE_SECONDS ?= 3

TARGETS := help all build release floor demo deps check test unit e2e packaging-test lint bench \
           install deb rpm clean fuzz fuzz-smoke fips fips-test deb-fips rpm-fips crypto-hot
FLOOR_DIR = target/x86_64-unknown-linux-gnu/release
# `make bench` compares this build with the release build of BENCH_BASE (the last commit on
# ring, before AWS-LC: issue 22), built from `git archive` in its own target directory.
BENCH_BASE ?= 3316450
# The FIPS build (AWS-LC's FIPS module, docs/BEHAVIOUR.md §0a D16) has its own target directory,
# kept between runs like target/ itself: the first build takes minutes (cmake and Go).
FIPS_DIR = target/fips
FIPS_FEATURES = --features pam_duo/fips,login_duo/fips,duo-check/fips -p pam_duo -p login_duo -p duo-check
BASE_DIR = target/bench-base-$(BENCH_BASE)
.PHONY: $(TARGETS)

# The first target, so that a bare `make` lists the others. Keep one line per target of
# TARGETS (`make lint` checks that none is missing).
help:
	@echo "make help            this list"
	@echo "make all             same as make release"
	@echo "make build           debug build of every crate, test and tool (cargo build --workspace --all-targets)"
	@echo "make release         release build of pam_duo.so and login_duo (target/release)"
	@echo "make floor           the same for glibc 2.17 and later, what the packages ship ($(FLOOR_DIR))"
	@echo "make demo            a login_duo login against the bundled mock Duo service (no root, no network)"
	@echo "make deps            install the Debian packages the tests need, if any is missing (root)"
	@echo "make check           every test: deps, lint, unit and end-to-end tests, fuzz smoke, package tests (root)"
	@echo "make test            unit and end-to-end tests (as a user, the root-only ones are listed as ignored; no FIPS tests)"
	@echo "make unit            unit tests only (no root needed)"
	@echo "make e2e             end-to-end tests only: libpam, sudo, sshd, setuid, fault matrix (root)"
	@echo "make packaging-test  build, inspect, install and purge the .deb; inspect the .rpm; glibc 2.17 floor (root)"
	@echo "make lint            rustfmt check, clippy with warnings denied, this help list complete"
	@echo "make bench           CPU, memory and latency of a login against the mock service: native, floor and BENCH_BASE build"
	@echo "make fuzz            every fuzz target for FUZZ_SECONDS (default $(FUZZ_SECONDS)) or 10 million runs each"
	@echo "make fuzz-smoke      every fuzz target on its committed seeds, then $(FUZZ_SMOKE_SECONDS) s of fuzzing each"
	@echo "make install         install into DESTDIR/PREFIX (PREFIX=$(PREFIX))"
	@echo "make deb             build the Debian package (glibc 2.17 build) into dist/"
	@echo "make rpm             build the RPM package (glibc 2.17 build) into dist/"
	@echo "make fips            release build of the three binaries with AWS-LC's FIPS module ($(FIPS_DIR)/release; needs cmake, Go)"
	@echo "make deb-fips        the Debian package from the FIPS build (glibc 2.17) into dist/fips/"
	@echo "make rpm-fips        the RPM package from the FIPS build (glibc 2.17) into dist/fips/"
	@echo "make crypto-hot      regenerate build-support/crypto-hot.ld from a profiled login (valgrind; after updating aws-lc-sys)"
	@echo "make fips-test       debug FIPS build ($(FIPS_DIR)/debug) and its end-to-end tests against the mock (root)"
	@echo "make clean           remove target/ and dist/"

all: release

build:
	$(CARGO) build --workspace --all-targets

release:
	$(CARGO) build --release --workspace

# pam_duo.so and login_duo for glibc 2.17 and later, into $(FLOOR_DIR): what the packages ship.
# The first run installs zig and cargo-zigbuild from PyPI into a venv (packaging/build-floor.sh).
floor:
	bash packaging/build-floor.sh >/dev/null

# A full login_duo login against the bundled mock Duo service, on a pseudo-terminal:
# the menu, a push approval, then the wrapped command. Builds only what the demo runs, so it
# needs neither root nor the PAM development files.
demo:
	$(CARGO) build -q -p login_duo -p duo-tests --bin login_duo --bin demo --bin mockduo
	$(CARGO) run -q -p duo-tests --bin demo

deps:
	bash tests/deps.sh

NOT_ROOT := make check must run as root (its tests create users, PAM services and setuid files, and install a package): run 'sudo make check', or 'make unit' for the unit tests alone

# The root-only end-to-end tests are marked #[ignore = "needs root"] and run here with
# --include-ignored; the `installed_*` ones need the package and run in packaging-test.
# Every test: formatting, lints, unit tests, end-to-end tests (real libpam, sudo, sshd,
# setuid login_duo against the mock service; the FIPS build's too, built first into
# $(FIPS_DIR)), a smoke run of every fuzz target, then the package tests (the FIPS package's
# floor checks and Debian 11 logins included). tests/sshd-roots.sh makes the Debian trees
# whose sshd the ssh-screen tests also run (once, from the Debian mirror; kept in
# target/sshd-roots/); when it cannot, the other tests still run and the rows that need a
# tree fail, with its reason.
check:
	$(if $(filter 0,$(shell id -u)),,$(error $(NOT_ROOT)))
	bash tests/deps.sh
	-bash tests/sshd-roots.sh
	$(MAKE) lint
	$(MAKE) build
	$(CARGO) build --target-dir $(FIPS_DIR) $(FIPS_FEATURES)
	$(CARGO) test --workspace --no-fail-fast -- --include-ignored --skip installed_
	$(MAKE) fuzz-smoke
	$(MAKE) packaging-test

test: build
	$(CARGO) test --workspace --no-fail-fast -- $(if $(filter 0,$(shell id -u)),--include-ignored --skip installed_ --skip fips_)

unit:
	$(CARGO) test --workspace --lib --bins --no-fail-fast

e2e: build
	$(CARGO) build --target-dir $(FIPS_DIR) $(FIPS_FEATURES)
	$(CARGO) test -p duo-tests --test '*' --no-fail-fast -- --include-ignored --skip installed_

# Every fuzz target (fuzz/, cargo-fuzz + libFuzzer) for FUZZ_SECONDS each, growing the
# uncommitted corpus in fuzz/corpus/; fails on any crash or broken property.
fuzz:
	bash fuzz/run.sh long $(FUZZ_SECONDS)

# Every committed seed and regression input of every fuzz target, then FUZZ_SMOKE_SECONDS of
# fuzzing each: a parser that panics on the corpus fails `make check`.
fuzz-smoke:
	bash fuzz/run.sh smoke $(FUZZ_SMOKE_SECONDS)

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) fmt --manifest-path fuzz/Cargo.toml -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	@help="$$($(MAKE) -s --no-print-directory help)"; for t in $(TARGETS); do \
	    case "$$help" in *"make $$t "*) ;; *) echo "make help does not describe '$$t'" >&2; exit 1;; esac; \
	done

packaging-test: release
	if [ -f tests/packaging/test-packages.sh ]; then bash tests/packaging/test-packages.sh; else echo "package tests not written yet"; fi

# Measures today's native build and, alternating with it, the glibc 2.17 build the packages ship
# and the release build of BENCH_BASE (says whether this build's login costs 10 % more CPU or RSS).
bench: release floor
	@[ -f $(BASE_DIR)/src/Cargo.toml ] || { mkdir -p $(BASE_DIR)/src && git archive $(BENCH_BASE) | tar -x -C $(BASE_DIR)/src; }
	$(CARGO) build --release -q --manifest-path $(BASE_DIR)/src/Cargo.toml --target-dir $(CURDIR)/$(BASE_DIR)/target -p pam_duo -p login_duo -p duo-check
	$(CARGO) run --release -q -p duo-tests --bin bench -- --compare $(CURDIR)/$(FLOOR_DIR) --label "glibc 2.17 build" \
	    --baseline $(CURDIR)/$(BASE_DIR)/target/release --label "$(BENCH_BASE) (ring)"

install: release
	bash packaging/install.sh "$(DESTDIR)" "$(PREFIX)"

# Both packages ship the glibc 2.17 build; the scripts run packaging/build-floor.sh themselves.
deb:
	bash packaging/build-deb.sh

rpm:
	bash packaging/build-rpm.sh

deb-fips:
	DUO_FIPS=1 bash packaging/build-deb.sh

rpm-fips:
	DUO_FIPS=1 bash packaging/build-rpm.sh

# The linker script that gathers the AWS-LC code and data a login uses (docs/ARCHITECTURE.md
# "Cryptography"): profiles logins of the release build against the mock with callgrind.
crypto-hot: release
	$(CARGO) build --release -q -p duo-tests --bin mockduo
	python3 build-support/crypto-hot.py

fips:
	$(CARGO) build --release --target-dir $(FIPS_DIR) $(FIPS_FEATURES)

fips-test: build
	$(CARGO) build --target-dir $(FIPS_DIR) $(FIPS_FEATURES)
	$(CARGO) test -p duo-tests --test fips --no-fail-fast -- --include-ignored

clean:
	$(CARGO) clean
	rm -rf dist
