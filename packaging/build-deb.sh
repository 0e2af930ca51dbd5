#!/usr/bin/env bash
# Build dist/duo-unix-rs_<version>_amd64.deb with dpkg-deb from the glibc 2.17 build
# (packaging/build-floor.sh). With DUO_FIPS=1: the same package from the FIPS build
# (build-floor.sh --fips), as dist/fips/duo-unix-rs_<version>_amd64.deb.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(bash packaging/build-floor.sh ${DUO_FIPS:+--fips})
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"
# The module goes where Debian's libpam-modules keeps its own modules (up to Debian 12):
# /lib/x86_64-linux-gnu/security is the directory libpam searches on systems without a merged
# /usr (Debian 8-10, Ubuntu 14.04-18.04, Debian 11 upgraded from 10) and, through the /lib
# symlink, on merged ones. dpkg sees that directory shared with libpam-modules and never tries
# to remove it on purge (/usr/lib/x86_64-linux-gnu/security would be ours alone, and purging
# would warn that it is not empty).
DUO_BIN_DIR=$bin bash packaging/install.sh "$stage" /usr /lib/x86_64-linux-gnu/security >/dev/null
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
    "$stage/lib/x86_64-linux-gnu/security/pam_duo.so" "$stage/usr/sbin/login_duo" \
    "$stage/usr/sbin/duo-check"
install -d "$stage/DEBIAN" "$stage/usr/share/pam-configs" "$stage/usr/share/doc/duo-unix-rs/examples" \
    "$stage/usr/share/lintian/overrides"
install -m 0644 packaging/debian/lintian-overrides "$stage/usr/share/lintian/overrides/duo-unix-rs"
install -m 0644 conf/pam-auth-update/duo "$stage/usr/share/pam-configs/duo"
install -m 0644 conf/sshd/*.conf conf/pam.d/* "$stage/usr/share/doc/duo-unix-rs/examples/"
install -m 0644 packaging/debian/copyright "$stage/usr/share/doc/duo-unix-rs/copyright"
gzip -9n < packaging/debian/changelog > "$stage/usr/share/doc/duo-unix-rs/changelog.gz"
chmod 0644 "$stage/usr/share/doc/duo-unix-rs/changelog.gz"
# The package's files are owned by root; postinst gives login_duo.conf to the sshd user.
chown -R root:root "$stage" 2>/dev/null || true
chmod 4755 "$stage/usr/sbin/login_duo"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@SIZE@/$size/" packaging/debian/control > "$stage/DEBIAN/control"
printf '/etc/duo/pam_duo.conf\n/etc/duo/login_duo.conf\n' > "$stage/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "packaging/debian/$s" "$stage/DEBIAN/$s"; done
# md5sums for `dpkg --verify` and debsums (conffiles are tracked by dpkg itself).
(cd "$stage" && find . \( -path ./DEBIAN -o -path ./etc \) -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) \
    > "$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/md5sums"
dist=dist${DUO_FIPS:+/fips}
mkdir -p "$dist"
out="$dist/duo-unix-rs_${version}_amd64.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out" >/dev/null
echo "$out"
