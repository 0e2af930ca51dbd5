#!/usr/bin/env bash
# Build dist/duo-unix-rs-<version>-1.x86_64.rpm with rpmbuild from the glibc 2.17 build
# (packaging/build-floor.sh); works on Debian with the "rpm" package as well as on RPM systems.
# With DUO_FIPS=1: the same package from the FIPS build (build-floor.sh --fips), as
# dist/fips/duo-unix-rs-<version>-1.x86_64.rpm.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v rpmbuild >/dev/null || { echo "rpmbuild not found: install the rpm package" >&2; exit 1; }
bin=$(bash packaging/build-floor.sh ${DUO_FIPS:+--fips})
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage=$work/stage
mkdir -p "$stage"
DUO_BIN_DIR=$bin bash packaging/install.sh "$stage" /usr /usr/lib64/security >/dev/null
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
    "$stage/usr/lib64/security/pam_duo.so" "$stage/usr/sbin/login_duo" \
    "$stage/usr/sbin/duo-check"
install -d "$stage/usr/share/selinux/devel/duo_unix" "$stage/usr/share/doc/duo-unix-rs/examples"
install -m 0644 packaging/selinux/duo_unix.te packaging/selinux/duo_unix.if \
    packaging/selinux/duo_unix.fc "$stage/usr/share/selinux/devel/duo_unix/"
install -m 0644 README.md packaging/debian/copyright "$stage/usr/share/doc/duo-unix-rs/"
install -m 0644 conf/sshd/*.conf conf/pam.d/* "$stage/usr/share/doc/duo-unix-rs/examples/"
dist=dist${DUO_FIPS:+/fips}
mkdir -p "$dist"
rpmbuild -bb --quiet \
    --define "_topdir $work/rpmbuild" \
    --define "_rpmdir $PWD/$dist" \
    --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
    --define "pkg_version $version" \
    --define "stage $stage" \
    --define "_binary_payload w9.xzdio" \
    packaging/rpm/duo-unix-rs.spec >"$work/rpmbuild.log" 2>&1 || { cat "$work/rpmbuild.log" >&2; exit 1; }
echo "$dist/duo-unix-rs-$version-1.x86_64.rpm"
