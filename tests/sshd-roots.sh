#!/usr/bin/env bash
# Debian userlands with other OpenSSH servers than the host's, for tests/tests/sshd_screen.rs
# (issue 23): each is a debootstrap --variant=minbase tree with openssh-server, kept in
# $DUO_SSHD_ROOTS/<suite> (default target/sshd-roots) and made only when missing, so the
# first run downloads about 45 MB per suite and takes a minute or two, later runs nothing.
# The tests never write into a tree: they run its sshd in a private mount namespace, chrooted
# into an overlay of it.
#
#   trixie (Debian 13, OpenSSH 10.0p1): holds PAM's informational messages back until the next
#          prompt or the end of the stack, as Debian 12's 9.2p1 does;
#   sid    (Debian unstable, OpenSSH 10.3p1 or later): shows them at once (upstream 10.3:
#          "immediately report interactive instructions to clients").
#
# Usage: bash tests/sshd-roots.sh [SUITE...]   (as root; default: trixie sid)
# Settings: DUO_SSHD_ROOTS (target/sshd-roots), DUO_SSHD_MIRROR (http://deb.debian.org/debian).
# Prints the path of each tree and its openssh-server version; exits non-zero, saying why,
# when a tree cannot be made.
set -uo pipefail
cd "$(dirname "$0")/.."

roots=${DUO_SSHD_ROOTS:-$PWD/target/sshd-roots}
mirror=${DUO_SSHD_MIRROR:-http://deb.debian.org/debian}
[ $# -gt 0 ] || set -- trixie sid

[ "$(id -u)" = 0 ] || { echo "tests/sshd-roots.sh: must run as root (debootstrap)" >&2; exit 1; }
mkdir -p "$roots" || exit 1
# One maker at a time (tests and make may start this in parallel).
exec 9>"$roots/.lock"
flock -w 1200 9 || { echo "tests/sshd-roots.sh: $roots/.lock held for 20 minutes" >&2; exit 1; }

# version TREE: the openssh-server version dpkg installed there.
version() {
    awk '/^Package: openssh-server$/ { p = 1 } p && /^Version: / { print $2; exit }' \
        "$1/var/lib/dpkg/status"
}

status=0
for suite in "$@"; do
    tree=$roots/$suite
    if [ ! -e "$tree/.complete" ]; then
        command -v debootstrap >/dev/null || {
            echo "tests/sshd-roots.sh: debootstrap is not installed (tests/deps.sh installs it)" >&2
            status=1
            continue
        }
        start=$(date +%s)
        tmp=$roots/.$suite.tmp.$$
        rm -rf "$tmp" "$tree"
        if ! timeout 1200 debootstrap --variant=minbase --include=openssh-server \
            "$suite" "$tmp" "$mirror" >"$roots/$suite.debootstrap.log" 2>&1; then
            echo "tests/sshd-roots.sh: debootstrap $suite from $mirror failed:" >&2
            tail -15 "$roots/$suite.debootstrap.log" | sed 's/^/    /' >&2
            rm -rf "$tmp"
            status=1
            continue
        fi
        rm -rf "$tmp/var/cache/apt/archives/"*.deb "$tmp/var/lib/apt/lists/"*
        # The host keys the package made are of no use (each test makes its own).
        rm -f "$tmp/etc/ssh/ssh_host_"*
        touch "$tmp/.complete"
        mv "$tmp" "$tree" || { status=1; continue; }
        echo "tests/sshd-roots.sh: made $tree in $(($(date +%s) - start)) s" >&2
    fi
    echo "$tree openssh-server $(version "$tree")"
done
exit $status
