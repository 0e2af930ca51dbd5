#!/usr/bin/env bash
# The glibc 2.17 floor of the packaged binaries, checked two ways:
#   1. by reading them: for pam_duo.so, login_duo and duo-check out of the .deb and out of the
#      .rpm, the highest GLIBC_ symbol version needed is at most 2.17, the libraries needed are
#      only libc, libpam (the module), libdl/libpthread/librt/libm, libgcc_s and the dynamic
#      loader, and the hardening holds (readelf): module with BIND_NOW and NODELETE, login_duo
#      and duo-check full-RELRO PIEs; all with RELRO, a non-executable stack, no TEXTREL, no
#      RPATH/RUNPATH;
#   2. by running them in an older userland: a Debian $FLOOR_SUITE (glibc 2.31, older than the
#      2.34 today's native build needs) made by debootstrap, without a merged /usr as on
#      upgraded and older systems. The .deb is installed there with dpkg; the packaged login_duo
#      (setuid, run as an ordinary user) and pam_duo.so through pamtester each complete a login
#      against mockduo running on this host's 127.0.0.1, and each denies a user whose push is
#      denied; the packaged duo-check runs there and verifies the keys with the mock. The tree is cached as $FLOOR_CACHE/$FLOOR_SUITE.tar (first run: debootstrap
#      downloads about 45 MB); /proc is mounted only inside a private mount namespace.
#
# Sourced by test-packages.sh (which defines ok/bad/check and $work, then calls
# floor_tests DEB RPM), or run alone as root: bash tests/packaging/test-floor.sh DEB RPM
# Settings: DUO_FLOOR_SUITE (bullseye), DUO_FLOOR_MIRROR (http://deb.debian.org/debian),
# DUO_FLOOR_CACHE (/var/cache/duo-unix-rs-test); FLOOR_KEEP=1 keeps the chroot in $work to look at.

FLOOR_GLIBC=2.17
FLOOR_SUITE=${DUO_FLOOR_SUITE:-bullseye}
FLOOR_MIRROR=${DUO_FLOOR_MIRROR:-http://deb.debian.org/debian}
FLOOR_CACHE=${DUO_FLOOR_CACHE:-/var/cache/duo-unix-rs-test}
# Libraries the binaries may need (login_duo and duo-check: all but libpam).
FLOOR_LIBS="libc.so.6 libpam.so.0 libgcc_s.so.1 libdl.so.2 libpthread.so.0 librt.so.1 libm.so.6 ld-linux-x86-64.so.2"
# libpam's symbol versions in Linux-PAM 1.1.8 (RHEL 7), the oldest libpam of the floor.
FLOOR_PAM_VERSIONS="LIBPAM_1.0 LIBPAM_EXTENSION_1.0 LIBPAM_EXTENSION_1.1 LIBPAM_EXTENSION_1.1.1 LIBPAM_MODUTIL_1.0 LIBPAM_MODUTIL_1.1 LIBPAM_MODUTIL_1.1.3"
IKEY=DIXYZV6YM8IFYVWBINCA
SKEY=yWHSMhWucAcp7qvuH3HWTaSaKABs8Gaddiv1NIRo

# floor_glibc FILE: the highest GLIBC_x.y version FILE's symbols and version needs name.
floor_glibc() {
    { objdump -T "$1" && readelf -VW "$1"; } 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*[0-9]' \
        | sed 's/^GLIBC_//' | sort -uV | tail -1
}
# version_le A B: A <= B as version numbers (A non-empty).
version_le() { [ -n "$1" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | tail -1)" = "$2" ]; }
version_gt() { [ -n "$1" ] && ! version_le "$1" "$2"; }
# in_list WORD LIST...
in_list() {
    local w=$1
    shift
    case " $* " in *" $w "*) return 0 ;; esac
    return 1
}
floor_needed() { readelf -dW "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'; }
# floor_needed_only FILE ALLOWED...: every NEEDED library is in ALLOWED.
floor_needed_only() {
    local f=$1 lib
    shift
    for lib in $(floor_needed "$f"); do
        in_list "$lib" "$@" || { echo "    $(basename "$f") needs $lib"; return 1; }
    done
}
# floor_verneed_ok FILE: version needs only from allowed libraries, none GLIBC_PRIVATE, and
# libpam's within those of PAM 1.1.8.
floor_verneed_ok() {
    local f=$1 file name
    readelf -VW "$f" | sed -n '/Version needs section/,$p' >"$work/verneed" || return 1
    for file in $(sed -n 's/.*File: \([^ ]*\).*/\1/p' "$work/verneed"); do
        in_list "$file" $FLOOR_LIBS || { echo "    $(basename "$f") has versioned needs from $file"; return 1; }
    done
    for name in $(sed -n 's/.*Name: \(LIBPAM[^ ]*\).*/\1/p' "$work/verneed"); do
        in_list "$name" $FLOOR_PAM_VERSIONS || { echo "    $(basename "$f") needs libpam $name"; return 1; }
    done
    ! grep -q 'GLIBC_PRIVATE' "$work/verneed"
}
floor_dyn_has() { readelf -dW "$1" | grep -Eq "$2"; }
floor_bind_now() { floor_dyn_has "$1" '\(FLAGS\).*BIND_NOW|\(FLAGS_1\).*NOW|\(BIND_NOW\)'; }
# floor_common_hardening FILE: RELRO, a GNU_STACK without E, no TEXTREL, RPATH or RUNPATH.
floor_common_hardening() {
    readelf -lW "$1" | grep -q GNU_RELRO \
        && readelf -lW "$1" | awk '$1 == "GNU_STACK" { seen = 1; if ($7 ~ /E/) bad = 1 } END { exit !(seen && !bad) }' \
        && ! floor_dyn_has "$1" '\((TEXTREL|RPATH|RUNPATH)\)|FLAGS.*TEXTREL'
}
floor_module_links() {
    floor_needed_only "$1" $FLOOR_LIBS && floor_needed "$1" | grep -qx libpam.so.0 \
        && floor_needed "$1" | grep -qx libc.so.6
}
floor_login_links() { floor_needed_only "$1" ${FLOOR_LIBS/libpam.so.0/} && floor_needed "$1" | grep -qx libc.so.6; }
floor_module_hardening() { floor_bind_now "$1" && floor_dyn_has "$1" '\(FLAGS_1\).*NODELETE'; }
floor_login_hardening() {
    floor_bind_now "$1" && readelf -hW "$1" | grep -Eq 'Type: +DYN' && floor_dyn_has "$1" '\(FLAGS_1\).*PIE' \
        && [ "$(readelf -p .interp "$1" | sed -n 's/.*\] *//p')" = /lib64/ld-linux-x86-64.so.2 ]
}

# floor_section_size FILE NAME: the size in bytes of section NAME in FILE (empty if none).
floor_section_size() {
    local hex
    hex=$(readelf -SW "$1" | awk -v n="$2" '{ for (i = 1; i < NF; i++) if ($i == n) { print $(i + 4); exit } }')
    [ -z "$hex" ] || echo $((16#$hex))
}
# floor_crypto_hot FILE: the default build's layout (build-support/crypto-hot.ld): AWS-LC's hot
# code (at least 96 KiB of it) and read-only data gathered in sections of their own.
floor_crypto_hot() {
    local t r
    t=$(floor_section_size "$1" .text.crypto_hot)
    r=$(floor_section_size "$1" .rodata.crypto_hot)
    [ -n "$t" ] && [ "$t" -ge 98304 ] && [ -n "$r" ] && [ "$r" -gt 0 ]
}
floor_no_crypto_hot() { [ -z "$(floor_section_size "$1" .text.crypto_hot)" ]; }

# floor_binary_checks LABEL MODULE LOGIN_DUO DUO_CHECK
floor_binary_checks() {
    local label=$1 module=$2 login=$3 doctor=$4 f v
    for f in "$module" "$login" "$doctor"; do
        v=$(floor_glibc "$f")
        check "$label: $(basename "$f") needs at most GLIBC_$FLOOR_GLIBC (highest: GLIBC_${v:-none})" \
            version_le "$v" "$FLOOR_GLIBC"
        check "$label: $(basename "$f") has versioned needs only from libc/libpam/libgcc_s/loader, libpam's within PAM 1.1.8" \
            floor_verneed_ok "$f"
        check "$label: $(basename "$f") has RELRO, a non-executable stack, no TEXTREL, RPATH or RUNPATH" \
            floor_common_hardening "$f"
    done
    check "$label: pam_duo.so needs only libc, libpam.so.0, libdl/libpthread/librt/libm, libgcc_s, the loader" \
        floor_module_links "$module"
    check "$label: login_duo needs only libc, libdl/libpthread/librt/libm, libgcc_s, the loader (no libpam)" \
        floor_login_links "$login"
    check "$label: pam_duo.so is bound at load (BIND_NOW) and never unloaded (NODELETE)" \
        floor_module_hardening "$module"
    check "$label: login_duo is a full-RELRO PIE (BIND_NOW, FLAGS_1 PIE) loaded by /lib64/ld-linux-x86-64.so.2" \
        floor_login_hardening "$login"
    check "$label: duo-check needs only libc, libdl/libpthread/librt/libm, libgcc_s, the loader (no libpam)" \
        floor_login_links "$doctor"
    check "$label: duo-check is a full-RELRO PIE loaded by /lib64/ld-linux-x86-64.so.2" \
        floor_login_hardening "$doctor"
}

# floor_root_tree DIR: a fresh $FLOOR_SUITE tree in DIR, from the cache, debootstrapped into it
# on the first run.
floor_root_tree() {
    local dir=$1 tar=$FLOOR_CACHE/$FLOOR_SUITE.tar start
    if [ ! -s "$tar" ]; then
        command -v debootstrap >/dev/null || { echo "    debootstrap is not installed (apt install debootstrap)"; return 1; }
        start=$(date +%s)
        mkdir -p "$FLOOR_CACHE" "$work/floor-bootstrap"
        if ! timeout 1200 debootstrap --variant=minbase --no-merged-usr --include=pamtester \
            "$FLOOR_SUITE" "$work/floor-bootstrap" "$FLOOR_MIRROR" >"$work/debootstrap.log" 2>&1; then
            echo "    debootstrap $FLOOR_SUITE from $FLOOR_MIRROR failed:"
            tail -15 "$work/debootstrap.log" | sed 's/^/    /'
            return 1
        fi
        rm -rf "$work/floor-bootstrap/var/cache/apt/archives/"*.deb "$work/floor-bootstrap/var/lib/apt/lists/"*
        tar -C "$work/floor-bootstrap" -cf "$tar.tmp.$$" . && mv "$tar.tmp.$$" "$tar" || return 1
        rm -rf "$work/floor-bootstrap"
        echo "    debootstrapped $FLOOR_SUITE into $tar in $(($(date +%s) - start)) s"
    fi
    mkdir -p "$dir" && tar -C "$dir" -xpf "$tar"
}

# The part that runs inside the private mount namespace: mount /proc, install the .deb, log in.
# Arguments: ROOT PORT. Writes results into ROOT/tmp/floor-*.
floor_inside() {
    set -u
    local root=$1 port=$2 uid gid
    trap "umount '$root/proc' 2>/dev/null" EXIT
    mount --make-rprivate / && mount -t proc proc "$root/proc" || return 1
    in_root() { timeout 120 chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C "$@"; }
    in_root getconf GNU_LIBC_VERSION >"$root/tmp/floor-libc" 2>&1
    in_root useradd -r -M -d /nonexistent -s /usr/sbin/nologin sshd
    in_root useradd -M -d /tmp -s /bin/sh alice
    in_root useradd -M -d /tmp -s /bin/sh pushdeny
    in_root dpkg -i /tmp/duo-unix-rs.deb >"$root/tmp/floor-dpkg.log" 2>&1
    echo $? >"$root/tmp/floor-dpkg.rc"
    # The native build (glibc 2.34) must not start here: proves the tree is really older.
    in_root /tmp/native-login_duo -h >"$root/tmp/floor-native.out" 2>&1
    echo $? >"$root/tmp/floor-native.rc"
    printf '[duo]\nikey = %s\nskey = %s\nhost = 127.0.0.1:%s\ncafile = /etc/duo/mock-ca.pem\nfailmode = secure\n' \
        "$IKEY" "$SKEY" "$port" >"$root/etc/duo/login_duo.conf"
    printf '[duo]\nikey = %s\nskey = %s\nhost = 127.0.0.1:%s\ncafile = /etc/duo/mock-ca.pem\nfailmode = secure\nautopush = yes\nprompts = 1\n' \
        "$IKEY" "$SKEY" "$port" >"$root/etc/duo/pam_duo.conf"
    in_root chown sshd /etc/duo/login_duo.conf
    chmod 0600 "$root/etc/duo/login_duo.conf" "$root/etc/duo/pam_duo.conf"
    printf 'auth required pam_duo.so conf=/etc/duo/pam_duo.conf\naccount required pam_permit.so\n' \
        >"$root/etc/pam.d/duo-floor"
    stat -c '%a %U' "$root/usr/sbin/login_duo" >"$root/tmp/floor-mode"
    # duo-check on the module's config: its network, TLS, clock and key checks talk to the mock.
    in_root duo-check --conf /etc/duo/pam_duo.conf --json </dev/null >"$root/tmp/floor-check.out" 2>"$root/tmp/floor-check.err"
    echo $? >"$root/tmp/floor-check.rc"
    for user in alice pushdeny; do
        uid=$(awk -F: -v u="$user" '$1 == u { print $3 }' "$root/etc/passwd")
        gid=$(awk -F: -v u="$user" '$1 == u { print $4 }' "$root/etc/passwd")
        # An ordinary user runs the setuid login_duo with its default config (stdin not a
        # terminal: automatic push).
        in_root chroot --userspec="$uid:$gid" --groups="$gid" / /usr/sbin/login_duo /bin/echo "FLOOR-RAN-$user" \
            </dev/null >"$root/tmp/floor-login-$user.out" 2>&1
        echo $? >"$root/tmp/floor-login-$user.rc"
        in_root pamtester -v duo-floor "$user" authenticate </dev/null >"$root/tmp/floor-pam-$user.out" 2>&1
        echo $? >"$root/tmp/floor-pam-$user.rc"
    done
}

# floor_auth_requests RECORD: at least two signed /auth/v2/auth requests each for alice and
# pushdeny (one from login_duo, one from pam_duo).
floor_auth_requests() {
    local u n
    for u in alice pushdeny; do
        n=$(grep '"path":"/auth/v2/auth"' "$1" | grep '"sig_ok":true' | grep -c "\"$u\"")
        [ "$n" -ge 2 ] || { echo "    $n signed /auth requests for $u"; return 1; }
    done
}

# floor_doctor_ok RC_FILE JSON_FILE: duo-check exited 0 or 1 (no error) and reported network,
# tls and credentials checks, all ok.
floor_doctor_ok() {
    grep -qx '[01]' "$1" && python3 -c '
import json, sys
checks = json.load(open(sys.argv[1]))["checks"]
need = {"network", "tls", "credentials"}
seen = {c["check"] for c in checks if c["check"] in need}
bad = [c for c in checks if c["check"] in need and c["status"] != "ok"]
for c in bad:
    print("    duo-check:", c["check"], c["status"], c["finding"])
sys.exit(0 if seen == need and not bad else 1)
' "$2"
}

# floor_chroot_tests DEB [TAG]: the run in the older userland (TAG names the build in the checks).
floor_chroot_tests() {
    local deb=$1 tag=${2:-} root=$work/floor-root mock_pid= port= i f
    if ! command -v unshare >/dev/null || ! command -v chroot >/dev/null; then
        bad "$FLOOR_SUITE$tag chroot: unshare and chroot are needed (util-linux, coreutils)"
        return
    fi
    local start=$(date +%s)
    if ! floor_root_tree "$root"; then
        bad "$FLOOR_SUITE userland from $FLOOR_MIRROR (debootstrap or cache $FLOOR_CACHE)"
        return
    fi
    ok "$FLOOR_SUITE userland ready in $(($(date +%s) - start)) s (cache $FLOOR_CACHE/$FLOOR_SUITE.tar)"
    if ! cargo build -q -p duo-tests --bin mockduo >"$work/mockduo-build.log" 2>&1; then
        bad "mockduo builds"
        sed 's/^/    /' "$work/mockduo-build.log"
        return
    fi
    mkdir -p "$work/floor-mock"
    mkfifo "$work/floor-mock.in"
    target/debug/mockduo --dir "$work/floor-mock" --record "$work/floor-mock/requests.jsonl" \
        --exit-on-stdin-eof <"$work/floor-mock.in" >"$work/floor-mock.out" 2>&1 &
    mock_pid=$!
    exec 8>"$work/floor-mock.in"
    for i in $(seq 100); do
        port=$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$work/floor-mock.out")
        [ -n "$port" ] && break
        sleep 0.1
    done
    if [ -z "$port" ]; then
        bad "mockduo starts (no READY line)"
        exec 8>&-
        kill "$mock_pid" 2>/dev/null
        wait "$mock_pid" 2>/dev/null
        return
    fi
    cp "$deb" "$root/tmp/duo-unix-rs.deb"
    install -m 0755 target/release/login_duo "$root/tmp/native-login_duo" 2>/dev/null
    mkdir -p "$root/etc/duo"
    install -m 0644 "$work/floor-mock/ca.pem" "$root/etc/duo/mock-ca.pem"
    IKEY=$IKEY SKEY=$SKEY unshare -m -- bash -c "$(declare -f floor_inside); floor_inside '$root' '$port'" \
        >"$work/floor-inside.log" 2>&1
    # Stop the mock: close its stdin, then make sure.
    exec 8>&-
    for i in $(seq 50); do kill -0 "$mock_pid" 2>/dev/null || break; sleep 0.1; done
    kill "$mock_pid" 2>/dev/null
    wait "$mock_pid" 2>/dev/null

    local libc
    libc=$(sed -n 's/^glibc //p' "$root/tmp/floor-libc" 2>/dev/null)
    check "$FLOOR_SUITE$tag chroot runs glibc ${libc:-?}, older than the 2.34 of today's native build (here: $(getconf GNU_LIBC_VERSION))" \
        version_le "$libc" 2.33
    if [ -e "$root/tmp/native-login_duo" ]; then
        check "$FLOOR_SUITE$tag: today's native build (target/release/login_duo) does not start there" \
            sh -c "[ \"\$(cat '$root/tmp/floor-native.rc')\" != 0 ] && grep -q 'GLIBC_2\.3[4-9]. not found' '$root/tmp/floor-native.out'"
        sed 's/^/    /' "$root/tmp/floor-native.out" | head -3
    fi
    check "$FLOOR_SUITE$tag: dpkg -i installs the .deb (its Depends are met by $FLOOR_SUITE)" \
        grep -qx 0 "$root/tmp/floor-dpkg.rc"
    [ "$(cat "$root/tmp/floor-dpkg.rc" 2>/dev/null)" = 0 ] || sed 's/^/    /' "$root/tmp/floor-dpkg.log"
    check "$FLOOR_SUITE$tag: /usr/sbin/login_duo installed setuid root, pam_duo.so where libpam finds it" \
        sh -c "grep -qx '4755 root' '$root/tmp/floor-mode' && [ -f '$root/lib/x86_64-linux-gnu/security/pam_duo.so' ] \
            && [ ! -L '$root/lib' ]"
    check "$FLOOR_SUITE$tag: the packaged login_duo, setuid, run by a user, approves by push and runs the command" \
        sh -c "grep -qx 0 '$root/tmp/floor-login-alice.rc' && grep -qx FLOOR-RAN-alice '$root/tmp/floor-login-alice.out'"
    check "$FLOOR_SUITE$tag: the packaged login_duo denies a user whose push is denied (command not run)" \
        sh -c "! grep -qx 0 '$root/tmp/floor-login-pushdeny.rc' && ! grep -q FLOOR-RAN '$root/tmp/floor-login-pushdeny.out'"
    check "$FLOOR_SUITE$tag: pamtester with the packaged pam_duo.so authenticates a user whose push is approved" \
        sh -c "grep -qx 0 '$root/tmp/floor-pam-alice.rc' && grep -q 'successfully authenticated' '$root/tmp/floor-pam-alice.out'"
    check "$FLOOR_SUITE$tag: pamtester with the packaged pam_duo.so refuses a user whose push is denied" \
        sh -c "! grep -qx 0 '$root/tmp/floor-pam-pushdeny.rc' && ! grep -q 'successfully authenticated' '$root/tmp/floor-pam-pushdeny.out'"
    check "$FLOOR_SUITE$tag: the packaged duo-check runs and its network, TLS and key checks pass against the mock" \
        floor_doctor_ok "$root/tmp/floor-check.rc" "$root/tmp/floor-check.out"
    for f in login-alice login-pushdeny pam-alice pam-pushdeny; do
        echo "    $f (exit $(cat "$root/tmp/floor-$f.rc" 2>/dev/null)):"
        sed 's/^/      /' "$root/tmp/floor-$f.out" 2>/dev/null | head -6
    done
    # Both binaries talked to the mock from inside the chroot, with valid signatures, for both
    # users: the denials came from Duo's answer, not from an earlier failure.
    check "$FLOOR_SUITE$tag: mockduo saw signed /auth requests from both frontends for both users" \
        floor_auth_requests "$work/floor-mock/requests.jsonl"
    if [ -s "$work/floor-inside.log" ]; then sed 's/^/    inside: /' "$work/floor-inside.log" | head -20; fi
    [ -n "${FLOOR_KEEP:-}" ] || rm -rf "$root"
}

# floor_unpack_rpm RPM DIR: the payload of RPM, unpacked into DIR (no RPM database needed).
floor_unpack_rpm() {
    cp "$1" "$2/pkg.rpm" && (cd "$2" && rpm2archive pkg.rpm && tar -xzf pkg.rpm.tgz)
}

# floor_tests DEB RPM: everything above.
floor_tests() {
    local deb=$1 rpm=$2
    local d=$work/floor-deb r=$work/floor-rpm
    mkdir -p "$d" "$r"
    dpkg-deb -x "$deb" "$d"
    floor_unpack_rpm "$rpm" "$r"
    floor_binary_checks deb "$d/lib/x86_64-linux-gnu/security/pam_duo.so" "$d/usr/sbin/login_duo" "$d/usr/sbin/duo-check"
    floor_binary_checks rpm "$r/usr/lib64/security/pam_duo.so" "$r/usr/sbin/login_duo" "$r/usr/sbin/duo-check"
    local f lock
    lock=$(awk '/^name = "aws-lc-sys"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
    check "build-support/crypto-hot.ld was made for the aws-lc-sys of Cargo.lock ($lock; if not: make crypto-hot)" \
        grep -qxF "/* aws-lc-sys $lock */" build-support/crypto-hot.ld
    for f in "$d/lib/x86_64-linux-gnu/security/pam_duo.so" "$d/usr/sbin/login_duo" "$d/usr/sbin/duo-check" \
        "$r/usr/lib64/security/pam_duo.so" "$r/usr/sbin/login_duo" "$r/usr/sbin/duo-check"; do
        check "${f#"$work"/floor-}: AWS-LC's hot code and data are gathered (.text.crypto_hot, .rodata.crypto_hot)" \
            floor_crypto_hot "$f"
    done
    if [ -f target/release/login_duo ]; then
        local v
        v=$(floor_glibc target/release/login_duo)
        check "the symbol check can fail: it finds GLIBC_$v > $FLOOR_GLIBC in today's native target/release/login_duo" \
            version_gt "$v" "$FLOOR_GLIBC"
    fi
    floor_chroot_tests "$deb"
}

# floor_fips_tests DEB: the FIPS build's package (make deb-fips): the same reading checks of
# its three binaries and the same logins in the older userland.
floor_fips_tests() {
    local deb=$1 d=$work/floor-fips-deb
    mkdir -p "$d"
    dpkg-deb -x "$deb" "$d"
    floor_binary_checks "FIPS deb" "$d/lib/x86_64-linux-gnu/security/pam_duo.so" "$d/usr/sbin/login_duo" "$d/usr/sbin/duo-check"
    check "FIPS deb: no crypto_hot sections (the layout check can fail; the FIPS module keeps AWS-LC's own layout)" \
        floor_no_crypto_hot "$d/usr/sbin/login_duo"
    check "FIPS deb: login_duo -v names AWS-LC's FIPS module in FIPS mode" \
        sh -c "'$d/usr/sbin/login_duo' -v 2>&1 | grep -q 'AWS-LC FIPS .*(FIPS build, FIPS mode)'"
    floor_chroot_tests "$deb" " (FIPS build)"
}

# floor_fips_rpm_tests RPM: the FIPS build's RPM (make rpm-fips): the same reading checks of
# its three binaries, the setuid login_duo, and its login_duo names the FIPS module. (No RPM
# system runs here; the chroot logins use the .deb of the same binaries.)
floor_fips_rpm_tests() {
    local rpm=$1 r=$work/floor-fips-rpm
    mkdir -p "$r"
    floor_unpack_rpm "$rpm" "$r"
    floor_binary_checks "FIPS rpm" "$r/usr/lib64/security/pam_duo.so" "$r/usr/sbin/login_duo" "$r/usr/sbin/duo-check"
    check "FIPS rpm: login_duo is setuid root in the payload" \
        sh -c "rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME} %{FILENAMES}\n]' '$rpm' 2>/dev/null | grep -qx -- '-rwsr-xr-x root /usr/sbin/login_duo'"
    check "FIPS rpm: login_duo -v names AWS-LC's FIPS module in FIPS mode" \
        sh -c "'$r/usr/sbin/login_duo' -v 2>&1 | grep -q 'AWS-LC FIPS .*(FIPS build, FIPS mode)'"
    check "FIPS rpm: the same binaries as the FIPS deb" \
        sh -c "cmp -s '$r/usr/sbin/login_duo' '$work/floor-fips-deb/usr/sbin/login_duo' && cmp -s '$r/usr/lib64/security/pam_duo.so' '$work/floor-fips-deb/lib/x86_64-linux-gnu/security/pam_duo.so'"
}

# Run alone: bash tests/packaging/test-floor.sh DEB RPM
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -uo pipefail
    cd "$(dirname "$0")/../.."
    [ $# = 2 ] || { echo "usage: $0 DEB RPM (as root)" >&2; exit 2; }
    [ "$(id -u)" = 0 ] || { echo "$0 must run as root (debootstrap, chroot)" >&2; exit 1; }
    deb_arg=$(realpath "$1")
    rpm_arg=$(realpath "$2")
    passed=0
    failed=0
    ok() { echo "ok   - $1"; passed=$((passed + 1)); }
    bad() { echo "FAIL - $1"; failed=$((failed + 1)); }
    check() {
        local name=$1
        shift
        if "$@"; then ok "$name"; else bad "$name"; fi
    }
    work=$(mktemp -d /tmp/duo-floortest.XXXXXX)
    trap 'rm -rf "$work"' EXIT
    floor_tests "$deb_arg" "$rpm_arg"
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ]
fi
