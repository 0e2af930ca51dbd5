#!/usr/bin/env bash
# Build pam_duo.so, login_duo and duo-check for glibc 2.17 and later (x86_64), the binaries
# the .deb and .rpm ship: `cargo zigbuild --release --target x86_64-unknown-linux-gnu.2.17`.
# Zig links against its own glibc 2.17 symbol stubs, so the result runs on RHEL/CentOS 7,
# Amazon Linux 2, Debian 8+ and Ubuntu 14.04+ as well as on this machine; no container, no old
# sysroot.
#
# Setup (quiet when already done): a Python venv with pinned `ziglang` (Zig's toolchain as a
# PyPI wheel) and `cargo-zigbuild` (a prebuilt wheel of the crates.io tool: nothing to compile),
# in $DUO_ZIG_VENV (default ~/.cache/duo-unix-rs/zig-venv).
#
# libpam: Zig searches no system library directory when it targets an explicit glibc. The
# module's build script (build-support/libpam_link.rs) puts a libpam.so symlink to this
# machine's libpam.so.0 in its own search directory, so -lpam resolves there and the module
# records the runtime soname libpam.so.0 and needs only libpam's LIBPAM_1.0 symbols (present
# in every Linux-PAM since 0.99).
#
# Prints the directory holding the three binaries (target/x86_64-unknown-linux-gnu/release, or
# under $CARGO_TARGET_DIR).
#
# `build-floor.sh --fips`: the same for the FIPS build (cargo feature fips, AWS-LC's FIPS
# module; needs cmake and Go) into target/fips/x86_64-unknown-linux-gnu/release. Its cmake
# build goes through packaging/zig-shim/zig, which works around `zig cc -S` writing nothing
# when a dependency file is asked for too.
set -euo pipefail
cd "$(dirname "$0")/.."
ZIGLANG_VERSION=0.15.2
ZIGBUILD_VERSION=0.24.1
FLOOR=2.17
venv=${DUO_ZIG_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/duo-unix-rs/zig-venv}

tools_ok() {
    [ -x "$venv/bin/cargo-zigbuild" ] && [ -x "$venv/bin/python3" ] \
        && [ "$("$venv/bin/python3" -m ziglang version 2>/dev/null)" = "$ZIGLANG_VERSION" ] \
        && "$venv/bin/cargo-zigbuild" --version 2>/dev/null | grep -qw "$ZIGBUILD_VERSION"
}
if ! tools_ok; then
    echo "build-floor: installing ziglang $ZIGLANG_VERSION and cargo-zigbuild $ZIGBUILD_VERSION into $venv" >&2
    python=$(command -v python3) || { echo "build-floor: python3 is needed (apt install python3 python3-venv)" >&2; exit 1; }
    mkdir -p "$(dirname "$venv")"
    rm -rf "$venv"
    "$python" -m venv "$venv" || { echo "build-floor: python3 -m venv failed (apt install python3-venv)" >&2; exit 1; }
    "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check \
        "ziglang==$ZIGLANG_VERSION" "cargo-zigbuild==$ZIGBUILD_VERSION" >&2
    tools_ok || { echo "build-floor: the zig toolchain does not run after installing it" >&2; exit 1; }
fi

target=${CARGO_TARGET_DIR:-target}
fips=()
venv_path=$venv/bin:
if [ "${1:-}" = --fips ]; then
    target=$target/fips
    fips=(--features pam_duo/fips,login_duo/fips,duo-check/fips)
    # cargo-zigbuild runs this zig instead of its own choice (the shim runs the venv's), from
    # compiler wrappers of its own (the default build's name the venv's zig directly).
    export CARGO_ZIGBUILD_ZIG_PATH=$PWD/packaging/zig-shim/zig DUO_ZIG_PYTHON=$venv/bin/python3
    export CARGO_ZIGBUILD_CACHE_DIR=$PWD/$target/zigbuild-cache
    # A python3 with ziglang on PATH would win over CARGO_ZIGBUILD_ZIG_PATH.
    venv_path=
fi

# cargo-zigbuild runs zig through `python3 -m ziglang` when no `zig` is on PATH: the venv's.
PATH=$venv_path$PATH "$venv/bin/cargo-zigbuild" zigbuild --quiet --release --target-dir "$target" \
    --target "x86_64-unknown-linux-gnu.$FLOOR" -p pam_duo -p login_duo -p duo-check "${fips[@]}" >&2
out=$target/x86_64-unknown-linux-gnu/release
for f in libpam_duo.so login_duo duo-check; do
    [ -f "$out/$f" ] || { echo "build-floor: $out/$f was not built" >&2; exit 1; }
done
echo "$out"
