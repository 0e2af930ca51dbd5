//! A small PAM application on the real libpam, for tests.
//!
//! `pamclient --confdir DIR --service NAME --user USER [--rhost HOST] [--answer TEXT]...
//!            [--cycles N] [--stats] [--threads]`
//!
//! Runs `pam_start_confdir` / `pam_authenticate` / `pam_end` (N times), answering echo-on
//! prompts from the `--answer` list in order (none left: a conversation error), and prints
//! `PROMPT <text>`, `INFO <text>`, `ERROR <text>` for each message and `RESULT <code> <text>`
//! per cycle. `--stats` prints open fds, threads and VmRSS before and after the cycles;
//! `--timing` prints the wall and CPU time of each `pam_authenticate`. `--threads` runs cycle
//! `i` in one of three ways, by `i % 3`: all on the main thread; `pam_authenticate` on a new
//! thread that exits before `pam_end` (before libpam unloads the module); or the whole cycle
//! on a new thread that exits after `pam_end` has unloaded it. The stats also count the
//! mappings of a file whose name contains `pam_duo` (0 once the module is really unloaded).

use std::collections::VecDeque;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_void};
use std::sync::Mutex;

#[repr(C)]
struct PamMessage {
    msg_style: c_int,
    msg: *const c_char,
}

#[repr(C)]
struct PamResponse {
    resp: *mut c_char,
    resp_retcode: c_int,
}

#[repr(C)]
struct PamConv {
    conv: extern "C" fn(c_int, *mut *const PamMessage, *mut *mut PamResponse, *mut c_void) -> c_int,
    appdata_ptr: *mut c_void,
}

#[link(name = "pam")]
extern "C" {
    fn pam_start_confdir(
        service: *const c_char,
        user: *const c_char,
        conv: *const PamConv,
        confdir: *const c_char,
        pamh: *mut *mut c_void,
    ) -> c_int;
    fn pam_authenticate(pamh: *mut c_void, flags: c_int) -> c_int;
    fn pam_end(pamh: *mut c_void, status: c_int) -> c_int;
    fn pam_set_item(pamh: *mut c_void, item_type: c_int, item: *const c_void) -> c_int;
    fn pam_strerror(pamh: *mut c_void, errnum: c_int) -> *const c_char;
}

const PAM_RHOST: c_int = 4;
const PAM_PROMPT_ECHO_OFF: c_int = 1;
const PAM_PROMPT_ECHO_ON: c_int = 2;
const PAM_ERROR_MSG: c_int = 3;
const PAM_TEXT_INFO: c_int = 4;
const PAM_CONV_ERR: c_int = 19;

static ANSWERS: Mutex<VecDeque<String>> = Mutex::new(VecDeque::new());

extern "C" fn conversation(
    n: c_int,
    msgs: *mut *const PamMessage,
    resp: *mut *mut PamResponse,
    _data: *mut c_void,
) -> c_int {
    if n <= 0 || msgs.is_null() || resp.is_null() {
        return PAM_CONV_ERR;
    }
    // SAFETY: calloc returns zeroed memory for `n` responses or NULL; libpam frees it.
    let out =
        unsafe { libc::calloc(n as usize, std::mem::size_of::<PamResponse>()) } as *mut PamResponse;
    if out.is_null() {
        return PAM_CONV_ERR;
    }
    for i in 0..n as usize {
        // SAFETY: Linux-PAM passes an array of `n` valid message pointers.
        let m = unsafe { &**msgs.add(i) };
        let text = if m.msg.is_null() {
            String::new()
        } else {
            // SAFETY: a NUL-terminated message string from libpam.
            unsafe { CStr::from_ptr(m.msg) }
                .to_string_lossy()
                .into_owned()
        };
        match m.msg_style {
            PAM_PROMPT_ECHO_ON | PAM_PROMPT_ECHO_OFF => {
                println!("PROMPT {text}");
                let answer = ANSWERS.lock().ok().and_then(|mut a| a.pop_front());
                let Some(answer) = answer else {
                    // SAFETY: frees the array allocated above (no strings were set yet
                    // for later entries; earlier ones are freed by the loop below).
                    unsafe {
                        for j in 0..i {
                            libc::free((*out.add(j)).resp.cast());
                        }
                        libc::free(out.cast());
                    }
                    return PAM_CONV_ERR;
                };
                let c = CString::new(answer).unwrap_or_default();
                // SAFETY: strdup copies a valid C string; libpam frees it.
                unsafe { (*out.add(i)).resp = libc::strdup(c.as_ptr()) };
            }
            PAM_TEXT_INFO => println!("INFO {text}"),
            PAM_ERROR_MSG => println!("ERROR {text}"),
            _ => println!("OTHER {text}"),
        }
    }
    // SAFETY: `resp` is a valid out-pointer from libpam.
    unsafe { *resp = out };
    0
}

/// CPU time (user + system) of this process so far, in milliseconds.
fn cpu_ms() -> f64 {
    // SAFETY: rusage is plain data, filled in by getrusage.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid out-pointer.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1000.0 + t.tv_usec as f64 / 1000.0;
    ms(u.ru_utime) + ms(u.ru_stime)
}

fn stats(tag: &str) {
    let fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0);
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let get = |k: &str| {
        status
            .lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("0")
            .to_string()
    };
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let duo_maps = maps.lines().filter(|l| l.contains("pam_duo")).count();
    println!(
        "STATS {tag} fds={fds} threads={} rss_kb={} sigign={} sigcgt={} duo_maps={duo_maps}",
        get("Threads:"),
        get("VmRSS:"),
        get("SigIgn:"),
        get("SigCgt:")
    );
}

/// A PAM handle passed to another thread (libpam handles are not tied to a thread).
#[derive(Clone, Copy)]
struct Handle(*mut c_void);
// SAFETY: the handle is used by one thread at a time (the other waits in `join`).
unsafe impl Send for Handle {}

/// Which thread runs which part of a cycle (`--threads`).
#[derive(Clone, Copy, PartialEq)]
enum Where {
    /// Everything on the main thread.
    Main,
    /// `pam_authenticate` on a thread that exits before `pam_end`.
    ExitsBeforeUnload,
    /// The whole cycle on a thread that exits after `pam_end`.
    ExitsAfterUnload,
}

fn main() {
    let mut confdir = String::new();
    let mut service = String::new();
    let mut user = String::new();
    let mut rhost: Option<Vec<u8>> = None;
    let mut cycles = 1u32;
    let mut want_stats = false;
    let mut timing = false;
    let mut threads = false;
    // The host is bytes (it need not be UTF-8); every other argument is text.
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        let mut raw = || args.next().unwrap_or_default();
        if a == "--rhost" {
            rhost = Some(std::os::unix::ffi::OsStrExt::as_bytes(raw().as_os_str()).to_vec());
            continue;
        }
        let mut val = || raw().to_string_lossy().into_owned();
        match a.to_string_lossy().as_ref() {
            "--confdir" => confdir = val(),
            "--service" => service = val(),
            "--user" => user = val(),
            "--answer" => {
                let v = val();
                if let Ok(mut q) = ANSWERS.lock() {
                    q.push_back(v);
                }
            }
            "--cycles" => cycles = val().parse().unwrap_or(1),
            "--stats" => want_stats = true,
            "--timing" => timing = true,
            "--threads" => threads = true,
            other => {
                eprintln!("pamclient: unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    let (svc, usr, dir) = (
        CString::new(service).unwrap_or_default(),
        CString::new(user).unwrap_or_default(),
        CString::new(confdir).unwrap_or_default(),
    );
    let host = rhost.map(|h| CString::new(h).unwrap_or_default());
    let conv = PamConv {
        conv: conversation,
        appdata_ptr: std::ptr::null_mut(),
    };
    let args = Cycle {
        svc: &svc,
        usr: &usr,
        dir: &dir,
        host: host.as_ref(),
        conv: &conv,
        timing,
    };
    let (mut first, mut changed) = (None, false);
    for i in 0..cycles {
        if want_stats && (i == 0 || i == 50) {
            stats(if i == 0 { "start" } else { "warm" });
        }
        let place = match (threads, i % 3) {
            (false, _) | (true, 0) => Where::Main,
            (true, 1) => Where::ExitsBeforeUnload,
            _ => Where::ExitsAfterUnload,
        };
        let (r, text) = if place == Where::ExitsAfterUnload {
            std::thread::scope(|s| {
                s.spawn(|| cycle(&args, Where::Main))
                    .join()
                    .unwrap_or((-1, "thread panicked".into()))
            })
        } else {
            cycle(&args, place)
        };
        if cycles == 1 || i + 1 == cycles {
            println!("RESULT {r} {text}");
        } else if first.get_or_insert(r) != &r && !changed {
            changed = true;
            println!("CHANGED cycle={i} code={r} {text}");
        }
    }
    if want_stats {
        stats("end");
    }
}

/// What every cycle needs.
struct Cycle<'a> {
    svc: &'a CString,
    usr: &'a CString,
    dir: &'a CString,
    host: Option<&'a CString>,
    conv: &'a PamConv,
    timing: bool,
}

// SAFETY: the conversation struct holds a function pointer and a null data pointer.
unsafe impl Sync for PamConv {}

/// One pam_start / pam_authenticate / pam_end cycle; `pam_authenticate` on a thread of its
/// own when `place` is `ExitsBeforeUnload`. Returns the code and its text.
fn cycle(a: &Cycle<'_>, place: Where) -> (c_int, String) {
    let (svc, usr, dir, host, conv, timing) = (a.svc, a.usr, a.dir, a.host, a.conv, a.timing);
    {
        let mut pamh: *mut c_void = std::ptr::null_mut();
        // SAFETY: all strings are valid C strings, `conv` outlives the handle.
        let rc =
            unsafe { pam_start_confdir(svc.as_ptr(), usr.as_ptr(), conv, dir.as_ptr(), &mut pamh) };
        if rc != 0 {
            println!("RESULT {rc} pam_start failed");
            std::process::exit(1);
        }
        if let Some(h) = host {
            // SAFETY: pamh is a live handle; PAM copies the string.
            unsafe { pam_set_item(pamh, PAM_RHOST, h.as_ptr().cast()) };
        }
        let (wall0, cpu0) = (std::time::Instant::now(), cpu_ms());
        let r = if place == Where::ExitsBeforeUnload {
            let h = Handle(pamh);
            std::thread::spawn(move || {
                let h = h;
                // SAFETY: a live handle, used only by this thread until it is joined.
                unsafe { pam_authenticate(h.0, 0) }
            })
            .join()
            .unwrap_or(-1)
        } else {
            // SAFETY: pamh is a live handle.
            unsafe { pam_authenticate(pamh, 0) }
        };
        if timing {
            println!(
                "TIMING wall_ms={:.3} cpu_ms={:.3}",
                wall0.elapsed().as_secs_f64() * 1000.0,
                cpu_ms() - cpu0
            );
        }
        // SAFETY: pam_strerror returns a static string for a live handle.
        let text = unsafe { CStr::from_ptr(pam_strerror(pamh, r)) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: ends the handle started above, exactly once.
        unsafe { pam_end(pamh, r) };
        (r, text)
    }
}
