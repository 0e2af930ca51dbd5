#!/usr/bin/env bash
# Package tests, run by `make check` after the release build (as root, on Debian):
#   .deb: build, inspect modes/owners/conffiles, lintian, install with dpkg -i, run the
#         installed duo-check, log in through a real sshd ForceCommand with the installed
#         login_duo, pam-auth-update in a scratch root, reinstall keeps edited configs, purge
#         leaves nothing behind;
#   .rpm: build, inspect with rpm -qlvp / -qpc / --scripts;
#   both: the glibc 2.17 floor (tests/packaging/test-floor.sh): symbol versions, libraries and
#         hardening of both binaries in both packages, and a login through each frontend in a
#         debootstrapped older Debian;
#   FIPS: the FIPS build's .deb (make deb-fips): the same floor checks and chroot logins; its
#         .rpm (make rpm-fips): the same floor checks, file modes, and its login_duo's module;
#   make install DESTDIR=... PREFIX=...; the SELinux policy compiles.
# Prints one line per check and then "N passed, M failed"; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/packaging/test-floor.sh
source tests/packaging/test-floor.sh
passed=0
failed=0
ok() { echo "ok   - $1"; passed=$((passed + 1)); }
bad() { echo "FAIL - $1"; failed=$((failed + 1)); }
# check NAME COMMAND...: the command's success is the check's result.
check() {
    local name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}

if [ "$(id -u)" != 0 ]; then
    echo "tests/packaging/test-packages.sh must run as root (it installs the .deb)" >&2
    exit 1
fi
work=$(mktemp -d /tmp/duo-pkgtest.XXXXXX)
installed=false
saved_etc=false
cleanup() {
    if $installed; then dpkg --purge duo-unix-rs >/dev/null 2>&1 || true; fi
    if $saved_etc; then
        rm -rf /etc/duo
        mv "$work/etc-duo-saved" /etc/duo
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# A machine that already runs the package (or has its own /etc/duo) must not lose it.
if dpkg-query -W -f='${Status}' duo-unix-rs 2>/dev/null | grep -q 'install ok'; then
    echo "duo-unix-rs is installed on this machine; refusing to install over it and purge it" >&2
    exit 1
fi
if [ -e /etc/duo ]; then
    mv /etc/duo "$work/etc-duo-saved"
    saved_etc=true
fi

# mode_owner FILE MODE OWNER[:GROUP]: an installed file's octal mode and owner.
mode_owner() {
    [ -e "$1" ] && [ "$(stat -c %a "$1")" = "$2" ] && {
        [ "$(stat -c %U:%G "$1")" = "$3" ] || [ "$(stat -c %U "$1")" = "$3" ]
    }
}

# ---------------------------------------------------------------- .deb
deb=$(bash packaging/build-deb.sh) || deb=
check "make deb builds a package" test -s "$deb"
dpkg-deb -c "$deb" >"$work/deb.list" 2>&1
# in_deb MODE OWNER PATH: an entry of `dpkg-deb -c` (mode, owner/group, path).
in_deb() { awk -v m="$1" -v o="$2" -v p="./${3#/}" '$1 == m && $2 == o && $6 == p { f = 1 } END { exit !f }' "$work/deb.list"; }
check "deb: login_duo is setuid root (4755 root/root) in /usr/sbin" in_deb -rwsr-xr-x root/root /usr/sbin/login_duo
check "deb: pam_duo.so 0644 in libpam's module directory /lib/x86_64-linux-gnu/security" \
    in_deb -rw-r--r-- root/root /lib/x86_64-linux-gnu/security/pam_duo.so
check "deb: /etc/duo/pam_duo.conf 0600" in_deb -rw------- root/root /etc/duo/pam_duo.conf
check "deb: /etc/duo/login_duo.conf 0600" in_deb -rw------- root/root /etc/duo/login_duo.conf
check "deb: pam_duo(8) man page" in_deb -rw-r--r-- root/root /usr/share/man/man8/pam_duo.8.gz
check "deb: login_duo(8) man page" in_deb -rw-r--r-- root/root /usr/share/man/man8/login_duo.8.gz
check "deb: duo-check 0755 root/root in /usr/sbin" in_deb -rwxr-xr-x root/root /usr/sbin/duo-check
check "deb: duo-check(8) man page" in_deb -rw-r--r-- root/root /usr/share/man/man8/duo-check.8.gz
check "deb: pam-auth-update profile" in_deb -rw-r--r-- root/root /usr/share/pam-configs/duo
for ex in duo-forcecommand.conf duo-keyboard-interactive.conf sshd-key-and-duo sudo-duo; do
    check "deb: example $ex" in_deb -rw-r--r-- root/root "/usr/share/doc/duo-unix-rs/examples/$ex"
done
check "deb: no file is group- or world-writable" \
    awk '$1 ~ /^-/ && (substr($1, 6, 1) == "w" || substr($1, 9, 1) == "w") { exit 1 }' "$work/deb.list"
check "deb: Depends on libc6 (>= 2.17), libpam0g and libpam-runtime, nothing newer" \
    sh -c '[ "$(dpkg-deb -f "$1" Depends)" = "libc6 (>= 2.17), libpam0g, libpam-runtime (>= 1.0.1-6)" ]' _ "$deb"
dpkg-deb -I "$deb" conffiles >"$work/conffiles" 2>&1
check "deb: both configs are conffiles" \
    sh -c "grep -qx /etc/duo/pam_duo.conf '$work/conffiles' && grep -qx /etc/duo/login_duo.conf '$work/conffiles'"
mkdir -p "$work/control"
dpkg-deb -e "$deb" "$work/control" 2>/dev/null
check "deb: postinst, prerm and postrm are valid sh" \
    sh -c "for f in postinst prerm postrm; do sh -n '$work/control/'\$f || exit 1; done"
lintian --tag-display-limit 0 "$deb" >"$work/lintian.out" 2>&1
check "lintian reports no errors" sh -c "! grep -q '^E:' '$work/lintian.out'"
grep '^[EW]:' "$work/lintian.out" | sed 's/^/    /'

if dpkg -i "$deb" >"$work/dpkg-i.log" 2>&1; then
    installed=true
    ok "dpkg -i installs the package"
else
    bad "dpkg -i installs the package"
    sed 's/^/    /' "$work/dpkg-i.log"
fi
check "installed: /usr/sbin/login_duo 4755 root" mode_owner /usr/sbin/login_duo 4755 root:root
check "installed: pam_duo.so in /lib/x86_64-linux-gnu/security" \
    mode_owner /lib/x86_64-linux-gnu/security/pam_duo.so 644 root:root
check "dpkg -i printed no warning" sh -c "! grep -qi warning '$work/dpkg-i.log'"
# The package owns only its own directories: every other directory it lists is one that
# another installed package lists too, so purging never tries to remove it.
shared_dirs_ok() {
    local dir owners rc=0
    for dir in $(awk '$1 ~ /^d/ { sub(/^\./, "", $6); sub(/\/$/, "", $6); if ($6 != "") print $6 }' "$work/deb.list"); do
        case $dir in /etc/duo | /usr/share/doc/duo-unix-rs | /usr/share/doc/duo-unix-rs/examples) continue ;; esac
        owners=$(dpkg-query -S "$dir" 2>/dev/null | grep -v '^diversion' | sed 's/: .*//' | tr ', ' '\n\n' | grep . | grep -v '^duo-unix-rs$')
        if [ -z "$owners" ]; then
            echo "    $dir is claimed by duo-unix-rs alone"
            rc=1
        fi
    done
    return $rc
}
check "installed: every directory the package lists but its own is shared with another package" shared_dirs_ok
check "installed: /etc/duo/pam_duo.conf 0600 root" mode_owner /etc/duo/pam_duo.conf 600 root:root
if getent passwd sshd >/dev/null; then
    check "installed: /etc/duo/login_duo.conf 0600 owned by the privsep user sshd" \
        mode_owner /etc/duo/login_duo.conf 600 sshd
else
    check "installed: /etc/duo/login_duo.conf 0600" mode_owner /etc/duo/login_duo.conf 600 root
fi
check "installed: dpkg --verify finds every file as shipped (md5sums)" \
    sh -c 'dpkg-deb -I "$1" md5sums >/dev/null 2>&1 && [ -z "$(dpkg --verify duo-unix-rs 2>&1)" ]' _ "$deb"
check "installed: the PAM profile is off by default (no pam_duo in /etc/pam.d)" \
    sh -c '! grep -rqs pam_duo /etc/pam.d'
check "installed: the pam_duo(8) and login_duo(8) man pages" \
    sh -c 'test -f /usr/share/man/man8/pam_duo.8.gz && test -f /usr/share/man/man8/login_duo.8.gz'
# The sample config has no keys: the installed login_duo must refuse, not let anyone in.
/usr/sbin/login_duo -c /etc/duo/login_duo.conf /bin/echo SHOULD-NOT-RUN >"$work/sample.out" 2>&1
rc=$?
check "installed login_duo with the sample config denies (exit $rc, command not run)" \
    sh -c "[ $rc -ne 0 ] && ! grep -q SHOULD-NOT-RUN '$work/sample.out'"
sed 's/^/    /' "$work/sample.out"
check "installed: /usr/sbin/duo-check 0755 root" mode_owner /usr/sbin/duo-check 755 root:root
# The installed duo-check on the installed sample configs (no keys yet): exit 2, JSON naming
# all nine checks, the missing keys named, login_duo setuid and its config readable by sshd.
if cargo test -q -p duo-tests --test duo_check -- --ignored --exact installed_duo_check \
    >"$work/duo-check.log" 2>&1; then
    ok "installed duo-check runs: exit 2 on the keyless sample configs, JSON names every check"
else
    bad "installed duo-check runs: exit 2 on the keyless sample configs, JSON names every check"
    tail -40 "$work/duo-check.log" | sed 's/^/    /'
fi

# A real sshd with ForceCommand /usr/sbin/login_duo against the mock Duo service.
if cargo test -q -p duo-tests --test pam_sshd -- --ignored --exact installed_login_duo_forcecommand \
    >"$work/sshd.log" 2>&1; then
    ok "installed login_duo through sshd ForceCommand: approve runs the command, deny does not"
else
    bad "installed login_duo through sshd ForceCommand: approve runs the command, deny does not"
    tail -40 "$work/sshd.log" | sed 's/^/    /'
fi

# pam-auth-update in a scratch root, with the profile the package installed.
scratch=$work/root
mkdir -p "$scratch/etc/pam.d" "$scratch/var/lib/pam" "$scratch/usr/share/pam-configs"
cp /usr/share/pam-configs/* "$scratch/usr/share/pam-configs/"
cp /etc/pam.d/common-* "$scratch/etc/pam.d/"
cp /var/lib/pam/* "$scratch/var/lib/pam/" 2>/dev/null
# Undo anything a local pam_duo profile might have put there, to start from a clean stack.
pam-auth-update --root "$scratch" --package --remove duo >/dev/null 2>&1
cp /usr/share/pam-configs/duo "$scratch/usr/share/pam-configs/duo"
DEBIAN_FRONTEND=noninteractive pam-auth-update --root "$scratch" --package >/dev/null 2>&1
check "pam-auth-update --package does not enable the profile (Default: no)" \
    sh -c "! grep -q pam_duo '$scratch/etc/pam.d/common-auth'"
pam-auth-update --root "$scratch" --enable duo >/dev/null 2>&1
grep -v '^#' "$scratch/etc/pam.d/common-auth" | grep . >"$work/stack"
sed 's/^/    /' "$work/stack"
# The Additional block comes after the primary block: pam_unix must succeed first (it jumps
# over pam_deny), then pam_duo is required.
check "enabled: common-auth has 'auth required pam_duo.so' after pam_unix and pam_deny" \
    awk '/pam_unix\.so/ { u = NR } /pam_deny\.so/ { d = NR }
         $1 == "auth" && $2 == "required" && $3 == "pam_duo.so" { p = NR }
         END { exit !(u && d && p && u < d && d < p) }' "$work/stack"
check "enabled: pam_duo appears once and only in common-auth" \
    sh -c "[ \$(cat '$scratch'/etc/pam.d/common-* | grep -c pam_duo) = 1 ]"
pam-auth-update --root "$scratch" --package --remove duo >/dev/null 2>&1
check "removing the profile (what prerm runs) takes pam_duo out of the stack" \
    sh -c "! grep -q pam_duo '$scratch'/etc/pam.d/common-*"

# Reinstalling (an upgrade path) keeps an edited config.
echo "# local edit $$" >>/etc/duo/pam_duo.conf
dpkg -i "$deb" >"$work/dpkg-re.log" 2>&1
check "reinstall keeps the edited /etc/duo/pam_duo.conf" grep -q "# local edit $$" /etc/duo/pam_duo.conf
check "reinstall keeps pam_duo.conf at 0600" mode_owner /etc/duo/pam_duo.conf 600 root:root

if dpkg --purge duo-unix-rs >"$work/purge.log" 2>&1; then
    installed=false
    ok "dpkg --purge removes the package"
else
    bad "dpkg --purge removes the package"
    sed 's/^/    /' "$work/purge.log"
fi
# Issue 17: purging warned "directory '/usr/lib/x86_64-linux-gnu/security' not empty so not removed".
check "dpkg --purge printed no warning" sh -c "! grep -qi warning '$work/purge.log'"
grep -i warning "$work/purge.log" | sed 's/^/    /'
check "purged: no pam_duo left in /etc/pam.d" sh -c '! grep -rqs pam_duo /etc/pam.d'
check "purged: no pam_duo.so, login_duo, duo-check, profile or /etc/duo left" \
    sh -c '! ls /usr/lib/x86_64-linux-gnu/security/pam_duo.so /lib/x86_64-linux-gnu/security/pam_duo.so \
        /usr/sbin/login_duo /usr/sbin/duo-check /usr/share/pam-configs/duo /etc/duo 2>/dev/null | grep -q .'
check "purged: no outage-window state left in /run/duo-unix-rs" test ! -e /run/duo-unix-rs
check "purged: dpkg no longer knows the package" \
    sh -c "! dpkg-query -W -f='\${Status}' duo-unix-rs 2>/dev/null | grep -q 'install ok'"

# ---------------------------------------------------------------- .rpm
rpmfile=$(bash packaging/build-rpm.sh) || rpmfile=
check "make rpm builds a package" test -s "$rpmfile"
rpm -qlvp "$rpmfile" >"$work/rpm.list" 2>/dev/null
# in_rpm MODE OWNER GROUP PATH: an entry of `rpm -qlvp`.
in_rpm() { awk -v m="$1" -v o="$2" -v g="$3" -v p="$4" '$1 == m && $3 == o && $4 == g && $9 == p { f = 1 } END { exit !f }' "$work/rpm.list"; }
check "rpm: login_duo 4755 root/root in /usr/sbin" in_rpm -rwsr-xr-x root root /usr/sbin/login_duo
check "rpm: duo-check 0755 root/root in /usr/sbin" in_rpm -rwxr-xr-x root root /usr/sbin/duo-check
check "rpm: duo-check(8) man page" in_rpm -rw-r--r-- root root /usr/share/man/man8/duo-check.8.gz
check "rpm: pam_duo.so in /usr/lib64/security" in_rpm -rw-r--r-- root root /usr/lib64/security/pam_duo.so
check "rpm: /etc/duo/pam_duo.conf 0600 root" in_rpm -rw------- root root /etc/duo/pam_duo.conf
check "rpm: /etc/duo/login_duo.conf 0600 owned by sshd" in_rpm -rw------- sshd root /etc/duo/login_duo.conf
check "rpm: man pages" in_rpm -rw-r--r-- root root /usr/share/man/man8/login_duo.8.gz
check "rpm: SELinux policy source" in_rpm -rw-r--r-- root root /usr/share/selinux/devel/duo_unix/duo_unix.te
rpm -qpc "$rpmfile" >"$work/rpm.conf" 2>/dev/null
check "rpm -qpc lists both configs" \
    sh -c "grep -qx /etc/duo/pam_duo.conf '$work/rpm.conf' && grep -qx /etc/duo/login_duo.conf '$work/rpm.conf'"
rpm -qp --qf '[%{FILENAMES} %{FILEFLAGS:fflags}\n]' "$rpmfile" >"$work/rpm.flags" 2>/dev/null
check "rpm: configs are %config(noreplace)" \
    sh -c "grep -qx '/etc/duo/pam_duo.conf cn' '$work/rpm.flags' && grep -qx '/etc/duo/login_duo.conf cn' '$work/rpm.flags'"
rpm -qp --scripts "$rpmfile" >"$work/rpm.scripts" 2>/dev/null
sed 's/^/    /' "$work/rpm.scripts"
check "rpm --scripts: postinstall and preuninstall scriptlets, no PAM stack edits" \
    sh -c "grep -q '^postinstall scriptlet' '$work/rpm.scripts' && grep -q '^preuninstall scriptlet' '$work/rpm.scripts' \
        && ! grep -Eq 'sed |authselect|>+ */etc/pam.d' '$work/rpm.scripts'"
for tag in POSTIN PREUN; do
    rpm -qp --qf "%{$tag}\n" "$rpmfile" >"$work/rpm.$tag.sh" 2>/dev/null
done
check "rpm: the %post and %preun scriptlets are valid sh" \
    sh -c "sh -n '$work/rpm.POSTIN.sh' && sh -n '$work/rpm.PREUN.sh' && [ -s '$work/rpm.POSTIN.sh' ]"
rpm -qpR "$rpmfile" >"$work/rpm.req" 2>/dev/null
check "rpm: requires pam" grep -q '^pam' "$work/rpm.req"
check "rpm: requires glibc >= 2.17 and no newer glibc" \
    sh -c "grep -qx 'glibc >= 2.17' '$work/rpm.req' && [ \$(grep -c '^glibc' '$work/rpm.req') = 1 ]"
rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$rpmfile" 2>/dev/null | awk '$1 ~ /^d/ { print $2 }' | sort >"$work/rpm.dirs"
check "rpm: owns only its own directories (/etc/duo, its doc and SELinux source directories)" \
    sh -c "[ \"\$(tr '\n' ' ' <'$work/rpm.dirs')\" = '/etc/duo /usr/share/doc/duo-unix-rs /usr/share/doc/duo-unix-rs/examples /usr/share/selinux/devel/duo_unix ' ]"

# ---------------------------------------------------------------- glibc floor (both packages)
floor_tests "$deb" "$rpmfile"

# ---------------------------------------------------------------- the FIPS build's package
fipsdeb=$(DUO_FIPS=1 bash packaging/build-deb.sh) || fipsdeb=
if [ -n "$fipsdeb" ]; then
    ok "make deb-fips builds $fipsdeb"
    floor_fips_tests "$fipsdeb"
else
    bad "make deb-fips builds the FIPS package"
fi
fipsrpm=$(DUO_FIPS=1 bash packaging/build-rpm.sh) || fipsrpm=
if [ -n "$fipsrpm" ]; then
    ok "make rpm-fips builds $fipsrpm"
    floor_fips_rpm_tests "$fipsrpm"
else
    bad "make rpm-fips builds the FIPS RPM package"
fi

# ---------------------------------------------------------------- make install
dest=$work/dest
if make -s install DESTDIR="$dest" PREFIX=/usr/local >"$work/install.log" 2>&1; then
    ok "make install DESTDIR PREFIX=/usr/local"
else
    bad "make install DESTDIR PREFIX=/usr/local"
    sed 's/^/    /' "$work/install.log"
fi
check "make install: setuid login_duo in PREFIX/sbin" mode_owner "$dest/usr/local/sbin/login_duo" 4755 root:root
check "make install: pam_duo.so in PREFIX/lib/security" mode_owner "$dest/usr/local/lib/security/pam_duo.so" 644 root:root
check "make install: duo-check and its man page in PREFIX" \
    sh -c "[ \$(stat -c %a:%U '$dest/usr/local/sbin/duo-check') = 755:root ] && test -f '$dest/usr/local/share/man/man8/duo-check.8.gz'"
check "make install: configs 0600" sh -c "[ \$(stat -c %a '$dest/etc/duo/pam_duo.conf' '$dest/etc/duo/login_duo.conf' | sort -u) = 600 ]"
echo "# mine" >>"$dest/etc/duo/pam_duo.conf"
make -s install DESTDIR="$dest" PREFIX=/usr/local >/dev/null 2>&1
check "make install again keeps an existing config" grep -qx "# mine" "$dest/etc/duo/pam_duo.conf"

# ---------------------------------------------------------------- SELinux
check "SELinux policy allows sshd_session_t, sshd_t and sudo domains" \
    sh -c "grep -q 'duo_unix_client(sshd_session_t)' packaging/selinux/duo_unix.te && grep -q 'duo_unix_client(sshd_t)' packaging/selinux/duo_unix.te && grep -q 'duo_unix_client(sudo_t)' packaging/selinux/duo_unix.te"
if [ -f /usr/share/selinux/devel/Makefile ]; then
    mkdir -p "$work/selinux"
    cp packaging/selinux/duo_unix.te packaging/selinux/duo_unix.if packaging/selinux/duo_unix.fc "$work/selinux/"
    if (cd "$work/selinux" && make -f /usr/share/selinux/devel/Makefile duo_unix.pp) >"$work/selinux.log" 2>&1 \
        && [ -s "$work/selinux/duo_unix.pp" ]; then
        ok "SELinux policy compiles (selinux-policy-dev)"
    else
        bad "SELinux policy compiles (selinux-policy-dev)"
        sed 's/^/    /' "$work/selinux.log"
    fi
else
    bad "SELinux policy compiles: /usr/share/selinux/devel/Makefile missing (apt install selinux-policy-dev checkpolicy)"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
