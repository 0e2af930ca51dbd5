//! Time budgets for network waits that a stopped process cannot run down
//! (docs/BEHAVIOUR.md §0a D4 and D11).
//!
//! A login must reach a verdict within a bound when the server is slow or silent (D4), but the
//! caller of a setuid program can stop and continue its own process at will. With a plain
//! wall-clock deadline, a process stopped for longer than the bound wakes up "timed out" and
//! the failmode verdict follows although the server's answer may already be waiting in the
//! socket: for `failmode = safe` that is a way around two-factor authentication.
//!
//! A [`Deadline`] is therefore a budget of *waiting time*. Every wait is cut into slices of at
//! most [`SLICE`], and the budget is charged with the wall time that passed between two looks
//! at it. A gap longer than [`MAX_GAP`] cannot come from one of our own waits: the process was
//! not running (stopped, or not scheduled), and such a gap is not charged. A process that runs
//! normally is charged its full wall time, so the bound holds; a process stopped for any length
//! of time loses nothing, and after it continues each network call is made and its answer read
//! as if the stop had not happened.
//!
//! When the budget is spent, callers make one last look that does not wait (a read with a
//! one-millisecond timeout, a channel poll), so that data that has already arrived is used
//! before a timeout is declared.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// Longest single wait. Socket timeouts ride the kernel's timer wheel, whose granularity grows
/// with the timeout (about 2 s for a 30 s timeout at HZ=250), so waits are short slices: each
/// overshoots by a few milliseconds at most.
pub const SLICE: Duration = Duration::from_millis(500);

/// Longest gap between two looks at the budget that is charged. Every wait is at most
/// [`SLICE`]; the rest is room for the work done between waits (a TLS handshake step, parsing
/// a reply) on a loaded machine.
pub const MAX_GAP: Duration = Duration::from_millis(1500);

/// The timeout used for the last look once the budget is spent.
pub const LAST_LOOK: Duration = Duration::from_millis(1);

/// A budget of waiting time, optionally nested in a wider one (for example the per-wait
/// `https_timeout` inside the bound of a whole stage). Charging a nested budget charges its
/// parents too.
#[derive(Debug)]
pub struct Deadline<'p> {
    left: Cell<Duration>,
    last: Cell<Instant>,
    parent: Option<&'p Deadline<'p>>,
}

impl Deadline<'static> {
    /// A budget of `budget`, starting now.
    pub fn new(budget: Duration) -> Deadline<'static> {
        Deadline {
            left: Cell::new(budget),
            last: Cell::new(Instant::now()),
            parent: None,
        }
    }
}

impl<'p> Deadline<'p> {
    /// A budget of at most `max` (or all that is left of `self` when `max` is `None`) that also
    /// charges `self`.
    pub fn within(&'p self, max: Option<Duration>) -> Deadline<'p> {
        let left = self.left();
        Deadline {
            left: Cell::new(max.map_or(left, |m| m.min(left))),
            last: Cell::new(Instant::now()),
            parent: Some(self),
        }
    }

    /// Charge the time since the last look (see the module text) and return what is left.
    pub fn left(&self) -> Duration {
        let now = Instant::now();
        let gap = now.saturating_duration_since(self.last.get());
        self.last.set(now);
        if gap <= MAX_GAP {
            self.left.set(self.left.get().saturating_sub(gap));
        }
        let own = self.left.get();
        match self.parent {
            Some(p) => {
                let up = p.left();
                if up < own {
                    self.left.set(up);
                }
                own.min(up)
            }
            None => own,
        }
    }

    /// Whether the budget is spent.
    pub fn expired(&self) -> bool {
        self.left().is_zero()
    }

    /// The length of the next wait: at most [`SLICE`], never past the budget. `None` once the
    /// budget is spent; the caller then makes its last look ([`LAST_LOOK`]) and gives up.
    pub fn slice(&self) -> Option<Duration> {
        let left = self.left();
        (!left.is_zero()).then(|| left.min(SLICE))
    }

    /// Like [`Deadline::slice`], but once the budget is spent it returns [`LAST_LOOK`]
    /// (exactly once, then `None`), so that a loop of waits ends with a look that does not
    /// wait.
    pub fn slice_or_last_look(&self, looked: &mut bool) -> Option<Duration> {
        match self.slice() {
            Some(s) => Some(s),
            None if !*looked => {
                *looked = true;
                Some(LAST_LOOK)
            }
            None => None,
        }
    }

    /// Sleep for `d` in slices, charging the budget; stops early when the budget is spent.
    /// Returns whether the whole pause was taken.
    pub fn sleep(&self, d: Duration) -> bool {
        let pause = Deadline::new(d);
        loop {
            let Some(s) = self.slice() else {
                return false;
            };
            let Some(p) = pause.slice() else {
                return true;
            };
            std::thread::sleep(s.min(p));
            // `pause` is charged at its next look; a stop does not count against it either,
            // so a stopped process sleeps on for the rest of the pause after it continues.
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aged(d: &Deadline<'_>, by: Duration) {
        d.last.set(d.last.get() - by);
    }

    #[test]
    fn normal_waits_are_charged_in_full() {
        let d = Deadline::new(Duration::from_secs(2));
        aged(&d, Duration::from_millis(400));
        let left = d.left();
        assert!(left <= Duration::from_millis(1600), "{left:?}");
        assert!(left >= Duration::from_millis(1500), "{left:?}");
    }

    #[test]
    fn a_long_gap_is_not_charged() {
        // A process stopped for a minute loses nothing.
        let d = Deadline::new(Duration::from_secs(2));
        aged(&d, Duration::from_secs(60));
        assert!(d.left() > Duration::from_millis(1900));
        assert!(!d.expired());
    }

    #[test]
    fn slices_are_short_and_end_with_one_last_look() {
        let d = Deadline::new(Duration::from_millis(700));
        assert_eq!(d.slice(), Some(SLICE));
        aged(&d, Duration::from_millis(690));
        let s = d.slice().unwrap();
        assert!(s <= Duration::from_millis(10), "{s:?}");
        aged(&d, Duration::from_millis(20));
        assert_eq!(d.slice(), None);
        let mut looked = false;
        assert_eq!(d.slice_or_last_look(&mut looked), Some(LAST_LOOK));
        assert_eq!(d.slice_or_last_look(&mut looked), None);
    }

    #[test]
    fn nested_budgets_charge_their_parent() {
        let stage = Deadline::new(Duration::from_secs(10));
        {
            let wait = stage.within(Some(Duration::from_secs(1)));
            assert!(wait.left() <= Duration::from_secs(1));
            aged(&wait, Duration::from_millis(800));
            aged(&stage, Duration::from_millis(800));
            assert!(wait.left() <= Duration::from_millis(200));
        }
        let left = stage.left();
        assert!(left <= Duration::from_millis(9200), "{left:?}");
        // A child never has more than its parent.
        let tight = Deadline::new(Duration::from_millis(100));
        let child = tight.within(Some(Duration::from_secs(5)));
        assert!(child.left() <= Duration::from_millis(100));
        let unbounded = tight.within(None);
        assert!(unbounded.left() <= Duration::from_millis(100));
    }

    #[test]
    fn sleep_stops_at_the_budget() {
        let d = Deadline::new(Duration::from_millis(30));
        let t = Instant::now();
        assert!(!d.sleep(Duration::from_secs(5)));
        assert!(t.elapsed() < Duration::from_secs(1));
        let d = Deadline::new(Duration::from_secs(5));
        assert!(d.sleep(Duration::from_millis(20)));
    }
}
