//! The PAM stacks: where `pam_duo.so` appears in the `auth` stacks of sshd, sudo, su and the
//! shared `common-auth`/`system-auth`/`password-auth` files, and whether any way through the
//! stack can succeed without Duo.
//!
//! The stack is read as Linux-PAM reads it (`@include`, `include`, `substack`, `-auth`,
//! keyword and `[value=action]` controls) and then played: every other module either
//! succeeds or fails (`pam_permit` always succeeds, `pam_deny` always fails), `pam_duo` succeeds
//! or fails with each code it can return, and Linux-PAM's rules (ok, done, bad, die, ignore,
//! reset, jumps; a substack counts as one module for a jump and ends on done/die) give the
//! stack's result. A way to success on which Duo did not run, or failed, is a bypass.

use std::path::{Path, PathBuf};

use crate::report::{Check, Level, Report};

/// Deepest include nesting followed.
const MAX_DEPTH: usize = 16;
/// Most module lines in one expanded stack.
const MAX_LINES: usize = 512;
/// Most module runs explored while playing a stack.
const MAX_STEPS: usize = 200_000;

/// What a module line does with a return code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Does not count.
    Ignore,
    /// Counts as the result unless something failed already.
    Ok,
    /// As `Ok`, then ends the stack if nothing failed.
    Done,
    /// Counts as a failure.
    Bad,
    /// As `Bad`, then ends the stack.
    Die,
    /// Forget everything so far.
    Reset,
    /// Skip the next N modules.
    Jump(u32),
}

/// Return codes played. `Success` and `AuthErr` for every module; pam_duo also fails with
/// the others (a denial, failsecure, an abort, too many attempts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ret {
    /// PAM_SUCCESS
    Success,
    /// PAM_AUTH_ERR
    AuthErr,
    /// PAM_SERVICE_ERR
    ServiceErr,
    /// PAM_ABORT
    Abort,
    /// PAM_MAXTRIES
    MaxTries,
}

impl Ret {
    fn name(self) -> &'static str {
        match self {
            Ret::Success => "success",
            Ret::AuthErr => "auth_err",
            Ret::ServiceErr => "service_err",
            Ret::Abort => "abort",
            Ret::MaxTries => "maxtries",
        }
    }
}

/// A control field: what to do for each return code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Control {
    /// As written.
    pub text: String,
    map: Vec<(String, Action)>,
    default: Action,
}

impl Control {
    /// Parse a keyword (`required`, `requisite`, `sufficient`, `optional`) or a
    /// `[value=action ...]` list.
    pub fn parse(text: &str) -> Result<Control, String> {
        let kw = |map: &[(&str, Action)], default| Control {
            text: text.to_string(),
            map: map.iter().map(|(k, a)| (k.to_string(), *a)).collect(),
            default,
        };
        let ok_set = [
            ("success", Action::Ok),
            ("new_authtok_reqd", Action::Ok),
            ("ignore", Action::Ignore),
        ];
        match text.to_ascii_lowercase().as_str() {
            "required" => return Ok(kw(&ok_set, Action::Bad)),
            "requisite" => return Ok(kw(&ok_set, Action::Die)),
            "optional" => return Ok(kw(&ok_set[..2], Action::Ignore)),
            "sufficient" => {
                return Ok(kw(
                    &[
                        ("success", Action::Done),
                        ("new_authtok_reqd", Action::Done),
                    ],
                    Action::Ignore,
                ))
            }
            _ => {}
        }
        let inner = text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .ok_or_else(|| format!("unknown control '{text}'"))?;
        // Linux-PAM's default for a value not listed is "bad".
        let mut c = kw(&[], Action::Bad);
        for pair in inner.split_whitespace() {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("bad control item '{pair}'"))?;
            let a = match v.to_ascii_lowercase().as_str() {
                "ignore" => Action::Ignore,
                "ok" => Action::Ok,
                "done" => Action::Done,
                "bad" => Action::Bad,
                "die" => Action::Die,
                "reset" => Action::Reset,
                n => Action::Jump(
                    n.parse::<u32>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| format!("bad action '{v}' in control '{text}'"))?,
                ),
            };
            let k = k.to_ascii_lowercase();
            if k == "default" {
                c.default = a;
            } else {
                c.map.push((k, a));
            }
        }
        Ok(c)
    }

    /// The action for a return code.
    pub fn action(&self, r: Ret) -> Action {
        self.map
            .iter()
            .rev()
            .find(|(k, _)| k == r.name())
            .map(|(_, a)| *a)
            .unwrap_or(self.default)
    }
}

/// One `auth` module line of an expanded stack.
#[derive(Clone, Debug)]
pub struct Line {
    /// The file it is in (under the root) and its 1-based line number.
    pub file: PathBuf,
    /// 1-based line number.
    pub line: usize,
    /// The control.
    pub control: Control,
    /// Module path as written.
    pub module: String,
    /// Module arguments.
    pub args: Vec<String>,
    /// How it was reached from the service file, e.g. `@include common-auth`.
    pub via: Vec<String>,
    /// Ids of the substacks it is in, outermost first.
    pub scope: Vec<usize>,
}

impl Line {
    /// Whether this is pam_duo (by file name, any path).
    pub fn is_duo(&self) -> bool {
        module_name(&self.module) == "pam_duo.so"
    }

    /// `/etc/pam.d/common-auth:25`, relative to the root.
    pub fn place(&self, root: &Path) -> String {
        let rel = self.file.strip_prefix(root).unwrap_or(&self.file);
        format!("/{}:{}", rel.display(), self.line)
    }

    /// `sufficient pam_unix.so` (control and module file name).
    pub fn short(&self) -> String {
        format!("{} {}", self.control.text, module_name(&self.module))
    }
}

fn module_name(m: &str) -> &str {
    m.rsplit('/').next().unwrap_or(m)
}

/// An expanded `auth` stack, or why it could not be read.
#[derive(Debug, Default)]
pub struct Stack {
    /// Module lines in order.
    pub lines: Vec<Line>,
    /// Problems met while reading (bad lines, missing include files).
    pub problems: Vec<String>,
}

/// Split a PAM line into fields; `[...]` (with `\]` inside) is one field.
fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '[' if cur.is_empty() && !depth => {
                depth = true;
                cur.push(c);
            }
            '\\' if depth && chars.peek() == Some(&']') => {
                cur.push(']');
                chars.next();
            }
            ']' if depth => {
                depth = false;
                cur.push(c);
            }
            c if c.is_whitespace() && !depth => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The logical lines of a PAM file: comments removed, backslash continuations joined. Each
/// with the number of its first physical line.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        if cur.is_empty() {
            start = i + 1;
        }
        let no_comment = raw.split('#').next().unwrap_or("");
        if let Some(head) = no_comment.strip_suffix('\\') {
            cur.push_str(head);
            cur.push(' ');
            continue;
        }
        cur.push_str(no_comment);
        if !cur.trim().is_empty() {
            out.push((start, std::mem::take(&mut cur)));
        }
        cur.clear();
    }
    if !cur.trim().is_empty() {
        out.push((start, cur));
    }
    out
}

/// The file a service name or include argument names, under `root`.
pub fn pam_file(root: &Path, name: &str) -> PathBuf {
    match name.strip_prefix('/') {
        Some(abs) => root.join(abs),
        None => root.join("etc/pam.d").join(name),
    }
}

/// Read the `auth` stack of `file` under `root`, following includes and substacks.
pub fn load(root: &Path, file: &Path) -> Stack {
    let mut st = Stack::default();
    let mut next_scope = 0;
    read(root, file, &[], &[], &[], 0, &mut next_scope, &mut st);
    st
}

#[allow(clippy::too_many_arguments)]
fn read(
    root: &Path,
    file: &Path,
    chain: &[PathBuf],
    via: &[String],
    scope: &[usize],
    depth: usize,
    next_scope: &mut usize,
    st: &mut Stack,
) {
    let shown = |p: &Path| format!("/{}", p.strip_prefix(root).unwrap_or(p).display());
    if chain.iter().any(|c| c == file) {
        st.problems.push(format!("{} includes itself", shown(file)));
        return;
    }
    let mut chain = chain.to_vec();
    chain.push(file.to_path_buf());
    let chain = &chain[..];
    if depth > MAX_DEPTH {
        st.problems.push(format!(
            "includes nested more than {MAX_DEPTH} deep at {}",
            shown(file)
        ));
        return;
    }
    let text = match std::fs::read(file) {
        Ok(t) => String::from_utf8_lossy(&t).into_owned(),
        Err(e) => {
            st.problems.push(format!(
                "cannot read {}: {}",
                shown(file),
                duo::sys::strerror(&e)
            ));
            return;
        }
    };
    for (no, l) in logical_lines(&text) {
        if st.lines.len() >= MAX_LINES {
            st.problems.push(format!(
                "more than {MAX_LINES} auth lines; the rest is not read"
            ));
            return;
        }
        let f = fields(&l);
        let Some(first) = f.first() else { continue };
        let here = format!("{}:{no}", shown(file));
        if first == "@include" {
            let Some(target) = f.get(1) else {
                st.problems.push(format!("{here}: @include without a file"));
                continue;
            };
            let mut v = via.to_vec();
            v.push(format!("@include {target} at {here}"));
            read(
                root,
                &pam_file(root, target),
                chain,
                &v,
                scope,
                depth + 1,
                next_scope,
                st,
            );
            continue;
        }
        let ty = first.strip_prefix('-').unwrap_or(first);
        if !ty.eq_ignore_ascii_case("auth") {
            continue;
        }
        let (Some(control), Some(module)) = (f.get(1), f.get(2)) else {
            st.problems.push(format!("{here}: incomplete line"));
            continue;
        };
        let lc = control.to_ascii_lowercase();
        if lc == "include" || lc == "substack" {
            let mut v = via.to_vec();
            v.push(format!("{lc} {module} at {here}"));
            let mut sc = scope.to_vec();
            if lc == "substack" {
                *next_scope += 1;
                sc.push(*next_scope);
            }
            read(
                root,
                &pam_file(root, module),
                chain,
                &v,
                &sc,
                depth + 1,
                next_scope,
                st,
            );
            continue;
        }
        match Control::parse(control) {
            Ok(c) => st.lines.push(Line {
                file: file.to_path_buf(),
                line: no,
                control: c,
                module: module.clone(),
                args: f[3..].to_vec(),
                via: via.to_vec(),
                scope: scope.to_vec(),
            }),
            Err(e) => st.problems.push(format!(
                "{here}: {e} (Linux-PAM fails every login through this stack)"
            )),
        }
    }
}

/// Linux-PAM's running verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Impression {
    Undef,
    Positive,
    Negative,
}

/// What one way through the stack did.
#[derive(Clone, Debug)]
struct Run {
    impression: Impression,
    success: bool,
    /// Index of the pam_duo lines that ran, with what they returned.
    duo: Vec<(usize, Ret)>,
    /// The last line whose jump or done/die skipped over a pam_duo line, with its action and
    /// the code that chose it.
    skipped_by: Option<(usize, Action, Ret)>,
}

/// A way to a successful login that gets around Duo.
#[derive(Clone, Debug)]
pub enum Bypass {
    /// pam_duo never ran: the culprit line skipped or ended the stack before it.
    Skipped {
        /// Index of the line that jumped or ended the stack.
        by: usize,
        /// Its action.
        action: Action,
        /// The code that chose that action.
        ret: Ret,
    },
    /// pam_duo ran, failed, and the stack still succeeded.
    Ignored {
        /// Index of the pam_duo line.
        duo: usize,
        /// The code it failed with.
        ret: Ret,
    },
}

/// The result of playing a stack.
#[derive(Debug)]
pub struct Analysis {
    /// The first bypass found of each kind.
    pub bypasses: Vec<Bypass>,
    /// Whether the exploration was cut short.
    pub incomplete: bool,
}

/// Play every way through `lines`.
pub fn analyse(lines: &[Line]) -> Analysis {
    let mut a = Analysis {
        bypasses: Vec::new(),
        incomplete: false,
    };
    let mut steps = 0usize;
    let start = Run {
        impression: Impression::Undef,
        success: false,
        duo: Vec::new(),
        skipped_by: None,
    };
    // Depth-first over (next line, state).
    let mut todo: Vec<(usize, Run)> = vec![(0, start)];
    while let Some((i, run)) = todo.pop() {
        steps += 1;
        if steps > MAX_STEPS {
            a.incomplete = true;
            break;
        }
        let Some(line) = lines.get(i) else {
            finish(&run, &mut a);
            continue;
        };
        let rets: &[Ret] = if line.is_duo() {
            &[
                Ret::Success,
                Ret::AuthErr,
                Ret::ServiceErr,
                Ret::Abort,
                Ret::MaxTries,
            ]
        } else {
            match module_name(&line.module) {
                "pam_permit.so" => &[Ret::Success],
                "pam_deny.so" => &[Ret::AuthErr],
                _ => &[Ret::Success, Ret::AuthErr],
            }
        };
        // Pushed in reverse so that the first code is explored first.
        for &r in rets.iter().rev() {
            let mut run = run.clone();
            if line.is_duo() {
                run.duo.push((i, r));
            }
            let next = step(lines, i, r, &mut run);
            todo.push((next, run));
        }
    }
    a
}

/// Apply line `i`'s action for `r`; the index of the next line to run (the end of the stack
/// when it is `lines.len()`).
fn step(lines: &[Line], i: usize, r: Ret, run: &mut Run) -> usize {
    let line = &lines[i];
    let action = line.control.action(r);
    let ok = |run: &mut Run| {
        if run.impression == Impression::Undef
            || (run.impression == Impression::Positive && run.success)
        {
            run.impression = Impression::Positive;
            run.success = r == Ret::Success;
        }
    };
    let bad = |run: &mut Run| {
        if run.impression != Impression::Negative {
            run.impression = Impression::Negative;
            run.success = false;
        }
    };
    // The end of the innermost substack holding line i (or of the whole stack).
    let scope_end = (i + 1..lines.len())
        .find(|&j| !lines[j].scope.starts_with(&line.scope))
        .unwrap_or(lines.len());
    // Continue at `to`, noting whether that passes over a pam_duo line.
    let go = |to: usize, run: &mut Run| {
        if lines[i + 1..to.max(i + 1)].iter().any(Line::is_duo) {
            run.skipped_by = Some((i, action, r));
        }
        to
    };
    match action {
        Action::Ignore => i + 1,
        Action::Ok => {
            ok(run);
            i + 1
        }
        Action::Bad => {
            bad(run);
            i + 1
        }
        Action::Reset => {
            run.impression = Impression::Undef;
            run.success = false;
            i + 1
        }
        Action::Done => {
            ok(run);
            if run.impression == Impression::Positive {
                go(scope_end, run)
            } else {
                i + 1
            }
        }
        Action::Die => {
            bad(run);
            go(scope_end, run)
        }
        Action::Jump(n) => {
            // Skip n units at this level: a line of the same scope, or a whole substack.
            let depth = line.scope.len();
            let mut j = i + 1;
            for _ in 0..n {
                if j >= scope_end {
                    break;
                }
                if lines[j].scope.len() > depth {
                    let inner = lines[j].scope[..=depth].to_vec();
                    while j < scope_end && lines[j].scope.starts_with(&inner) {
                        j += 1;
                    }
                } else {
                    j += 1;
                }
            }
            go(j, run)
        }
    }
}

fn finish(run: &Run, a: &mut Analysis) {
    let success = run.impression == Impression::Positive && run.success;
    if !success {
        return;
    }
    // The first example of each culprit line is kept.
    if let Some(&(duo, ret)) = run.duo.iter().find(|(_, r)| *r != Ret::Success) {
        if !a
            .bypasses
            .iter()
            .any(|b| matches!(b, Bypass::Ignored { duo: d, .. } if *d == duo))
        {
            a.bypasses.push(Bypass::Ignored { duo, ret });
        }
        return;
    }
    if run.duo.is_empty() {
        if let Some((by, action, ret)) = run.skipped_by {
            if !a
                .bypasses
                .iter()
                .any(|b| matches!(b, Bypass::Skipped { by: x, .. } if *x == by))
            {
                a.bypasses.push(Bypass::Skipped { by, action, ret });
            }
        }
    }
}

/// What the other checks need to know about the PAM stacks.
#[derive(Debug, Default)]
pub struct Facts {
    /// sshd's auth stack has pam_duo.
    pub sshd_has_duo: bool,
    /// Some stack has pam_duo without `conf=` (it reads /etc/duo/pam_duo.conf).
    pub default_conf_used: bool,
    /// The `conf=` paths named, as written.
    pub conf_paths: Vec<String>,
}

/// How sshd is set up, as far as the PAM check cares.
#[derive(Debug, Default)]
pub struct SshdUse {
    /// sshd runs PAM keyboard-interactive (UsePAM yes and keyboard-interactive on).
    pub pam_kbdint: bool,
    /// sshd's ForceCommand is login_duo.
    pub forced_login_duo: bool,
}

/// Directories searched for a module given without a path, under the root.
const MODULE_DIRS: [&str; 6] = [
    "lib/x86_64-linux-gnu/security",
    "usr/lib/x86_64-linux-gnu/security",
    "lib64/security",
    "usr/lib64/security",
    "lib/security",
    "usr/lib/security",
];

/// Services and shared files looked at.
const SERVICES: [&str; 3] = ["sshd", "sudo", "su"];
const SHARED: [&str; 3] = ["common-auth", "system-auth", "password-auth"];

/// Modules whose success depends on who logs in: skipping Duo through them is an exemption
/// that may be intended.
const CONDITIONAL: [&str; 6] = [
    "pam_succeed_if.so",
    "pam_access.so",
    "pam_listfile.so",
    "pam_localuser.so",
    "pam_rootok.so",
    "pam_wheel.so",
];

/// The PAM check.
pub fn check(report: &mut Report, root: &Path, sshd: &SshdUse) -> Facts {
    let mut facts = Facts::default();
    let mut module_refs: Vec<String> = Vec::new();
    for (name, is_service) in SERVICES
        .iter()
        .map(|s| (*s, true))
        .chain(SHARED.iter().map(|s| (*s, false)))
    {
        let file = pam_file(root, name);
        if !file.exists() {
            if is_service {
                report.ok(
                    Check::Pam,
                    name,
                    format!("/etc/pam.d/{name} does not exist ({name} is not installed, or uses 'other')"),
                );
            }
            continue;
        }
        let st = load(root, &file);
        for p in &st.problems {
            report.add(
                Check::Pam,
                Level::Warning,
                name,
                p,
                format!("fix the line; `pamtester {name} USER authenticate` shows what PAM does"),
            );
        }
        let duo: Vec<usize> = (0..st.lines.len())
            .filter(|&i| st.lines[i].is_duo())
            .collect();
        if name == "sshd" {
            facts.sshd_has_duo = !duo.is_empty();
        }
        if duo.is_empty() {
            absent(report, name, is_service, sshd);
            continue;
        }
        let mut clean = true;
        for &i in &duo {
            let l = &st.lines[i];
            module_refs.push(format!("{}|{}", l.module, l.place(root)));
            clean &= arguments(report, root, name, l, &mut facts);
        }
        clean &= !twice(report, root, name, &st.lines, &duo);
        let a = analyse(&st.lines);
        for b in &a.bypasses {
            if bypass(report, root, name, &st.lines, &duo, b) != Level::Ok {
                clean = false;
            }
        }
        if a.incomplete {
            clean = false;
            report.add(
                Check::Pam,
                Level::Warning,
                name,
                "the stack has too many ways through it to check them all",
                "simplify the auth stack, then run duo-check again",
            );
        }
        if clean {
            let l = &st.lines[duo[0]];
            report.ok(
                Check::Pam,
                name,
                format!(
                    "pam_duo.so '{}' at {}{}, auth module {} of {}: no way through the stack skips it or ignores its failure",
                    l.control.text,
                    l.place(root),
                    via(l),
                    duo[0] + 1,
                    st.lines.len()
                ),
            );
        }
    }
    module_installed(report, root, &module_refs);
    facts
}

/// A stack that runs pam_duo more than once asks Duo (and pushes) once per line; only under
/// sshd does the module use its own earlier approval on the same handle (one push). True when
/// reported.
fn twice(report: &mut Report, root: &Path, name: &str, lines: &[Line], duo: &[usize]) -> bool {
    if duo.len() < 2 || name == "sshd" {
        return false;
    }
    let places: Vec<String> = duo
        .iter()
        .map(|&i| format!("{}{}", lines[i].place(root), via(&lines[i])))
        .collect();
    report.add(
        Check::Pam,
        Level::Warning,
        name,
        format!(
            "pam_duo.so is in the auth stack {} times ({}): a login asks Duo once per line (two pushes or more)",
            duo.len(),
            places.join(", ")
        ),
        "keep one pam_duo.so line (pam-auth-update already adds one to common-auth)",
    );
    true
}

fn via(l: &Line) -> String {
    if l.via.is_empty() {
        String::new()
    } else {
        format!(" (via {})", l.via.join(", "))
    }
}

/// No pam_duo in this stack.
fn absent(report: &mut Report, name: &str, is_service: bool, sshd: &SshdUse) {
    if name != "sshd" {
        let what = if is_service {
            format!("{name} does not ask Duo")
        } else {
            "services that include it get Duo only from their own lines".to_string()
        };
        report.ok(Check::Pam, name, format!("no pam_duo.so: {what}"));
        return;
    }
    if sshd.forced_login_duo {
        report.ok(
            Check::Pam,
            name,
            "no pam_duo.so in sshd's auth stack; SSH logins use login_duo (ForceCommand)",
        );
    } else if sshd.pam_kbdint {
        report.add(
            Check::Pam,
            Level::Error,
            name,
            "sshd runs PAM keyboard-interactive logins, but its auth stack has no pam_duo.so: SSH logins skip Duo",
            "add 'auth required pam_duo.so' to /etc/pam.d/sshd after the password check (or pam-auth-update --enable duo), or use login_duo as ForceCommand",
        );
    } else {
        report.add(
            Check::Pam,
            Level::Warning,
            name,
            "SSH logins do not use Duo: no pam_duo.so in sshd's auth stack and no login_duo ForceCommand",
            "add 'auth required pam_duo.so' to /etc/pam.d/sshd with KbdInteractiveAuthentication yes, or set ForceCommand /usr/sbin/login_duo",
        );
    }
}

/// Module arguments: only `conf=` and `debug` are accepted, and `conf=` must exist.
fn arguments(report: &mut Report, root: &Path, name: &str, l: &Line, facts: &mut Facts) -> bool {
    let mut clean = true;
    let mut conf = None;
    for a in &l.args {
        if let Some(p) = a.strip_prefix("conf=") {
            conf = Some(p.to_string());
        } else if a != "debug" {
            clean = false;
            report.add(
                Check::Pam,
                Level::Error,
                name,
                format!(
                    "pam_duo.so at {} has the unknown argument '{a}': the module refuses to run and denies every login",
                    l.place(root)
                ),
                "keep only conf=PATH and debug on the pam_duo.so line",
            );
        }
    }
    match conf {
        None => facts.default_conf_used = true,
        Some(p) => {
            if !facts.conf_paths.contains(&p) {
                facts.conf_paths.push(p.clone());
            }
            let on_disk = pam_file(root, &p);
            if !p.starts_with('/') || !on_disk.exists() {
                clean = false;
                report.add(
                    Check::Pam,
                    Level::Error,
                    name,
                    format!(
                        "pam_duo.so at {} reads conf={p}, which does not exist: every login through it is denied",
                        l.place(root)
                    ),
                    "create that file (owner root, mode 0600) or correct the conf= path (absolute)",
                );
            }
        }
    }
    clean
}

/// Report one bypass; its level.
fn bypass(
    report: &mut Report,
    root: &Path,
    name: &str,
    lines: &[Line],
    duo: &[usize],
    b: &Bypass,
) -> Level {
    let duo_at = |i: usize| lines[i].place(root);
    match *b {
        Bypass::Skipped { by, action, ret } => {
            let l = &lines[by];
            let target = duo
                .iter()
                .find(|&&d| d > by)
                .map(|&d| duo_at(d))
                .unwrap_or_default();
            let conditional = CONDITIONAL.contains(&module_name(&l.module));
            let when = if ret == Ret::Success {
                "succeeds".to_string()
            } else {
                format!("returns {}", ret.name())
            };
            let (what, fix) = match action {
                Action::Jump(n) => (
                    format!("jumps {n} over pam_duo.so ({target})"),
                    "make the jump land before pam_duo.so, not past it, or move pam_duo.so above this line",
                ),
                _ => (
                    format!("ends the stack with success before pam_duo.so ({target}) runs"),
                    "move pam_duo.so above this line, or make this line 'required' so that its success does not end the stack",
                ),
            };
            let (level, tail, fix) = if module_name(&l.module) == "pam_rootok.so" {
                (
                    Level::Ok,
                    "root skips Duo here, as it skips the password (the usual su set-up)"
                        .to_string(),
                    "",
                )
            } else if conditional {
                (
                    Level::Warning,
                    "the users it matches skip Duo; make sure that is intended".to_string(),
                    "keep it only if that exemption is meant (e.g. a break-glass group)",
                )
            } else {
                (
                    Level::Error,
                    "a login can succeed without Duo".to_string(),
                    fix,
                )
            };
            report.add(
                Check::Pam,
                level,
                name,
                format!(
                    "'{}' at {}{}: when it {when}, it {what}: {tail}",
                    l.short(),
                    l.place(root),
                    via(l)
                ),
                fix,
            );
            level
        }
        Bypass::Ignored { duo, ret } => {
            let l = &lines[duo];
            report.add(
                Check::Pam,
                Level::Error,
                name,
                format!(
                    "pam_duo.so is '{}' at {}{}: when Duo denies or cannot be reached ({}), the stack still succeeds, so a failed Duo check is ignored",
                    l.control.text,
                    l.place(root),
                    via(l),
                    ret.name()
                ),
                "make it 'auth required pam_duo.so' (or requisite)",
            );
            Level::Error
        }
    }
}

/// The module file itself must be there.
fn module_installed(report: &mut Report, root: &Path, refs: &[String]) {
    let mut seen: Vec<&str> = Vec::new();
    for r in refs {
        let (module, place) = r.split_once('|').unwrap_or((r, ""));
        if seen.contains(&module) {
            continue;
        }
        seen.push(module);
        let candidates: Vec<PathBuf> = match module.strip_prefix('/') {
            Some(abs) => vec![root.join(abs)],
            None => MODULE_DIRS
                .iter()
                .map(|d| root.join(d).join(module))
                .collect(),
        };
        match candidates.iter().find(|p| p.is_file()) {
            Some(p) => report.ok(
                Check::Pam,
                "pam_duo.so",
                format!("installed at /{}", p.strip_prefix(root).unwrap_or(p).display()),
            ),
            None => report.add(
                Check::Pam,
                Level::Error,
                "pam_duo.so",
                format!(
                    "{module} (used at {place}) is not installed: Linux-PAM fails that line, and a '-auth' line is skipped silently (no Duo)"
                ),
                "install the package (or make install), or correct the module path",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> PathBuf {
        crate::scratch::tree("pam", files)
    }

    /// Debian 12's common-auth, with the pam-auth-update Duo profile enabled or not.
    fn common_auth(duo: &str) -> String {
        format!(
            "# here are the per-package modules (the \"Primary\" block)\n\
             auth\t[success=1 default=ignore]\tpam_unix.so nullok\n\
             # here's the fallback if no module succeeds\n\
             auth\trequisite\t\t\tpam_deny.so\n\
             auth\trequired\t\t\tpam_permit.so\n\
             {duo}\n"
        )
    }

    fn play(stack: &str) -> (Stack, Analysis) {
        let root = tree(&[("etc/pam.d/svc", stack)]);
        let st = load(&root, &pam_file(&root, "svc"));
        let a = analyse(&st.lines);
        let _ = std::fs::remove_dir_all(&root);
        (st, a)
    }

    fn verdict(stack: &str) -> Vec<String> {
        let (st, a) = play(stack);
        assert!(st.problems.is_empty(), "{:?}", st.problems);
        a.bypasses
            .iter()
            .map(|b| match b {
                Bypass::Skipped { by, action, ret } => {
                    format!(
                        "skipped by {} {action:?} on {}",
                        st.lines[*by].short(),
                        ret.name()
                    )
                }
                Bypass::Ignored { duo, ret } => {
                    format!("ignored {} on {}", st.lines[*duo].short(), ret.name())
                }
            })
            .collect()
    }

    #[test]
    fn controls() {
        let c = Control::parse("[success=2 default=ignore auth_err=die]").unwrap();
        assert_eq!(c.action(Ret::Success), Action::Jump(2));
        assert_eq!(c.action(Ret::AuthErr), Action::Die);
        assert_eq!(c.action(Ret::Abort), Action::Ignore);
        let c = Control::parse("[success=ok]").unwrap();
        assert_eq!(
            c.action(Ret::AuthErr),
            Action::Bad,
            "unlisted values are bad"
        );
        assert_eq!(
            Control::parse("Sufficient").unwrap().action(Ret::Success),
            Action::Done
        );
        assert_eq!(
            Control::parse("optional").unwrap().action(Ret::ServiceErr),
            Action::Ignore
        );
        assert_eq!(
            Control::parse("requisite").unwrap().action(Ret::Abort),
            Action::Die
        );
        for bad in [
            "mandatory",
            "[success=0]",
            "[success=x]",
            "[success]",
            "[a=b",
        ] {
            assert!(Control::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn line_syntax() {
        assert_eq!(
            fields("auth [success=1 default=ignore] pam_x.so [q=a b\\]c] d=[e f]"),
            [
                "auth",
                "[success=1 default=ignore]",
                "pam_x.so",
                "[q=a b]c]",
                "d=[e",
                "f]"
            ]
        );
        let l = logical_lines(
            "# c\nauth required \\\n  pam_duo.so # trailing\n\n-auth optional x.so\n",
        );
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].0, 2);
        assert_eq!(fields(&l[0].1), ["auth", "required", "pam_duo.so"]);
        assert_eq!(l[1].0, 5);
    }

    #[test]
    fn correct_stacks_have_no_bypass() {
        assert!(verdict("auth required pam_unix.so\nauth required pam_duo.so\n").is_empty());
        assert!(verdict("auth requisite pam_unix.so\nauth requisite /lib/security/pam_duo.so conf=/etc/duo/x.conf\n").is_empty());
        assert!(verdict(&common_auth("auth required pam_duo.so")).is_empty());
        // Duo alone is enough (no password), but a Duo failure still ends in pam_deny.
        assert!(verdict("auth sufficient pam_duo.so\nauth requisite pam_deny.so\n").is_empty());
        // A jump that lands on pam_duo.
        assert!(verdict("auth [success=1 default=ignore] pam_unix.so\nauth requisite pam_deny.so\nauth required pam_duo.so\n").is_empty());
        // A substack whose done ends only the substack.
        let root = tree(&[
            (
                "etc/pam.d/svc",
                "auth substack inner\nauth required pam_duo.so\n",
            ),
            (
                "etc/pam.d/inner",
                "auth sufficient pam_unix.so\nauth required pam_deny.so\n",
            ),
        ]);
        let st = load(&root, &pam_file(&root, "svc"));
        assert_eq!(st.lines.len(), 3);
        assert!(analyse(&st.lines).bypasses.is_empty());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn bypasses_are_found_and_named() {
        assert_eq!(
            verdict("auth sufficient pam_unix.so\nauth required pam_duo.so\n"),
            ["skipped by sufficient pam_unix.so Done on success"]
        );
        assert_eq!(
            verdict("auth required pam_unix.so\nauth optional pam_duo.so\n"),
            ["ignored optional pam_duo.so on auth_err"]
        );
        assert_eq!(
            verdict("auth required pam_unix.so\nauth [success=ok default=ignore] pam_duo.so\n"),
            ["ignored [success=ok default=ignore] pam_duo.so on auth_err"]
        );
        // Only some failure codes ignored.
        assert_eq!(
            verdict("auth required pam_unix.so\nauth [success=ok service_err=ignore default=bad] pam_duo.so\n"),
            ["ignored [success=ok service_err=ignore default=bad] pam_duo.so on service_err"]
        );
        // The pam-auth-update Primary block jumping one too far.
        assert_eq!(
            verdict("auth [success=2 default=ignore] pam_unix.so\nauth requisite pam_deny.so\nauth required pam_duo.so\nauth required pam_permit.so\n"),
            ["skipped by [success=2 default=ignore] pam_unix.so Jump(2) on success"]
        );
        // A sufficient module in an included file ends the including stack too.
        let root = tree(&[
            (
                "etc/pam.d/svc",
                "@include shared\nauth required pam_duo.so\n",
            ),
            (
                "etc/pam.d/shared",
                "auth sufficient pam_unix.so\nauth requisite pam_deny.so\n",
            ),
        ]);
        let st = load(&root, &pam_file(&root, "svc"));
        let a = analyse(&st.lines);
        assert!(
            matches!(a.bypasses[..], [Bypass::Skipped { by: 0, .. }]),
            "{a:?}"
        );
        assert_eq!(st.lines[0].via, ["@include shared at /etc/pam.d/svc:1"]);
        let _ = std::fs::remove_dir_all(&root);
        // Duo sufficient after the password: a Duo failure falls through to pam_permit.
        assert_eq!(
            verdict("auth required pam_unix.so\nauth sufficient pam_duo.so\nauth required pam_permit.so\n"),
            ["ignored sufficient pam_duo.so on auth_err"]
        );
    }

    #[test]
    fn every_culprit_line_is_named() {
        let v = verdict("auth sufficient pam_rootok.so\nauth sufficient pam_unix.so\nauth required pam_duo.so\n");
        assert_eq!(
            v,
            [
                "skipped by sufficient pam_rootok.so Done on success",
                "skipped by sufficient pam_unix.so Done on success"
            ]
        );
        // Debian's su with the pam-auth-update profile: only root's pam_rootok skips Duo.
        let root = tree(&[
            (
                "etc/pam.d/su",
                "auth sufficient pam_rootok.so\n@include common-auth\n",
            ),
            (
                "etc/pam.d/common-auth",
                &common_auth("auth required pam_duo.so"),
            ),
            ("lib/x86_64-linux-gnu/security/pam_duo.so", ""),
        ]);
        let mut r = Report::default();
        check(&mut r, &root, &SshdUse::default());
        let su: Vec<_> = r
            .findings()
            .into_iter()
            .filter(|f| f.subject == "su")
            .collect();
        assert_eq!(su.len(), 2, "{su:?}");
        assert!(su.iter().all(|f| f.level == Level::Ok), "{su:?}");
        assert!(su[0].finding.contains("root skips Duo here"), "{su:?}");
        assert!(su[1].finding.starts_with("pam_duo.so 'required' at /etc/pam.d/common-auth:6 (via @include common-auth at /etc/pam.d/su:2)"), "{su:?}");
        let _ = std::fs::remove_dir_all(&root);
    }

    /// pam_duo twice in a stack asks Duo twice, except under sshd, where the module uses its
    /// own earlier approval on the handle.
    #[test]
    fn a_stack_that_pushes_twice_is_warned_about() {
        let twice = "@include common-auth\nauth required pam_duo.so\n";
        let root = tree(&[
            ("etc/pam.d/sudo", twice),
            ("etc/pam.d/sshd", twice),
            (
                "etc/pam.d/common-auth",
                &common_auth("auth required pam_duo.so"),
            ),
            ("lib/x86_64-linux-gnu/security/pam_duo.so", ""),
        ]);
        let mut r = Report::default();
        check(&mut r, &root, &SshdUse::default());
        let of = |svc: &str| -> Vec<(Level, String)> {
            r.findings()
                .into_iter()
                .filter(|f| f.subject == svc)
                .map(|f| (f.level, f.finding.clone()))
                .collect()
        };
        let sudo = of("sudo");
        assert_eq!(sudo.len(), 1, "{sudo:?}");
        assert_eq!(sudo[0].0, Level::Warning);
        assert!(
            sudo[0].1.starts_with("pam_duo.so is in the auth stack 2 times (/etc/pam.d/common-auth:6 (via @include common-auth at /etc/pam.d/sudo:1), /etc/pam.d/sudo:2)"),
            "{sudo:?}"
        );
        let sshd = of("sshd");
        assert!(sshd.iter().all(|(l, _)| *l == Level::Ok), "{sshd:?}");
        let _ = std::fs::remove_dir_all(&root);
    }

    /// One pam_duo line, reached directly or through an include: no such warning.
    #[test]
    fn a_stack_with_one_pam_duo_is_not_warned_about() {
        let root = tree(&[
            ("etc/pam.d/sudo", "@include common-auth\n"),
            ("etc/pam.d/su", "auth required pam_duo.so\n"),
            (
                "etc/pam.d/common-auth",
                &common_auth("auth required pam_duo.so"),
            ),
            ("lib/x86_64-linux-gnu/security/pam_duo.so", ""),
        ]);
        let mut r = Report::default();
        check(&mut r, &root, &SshdUse::default());
        let twice: Vec<String> = r
            .findings()
            .into_iter()
            .filter(|f| f.finding.contains("times ("))
            .map(|f| format!("{}: {}", f.subject, f.finding))
            .collect();
        assert!(twice.is_empty(), "{twice:?}");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn jumps_count_a_substack_as_one_module() {
        let root = tree(&[
            (
                "etc/pam.d/svc",
                "auth [success=2 default=ignore] pam_unix.so\nauth substack inner\nauth required pam_duo.so\nauth required pam_permit.so\n",
            ),
            ("etc/pam.d/inner", "auth required pam_deny.so\nauth required pam_deny.so\n"),
        ]);
        let st = load(&root, &pam_file(&root, "svc"));
        assert_eq!(st.lines.len(), 5);
        // Counting the substack's two lines as two would land the jump on pam_duo.
        let a = analyse(&st.lines);
        assert!(
            matches!(
                a.bypasses[..],
                [Bypass::Skipped {
                    by: 0,
                    action: Action::Jump(2),
                    ..
                }]
            ),
            "{a:?}"
        );
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn unreadable_includes_and_loops_are_problems_not_hangs() {
        let root = tree(&[(
            "etc/pam.d/svc",
            "@include svc\nauth include missing\nauth frobnicate pam_x.so\n",
        )]);
        let st = load(&root, &pam_file(&root, "svc"));
        assert!(
            st.problems
                .iter()
                .any(|p| p == "/etc/pam.d/svc includes itself"),
            "{:?}",
            st.problems
        );
        assert_eq!(st.problems.len(), 3, "{:?}", st.problems);
        assert!(st
            .problems
            .iter()
            .any(|p| p.contains("cannot read /etc/pam.d/missing")));
        assert!(st
            .problems
            .iter()
            .any(|p| p.contains("unknown control 'frobnicate'")));
        let _ = std::fs::remove_dir_all(&root);
        // A long stack of independent modules is cut off, not explored for ever.
        let long: String = (0..40)
            .map(|i| format!("auth optional pam_m{i}.so\n"))
            .collect();
        let (_, a) = play(&format!("{long}auth required pam_duo.so\n"));
        assert!(a.incomplete);
    }
}
