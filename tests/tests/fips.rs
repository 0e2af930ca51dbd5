//! The FIPS build (issue 22, docs/BEHAVIOUR.md §0a D16): `login_duo`, `pam_duo.so` and
//! `duo-check` built with `--features fips` into `target/fips/debug` (`make fips-test` builds
//! them; `make check` runs it before the tests). Against the mock: a full login through both
//! frontends with AWS-LC's FIPS module, the mode shown by `duo-check --json`, no request to a
//! server that offers only non-approved parameters (while the default build logs in there),
//! and `noverify` refused.
//!
//! Ignored by a plain `cargo test` (the FIPS build needs cmake and Go and minutes to build);
//! `make check` runs them with `--include-ignored`, after building it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use duo_tests::pam_codes::PAM_SUCCESS;
use duo_tests::runner::PamClient;
use duo_tests::users::TempUser;
use duo_tests::{login_duo_echo, mock_conf, Mock};

/// A binary of the FIPS build, beside the default build's target directory.
fn fips_built(name: &str) -> PathBuf {
    let default = duo_tests::built("mockduo");
    let target = default
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    let p = target.join("fips").join("debug").join(name);
    assert!(
        p.exists(),
        "{} is missing: build the FIPS binaries first (make fips-test, or make check)",
        p.display()
    );
    p
}

/// `login_duo_echo` with the binary at `bin`, killed after 30 s.
fn login(bin: &Path, conf: &Path, user: &str, marker: &str) -> Output {
    let cmd = login_duo_echo(conf, user, marker);
    let mut c = Command::new("timeout");
    c.arg("30")
        .arg(bin)
        .args(cmd.get_args())
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdin(Stdio::null());
    c.output().expect("run login_duo")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
#[ignore = "needs root and the FIPS build (make fips-test)"]
fn fips_login_duo_logs_in_with_the_fips_module() {
    duo_tests::require_root();
    let mock = Mock::start(&[]);
    let user = TempUser::create("duof", "preauth-allow");
    let conf = mock_conf(&mock, "fips.conf", "send_gecos = yes");
    let o = login(&fips_built("login_duo"), &conf, &user.name, "RAN-fips");
    let (out, err) = text(&o);
    assert!(
        o.status.success() && out.contains("RAN-fips"),
        "{out}\n{err}"
    );
    assert!(
        err.contains("AWS-LC FIPS") && err.contains("(FIPS build, FIPS mode)"),
        "{err}"
    );
    let reqs = mock.requests();
    assert!(
        !reqs.is_empty() && reqs.iter().all(|r| r["sig_ok"] == true),
        "{reqs:?}"
    );
    let v = Command::new(fips_built("login_duo"))
        .arg("-v")
        .output()
        .expect("login_duo -v");
    let (vo, ve) = text(&v);
    assert!(
        format!("{vo}{ve}").contains("(FIPS build, FIPS mode)"),
        "{vo}{ve}"
    );
}

#[test]
#[ignore = "needs root and the FIPS build (make fips-test)"]
fn fips_pam_module_logs_in_with_the_fips_module() {
    duo_tests::require_root();
    let mock = Mock::start(&[]);
    let user = TempUser::create("duofp", "preauth-allow");
    let conf = mock_conf(&mock, "fips-pam.conf", "send_gecos = yes");
    let confdir = duo_tests::runner::pam_service_with(
        &mock.dir.join("pam.d"),
        "duo-fips",
        &fips_built("libpam_duo.so"),
        &conf,
        "debug",
    );
    let run = PamClient::new(&confdir, "duo-fips", &user.name)
        .limit(Duration::from_secs(30))
        .run();
    let (out, err) = (&run.stdout, &run.stderr);
    assert_eq!(run.pam_code, Some(PAM_SUCCESS), "{out}\n{err}");
    assert!(err.contains("(FIPS build, FIPS mode)"), "{err}");
    assert!(mock
        .requests()
        .iter()
        .any(|r| r["path"] == "/auth/v2/preauth"));
}

#[test]
#[ignore = "needs root and the FIPS build (make fips-test)"]
fn fips_duo_check_json_shows_the_module_mode_and_self_test() {
    duo_tests::require_root();
    let mock = Mock::start(&[]);
    let conf = mock_conf(&mock, "fips-check.conf", "");
    let o = Command::new("timeout")
        .arg("60")
        .arg(fips_built("duo-check"))
        .arg("--json")
        .arg("--conf")
        .arg(&conf)
        .stdin(Stdio::null())
        .output()
        .expect("duo-check");
    let (out, err) = text(&o);
    let v: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    assert_eq!(v["crypto"]["build"], "fips", "{out}");
    assert_eq!(v["crypto"]["fips_mode"], true, "{out}");
    assert_eq!(v["crypto"]["self_test"], "passed", "{out}");
    assert!(
        v["crypto"]["module"]
            .as_str()
            .unwrap_or("")
            .starts_with("AWS-LC FIPS"),
        "{out}"
    );
    // The default build says it is not FIPS.
    let d = Command::new(duo_tests::built("duo-check"))
        .arg("--json")
        .arg("--conf")
        .arg(&conf)
        .output()
        .expect("duo-check");
    let dv: serde_json::Value = serde_json::from_slice(&d.stdout).expect("json");
    assert_eq!(dv["crypto"]["build"], "default");
    assert_eq!(dv["crypto"]["fips_mode"], false);
}

/// A server offering only X25519, or only ChaCha20-Poly1305: the FIPS build's handshake fails
/// before any request (failmode rules as for any TLS failure), the default build logs in.
#[test]
#[ignore = "needs root and the FIPS build (make fips-test)"]
fn fips_build_sends_nothing_to_a_server_with_only_non_approved_parameters() {
    duo_tests::require_root();
    let user = TempUser::create("duofn", "preauth-allow");
    for only in ["x25519", "chacha20"] {
        let mock = Mock::start(&["--only", only]);
        for (failmode, allowed) in [("secure", false), ("safe", true)] {
            let conf = mock_conf(
                &mock,
                &format!("fips-{failmode}.conf"),
                &format!("send_gecos = yes\nfailmode = {failmode}"),
            );
            let o = login(&fips_built("login_duo"), &conf, &user.name, "RAN-only");
            let (out, err) = text(&o);
            assert_eq!(
                out.contains("RAN-only"),
                allowed,
                "--only {only}, failmode {failmode}: {out}\n{err}"
            );
            assert!(
                mock.requests().is_empty(),
                "--only {only}: the FIPS build sent a request: {:?}",
                mock.requests()
            );
        }
        let conf = mock_conf(&mock, "default.conf", "send_gecos = yes\nfailmode = secure");
        let o = login(
            &duo_tests::built("login_duo"),
            &conf,
            &user.name,
            "RAN-default",
        );
        let (out, err) = text(&o);
        assert!(
            out.contains("RAN-default"),
            "--only {only}, default build: {out}\n{err}"
        );
        assert!(
            !mock.requests().is_empty(),
            "--only {only}: the default build asked Duo"
        );
    }
}

#[test]
#[ignore = "needs root and the FIPS build (make fips-test)"]
fn fips_build_refuses_noverify() {
    duo_tests::require_root();
    let mock = Mock::start(&[]);
    let user = TempUser::create("duofv", "preauth-allow");
    for failmode in ["safe", "secure"] {
        let conf = mock_conf(
            &mock,
            &format!("noverify-{failmode}.conf"),
            &format!("send_gecos = yes\nnoverify = yes\nfailmode = {failmode}"),
        );
        let o = login(&fips_built("login_duo"), &conf, &user.name, "RAN-noverify");
        let (out, err) = text(&o);
        assert!(
            !out.contains("RAN-noverify"),
            "failmode {failmode}: {out}\n{err}"
        );
        assert!(
            err.contains("noverify is not allowed in a FIPS build"),
            "failmode {failmode}: {err}"
        );
        // A config problem (D1), found before any API handle is made.
        assert!(
            !err.contains("Couldn't open Duo API handle"),
            "failmode {failmode}: {err}"
        );
        assert!(mock.requests().is_empty());
    }
    // The default build still accepts it (with its warning).
    let conf = mock_conf(
        &mock,
        "noverify-default.conf",
        "send_gecos = yes\nnoverify = yes",
    );
    let o = login(
        &duo_tests::built("login_duo"),
        &conf,
        &user.name,
        "RAN-default",
    );
    let (out, err) = text(&o);
    assert!(out.contains("RAN-default"), "{out}\n{err}");
}

/// The FIPS module loaded and unloaded 1,100 times by one host, as the default build's in
/// `pam_module::host_loads_and_unloads_the_module_1100_times` (`runner::assert_survives_unloads`).
#[test]
#[ignore = "needs root and the FIPS build (make fips-test)"]
fn fips_module_survives_1100_loads_and_unloads() {
    duo_tests::require_root();
    let mock = Mock::start(&[]);
    let user = TempUser::create("duofu", "preauth-allow");
    duo_tests::runner::assert_survives_unloads(
        &mock,
        &fips_built("libpam_duo.so"),
        &user.name,
        "FIPS build",
    );
}
