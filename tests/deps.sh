#!/usr/bin/env bash
# The Debian packages that `make check` needs (end-to-end and package tests), in one place.
# Checks with dpkg-query first: quick and silent when everything is installed. As root it
# installs only what is missing (and says so); otherwise it names what is missing and fails.
set -euo pipefail

PACKAGES=(
    # end-to-end tests: real sshd/ssh, sudo, PAM, users, namespaces, a TLS 1.0 server
    openssh-server openssh-client sudo pamtester libpam-wrapper libpam0g-dev libpam-runtime
    iproute2 openssl ca-certificates passwd procps util-linux strace
    # package tests: .deb and .rpm building and inspection, the SELinux policy
    lintian rpm fakeroot dpkg-dev checkpolicy selinux-policy-dev
    # package tests: an older Debian userland for the glibc 2.17 floor (tests/packaging/test-floor.sh)
    debootstrap
    make
    # the FIPS build: AWS-LC's FIPS module is built with cmake and Go (make fips, make check)
    cmake golang-go
)

missing=()
for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    [ "${status:0:2}" = "ii" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "tests/deps.sh: missing Debian packages: ${missing[*]}; run as root to install them" >&2
    exit 1
fi
echo "tests/deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
