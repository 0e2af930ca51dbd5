#!/usr/bin/env python3
"""Regenerate build-support/crypto-hot.ld: `make crypto-hot` (needs valgrind; run as root).

Why (docs/ARCHITECTURE.md "Cryptography", issue 22): AWS-LC links about 620 KiB of code into
each binary, of which a login runs about 120 KiB. The kernel maps a program's text in whole
page-cache folios, so when those functions are spread over the whole block almost all of it
becomes resident. The linker script this program writes puts the sections a login runs in one
output section before `.text`; the rest of AWS-LC stays together at the end and is never
touched.

How: callgrind records every function `target/release/login_duo` runs in autopush logins
against the mock (ECDSA P-256 and RSA-2048 certificates), up to the exec of the shell. Each
AWS-LC function found there is mapped to its input section in AWS-LC's static library:
`.text.<name>` for C (built with -ffunction-sections), the whole `.text` of the object for
assembly, where all CPU variants of a routine share one file, so that a machine that picks
another variant than valgrind's CPU still finds it here.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "build-support", "crypto-hot.ld")
# `crypto-hot.py [TARGET_DIR]`: the release build in TARGET_DIR (default target/).
TARGET = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(ROOT, "target")
LOGIN = os.path.join(TARGET, "release", "login_duo")
MOCK = os.path.join(ROOT, "target", "release", "mockduo")
VARIANTS = {"aesni-gcm-x86_64.o": ("aesni-gcm-avx512.o",)}
IKEY = "DIXYZV6YM8IFYVWBINCA"
SKEY = "yWHSMhWucAcp7qvuH3HWTaSaKABs8Gaddiv1NIRo"


def die(msg):
    print(f"crypto-hot: {msg}", file=sys.stderr)
    sys.exit(1)


def executed(key, work):
    """Names of the functions login_duo runs in one login against a mock with `key`."""
    mdir = tempfile.mkdtemp(dir=work)
    mock = subprocess.Popen(
        [MOCK, "--dir", mdir, "--exit-on-stdin-eof", "--key", key],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        line = mock.stdout.readline().decode()
        if not line.startswith("READY "):
            die(f"mockduo did not start: {line!r}")
        conf = os.path.join(mdir, "login_duo.conf")
        with open(conf, "w") as f:
            f.write(
                f"[duo]\nikey = {IKEY}\nskey = {SKEY}\nhost = 127.0.0.1:{line.split()[1]}\n"
                f"cafile = {mdir}/ca.pem\nautopush = yes\n"
            )
        os.chmod(conf, 0o600)
        prof = os.path.join(mdir, "cg.out")
        subprocess.run(
            ["valgrind", "--tool=callgrind", "--demangle=no", "--dump-before=execve",
             f"--callgrind-out-file={prof}", LOGIN, "-c", conf, "-f", "alice", "--", "true"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            timeout=120, check=True,
        )
    finally:
        mock.stdin.close()
        mock.wait(timeout=10)
    names = set()
    for part in os.listdir(mdir):
        if not part.startswith("cg.out"):
            continue
        with open(os.path.join(mdir, part), errors="replace") as f:
            for l in f:
                m = re.match(r"c?fn=\(\d+\)(?: (.+))?$", l.rstrip("\n"))
                if m and m.group(1):
                    names.add(m.group(1))
    if not names:
        die("callgrind recorded no function (did the login fail?)")
    return names


def archive():
    """AWS-LC's static library that target/release was linked with."""
    build = os.path.join(TARGET, "release", "build")
    found = sorted(
        os.path.join(build, d, "out", f)
        for d in os.listdir(build)
        if d.startswith("aws-lc-sys-") and os.path.isdir(os.path.join(build, d, "out"))
        for f in os.listdir(os.path.join(build, d, "out"))
        if re.fullmatch(r"libaws_lc_\d+_\d+_\d+_crypto\.a", f)
    )
    if not found:
        die("no libaws_lc_*_crypto.a under target/release/build: run `make release` first")
    return found[0]


def sections(lib):
    """symbol name -> (object member without the build hash, input section name), for code
    and read-only data."""
    out = subprocess.run(["objdump", "-t", lib], capture_output=True, text=True, check=True).stdout
    where = {}
    member = None
    for l in out.splitlines():
        m = re.match(r"^(\S+\.o):\s+file format", l)
        if m:
            member = re.sub(r"^[0-9a-f]{16}-", "", m.group(1))
            continue
        # 0000000000000000 g     F .text.name\t00000000000000f8 [.hidden ]name
        if "\t" not in l:
            continue
        left, right = l.split("\t", 1)
        sec, name = left.split()[-1], right.split()[-1]
        if sec.startswith((".text", ".rodata")):
            where.setdefault(name, (member, sec))
    return where


def references(lib):
    """(member, section) -> names (symbols or sections) its relocations point at."""
    out = subprocess.run(["objdump", "-r", lib], capture_output=True, text=True, check=True).stdout
    refs = {}
    member = sec = None
    for l in out.splitlines():
        m = re.match(r"^(\S+\.o):\s+file format", l)
        if m:
            member = re.sub(r"^[0-9a-f]{16}-", "", m.group(1))
            continue
        m = re.match(r"^RELOCATION RECORDS FOR \[(.+)\]:", l)
        if m:
            sec = m.group(1)
            continue
        p = l.split()
        if sec and len(p) == 3 and re.fullmatch(r"[0-9a-f]+", p[0]):
            refs.setdefault((member, sec), set()).add(re.split(r"[+-]0x", p[2])[0])
    return refs


def plain_rodata(sec):
    """A read-only data section worth placing: not a mergeable string or constant pool, which
    the linker combines across objects, and not the function names of assertion messages."""
    return (sec.startswith(".rodata.") and not sec.startswith((".rodata.str", ".rodata.cst"))
            and "__PRETTY_FUNCTION__" not in sec and "__func__" not in sec)


def main():
    for path in (LOGIN, MOCK):
        if not os.access(path, os.X_OK):
            die(f"{path} is missing: run `make release` and "
                "`cargo build --release -p duo-tests --bin mockduo` first")
    if shutil.which("valgrind") is None:
        die("valgrind is not installed (apt install valgrind)")
    lib = archive()
    prefix = re.search(r"libaws_lc_(\d+_\d+_\d+)_crypto", lib).group(1)
    where = sections(lib)
    refs = references(lib)
    with tempfile.TemporaryDirectory() as work:
        names = executed("p256", work) | executed("rsa2048", work)
    hot = set()  # (member, section) of the code a login runs
    asm_objects = set()
    for n in names:
        if n in where and where[n][1].startswith(".text"):
            member, sec = where[n]
            if sec == ".text":
                asm_objects.add(member)
            else:
                hot.add((member, sec))
    # Assembly that valgrind's CPU does not pick but real ones do: s2n-bignum's routines come in
    # two files (with and without BMI2/ADX), and AES-GCM has an AVX-512 file beside AES-NI's.
    present = set(m for m, _ in where.values())
    for o in list(asm_objects):
        for v in (o.replace("_alt.o", ".o"), o.replace(".o", "_alt.o")) + VARIANTS.get(o, ()):
            if v in present:
                asm_objects.add(v)
    c_sections = set(sec for _, sec in hot)
    # The read-only data that code reads: sections its relocations name, directly or through a
    # symbol defined in one.
    data = set()
    for key in hot | set((o, ".text") for o in asm_objects):
        for r in refs.get(key, ()):
            sec = r if r.startswith(".") else where.get(r, (None, ""))[1]
            if plain_rodata(sec):
                data.add(sec)
    # The glibc 2.17 build compiles AWS-LC with zig's clang, which names the sections of static
    # functions and data without GCC's suffixes (`.isra.0`, `.constprop.0`, `.141`): both names.
    for group in (c_sections, data):
        group |= set(re.sub(r"(\.(isra|constprop|part|cold|lto_priv))*\.\d+$", "", x) for x in group)
    if len(c_sections) < 100 or not asm_objects or not data:
        die(f"only {len(c_sections)} C sections, {len(asm_objects)} assembly objects and "
            f"{len(data)} data sections found")
    lines = [
        f"/* aws-lc-sys {prefix.replace('_', '.')} */",
        "/* Generated by build-support/crypto-hot.py (`make crypto-hot`) for the aws-lc-sys above:",
        "   the AWS-LC code a login runs and the read-only data it reads, placed before .text and",
        "   .rodata so that the rest of AWS-LC is never made resident. Regenerate after updating",
        "   aws-lc-sys (the package tests fail until then). docs/ARCHITECTURE.md \"Cryptography\". */",
        "SECTIONS",
        "{",
        "  .text.crypto_hot : {",
    ]
    lines += [f"    *({s})" for s in sorted(c_sections)]
    lines += [f"    *-{o}(.text)" for o in sorted(asm_objects)]
    lines += ["  }", "}", "INSERT BEFORE .text;", "", "SECTIONS", "{", "  .rodata.crypto_hot : {"]
    lines += [f"    *({s})" for s in sorted(data)]
    lines += [f"    *-{o}(.rodata)" for o in sorted(asm_objects)]
    lines += ["  }", "}", "INSERT BEFORE .rodata;", ""]
    with open(OUT, "w") as f:
        f.write("\n".join(lines))
    print(f"crypto-hot: {len(c_sections)} C sections, {len(asm_objects)} assembly objects, "
          f"{len(data)} data sections -> {OUT}")


if __name__ == "__main__":
    main()
