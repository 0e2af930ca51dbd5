//! `make bench`: per-login cost of `login_duo` (autopush, headless) against the mock service.
//!
//! Reports the median over 20 runs of the CPU time (user + system) and the peak RSS of the
//! `login_duo` process, taken from `wait4`'s resource usage, plus the wall time.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use duo_tests::Mock;

const RUNS: usize = 20;

fn sibling(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    exe.parent().map(|d| d.join(name)).unwrap_or_default()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn tv(t: libc::timeval) -> f64 {
    t.tv_sec as f64 * 1000.0 + t.tv_usec as f64 / 1000.0
}

/// Run one login and return (cpu ms, peak RSS KiB, wall ms).
fn one(login: &PathBuf, conf: &PathBuf) -> Result<(f64, f64, f64), String> {
    let start = Instant::now();
    let child = Command::new(login)
        .args(["-c"])
        .arg(conf)
        .args(["-f", "alice", "--", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data; zeroed is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, writing into valid locals.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed().as_secs_f64() * 1000.0;
    if r != pid || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(format!("login_duo failed (status {status})"));
    }
    // login_duo execs the shell for `true`; rusage covers the process image that exited, so
    // the wrapped command is measured as well. `true` through /bin/sh costs well under 1 ms.
    Ok((
        tv(usage.ru_utime) + tv(usage.ru_stime),
        usage.ru_maxrss as f64,
        wall,
    ))
}

fn main() -> ExitCode {
    let login = sibling("login_duo");
    let mock = Mock::start_with(&sibling("mockduo"), &[]);
    let conf = mock.dir.join("bench.conf");
    let body = format!(
        "[duo]\nikey = DIXYZV6YM8IFYVWBINCA\nskey = yWHSMhWucAcp7qvuH3HWTaSaKABs8Gaddiv1NIRo\n\
         host = 127.0.0.1:{}\ncafile = {}\nautopush = yes\n",
        mock.port,
        mock.ca.display()
    );
    if std::fs::write(&conf, body).is_err()
        || std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600)).is_err()
    {
        eprintln!("cannot write {}", conf.display());
        return ExitCode::FAILURE;
    }
    // Warm-up (page cache, mock threads).
    let _ = one(&login, &conf);
    let (mut cpu, mut rss, mut wall) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        match one(&login, &conf) {
            Ok((c, r, w)) => {
                cpu.push(c);
                rss.push(r);
                wall.push(w);
            }
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    println!(
        "login_duo autopush login, median of {RUNS}: CPU {:.2} ms (user+sys), peak RSS {:.2} MiB, wall {:.1} ms",
        median(&mut cpu),
        median(&mut rss) / 1024.0,
        median(&mut wall)
    );
    println!("requests per login: ping, preauth, auth (3 HTTPS round trips on one TLS connection)");
    match pam_bench(&mock) {
        Ok(line) => println!("{line}"),
        Err(e) => {
            eprintln!("pam benchmark: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// pam_authenticate through the real libpam and the release module, autopush, median of 50
/// (after one warm-up cycle), in one pamclient process.
fn pam_bench(mock: &Mock) -> Result<String, String> {
    let module = sibling("libpam_duo.so");
    let confdir = mock.dir.join("pam.d");
    std::fs::create_dir_all(&confdir).map_err(|e| e.to_string())?;
    let conf = mock.dir.join("pam-bench.conf");
    std::fs::write(
        &conf,
        format!(
            "[duo]\nikey = DIXYZV6YM8IFYVWBINCA\nskey = yWHSMhWucAcp7qvuH3HWTaSaKABs8Gaddiv1NIRo\n\
             host = 127.0.0.1:{}\ncafile = {}\nautopush = yes\n",
            mock.port,
            mock.ca.display()
        ),
    )
    .map_err(|e| e.to_string())?;
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| e.to_string())?;
    std::fs::write(
        confdir.join("duo-bench"),
        format!(
            "auth required {} conf={}\n",
            module.display(),
            conf.display()
        ),
    )
    .map_err(|e| e.to_string())?;
    let out = Command::new(sibling("pamclient"))
        .arg("--confdir")
        .arg(&confdir)
        .args([
            "--service",
            "duo-bench",
            "--user",
            "root",
            "--cycles",
            "51",
            "--timing",
        ])
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !text.contains("RESULT 0 ") {
        return Err(format!("logins failed: {text}"));
    }
    let field = |l: &str, k: &str| -> Option<f64> {
        l.split_whitespace()
            .find_map(|kv| kv.strip_prefix(k))
            .and_then(|v| v.parse().ok())
    };
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("TIMING "))
        .skip(1)
        .collect();
    let mut wall: Vec<f64> = rows.iter().filter_map(|l| field(l, "wall_ms=")).collect();
    let mut cpu: Vec<f64> = rows.iter().filter_map(|l| field(l, "cpu_ms=")).collect();
    Ok(format!(
        "pam_authenticate (autopush, real libpam), median of {}: latency {:.1} ms, CPU {:.2} ms (user+sys)",
        wall.len(),
        median(&mut wall),
        median(&mut cpu)
    ))
}
