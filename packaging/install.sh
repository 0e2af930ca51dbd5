#!/usr/bin/env bash
# Install from target/release: install.sh DESTDIR PREFIX [PAM_MODULE_DIR]
# (DUO_BIN_DIR=DIR takes the binaries from DIR instead: the packages use the glibc 2.17 build.)
# Configs are installed only when absent (never overwritten).
set -euo pipefail
cd "$(dirname "$0")/.."
destdir=${1:-}
prefix=${2:-/usr/local}
if [ -n "${3:-}" ]; then
    pamdir=$3
elif [ "$prefix" = /usr ]; then
    pamdir=/usr/lib/x86_64-linux-gnu/security
else
    pamdir=$prefix/lib/security
fi
bin=${DUO_BIN_DIR:-target/release}
for f in "$bin/libpam_duo.so" "$bin/login_duo" "$bin/duo-check"; do
    [ -f "$f" ] || { echo "missing $f: run 'make release' first" >&2; exit 1; }
done
as_root=false
[ "$(id -u)" = 0 ] && as_root=true

install -d "$destdir$pamdir" "$destdir$prefix/sbin" "$destdir/etc/duo" "$destdir$prefix/share/man/man8"
install -m 0644 "$bin/libpam_duo.so" "$destdir$pamdir/pam_duo.so"
install -m 0755 "$bin/login_duo" "$destdir$prefix/sbin/login_duo"
install -m 0755 "$bin/duo-check" "$destdir$prefix/sbin/duo-check"
# chown clears the setuid bit, so the mode is set after it.
if $as_root; then chown root:root "$destdir$prefix/sbin/login_duo"; fi
chmod 4755 "$destdir$prefix/sbin/login_duo"
for conf in pam_duo.conf login_duo.conf; do
    target=$destdir/etc/duo/$conf
    if [ -e "$target" ]; then
        echo "keeping existing $target"
        continue
    fi
    install -m 0600 "conf/$conf" "$target"
done
if $as_root; then
    chown root:root "$destdir/etc/duo/pam_duo.conf"
    if getent passwd sshd >/dev/null; then
        chown sshd "$destdir/etc/duo/login_duo.conf"
    fi
fi
for page in pam_duo.8 login_duo.8 duo-check.8; do
    gzip -9n < "man/$page" > "$destdir$prefix/share/man/man8/$page.gz"
    chmod 0644 "$destdir$prefix/share/man/man8/$page.gz"
done
echo "installed into ${destdir:-/} (prefix $prefix, PAM modules in $pamdir)"
