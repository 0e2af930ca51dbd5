//! Time budgets for network waits that a stopped process cannot run down
//! (docs/BEHAVIOUR.md §0a D4 and D11).
//!
//! A login must reach a verdict within a bound when the server is slow or silent (D4), but the
//! caller of a setuid program can stop and continue its own process at will, once or over and
//! over. With a wall-clock deadline, a process stopped past the bound wakes up "timed out" and
//! the failmode verdict follows although the server's answer may be waiting in the socket: for
//! `failmode = safe` that is a way around two-factor authentication.
//!
//! A [`Deadline`] is therefore a budget of *time spent waiting for the network*, charged only
//! inside waits. Each wait asks for a short slice ([`SLICE`]) through a [`Wait`] guard, and
//! when the guard is dropped the budget is charged with the time the wait took, but never more
//! than the slice asked for (plus a little timer slack, [`SLACK`]). Time outside waits, such as
//! parsing a reply, running a TLS step, or being stopped between two waits, is not charged.
//!
//! Why this holds against a caller who stops the process: the kernel keeps receiving data while
//! the process is stopped, and a wait that resumes finds it at once. A wait that is stopped
//! is charged at most one slice more than the network really took, so each answer from the
//! server costs at most one slice of overcharge, however the stops are timed. The budget runs
//! out only when the network really stayed silent for about the whole budget. A process that
//! is not stopped is charged the wall time of its waits, which is nearly all of its time, so
//! the bound holds.
//!
//! When the budget is spent, callers make one last look that hardly waits ([`LAST_LOOK`]),
//! so that data that has already arrived is used before a timeout is declared.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// Longest single wait. Short, so that a wait interrupted by a stop is overcharged by little.
pub(crate) const SLICE: Duration = Duration::from_millis(50);

/// Timer slack charged on top of a slice: socket timeouts ride the kernel's timer wheel and end
/// a few milliseconds late; that lateness is real waiting and is charged.
pub(crate) const SLACK: Duration = Duration::from_millis(20);

/// The timeout used for the last look once the budget is spent.
pub(crate) const LAST_LOOK: Duration = Duration::from_millis(1);

/// A budget of waiting time, optionally nested in a wider one (for example the per-wait
/// `https_timeout` inside the bound of a whole stage). Charging a nested budget charges its
/// parents too.
#[derive(Debug)]
pub struct Deadline<'p> {
    left: Cell<Duration>,
    parent: Option<&'p Deadline<'p>>,
}

/// One wait in progress: the slice it may take. Dropping it charges the budget with the time
/// since it was made, at most the slice plus [`SLACK`].
#[derive(Debug)]
pub struct Wait<'a> {
    deadline: &'a Deadline<'a>,
    start: Instant,
    /// How long this wait may block.
    pub slice: Duration,
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        let took = self.start.elapsed().min(self.slice + SLACK);
        self.deadline.charge(took);
    }
}

impl Deadline<'static> {
    /// A budget of `budget`.
    pub fn new(budget: Duration) -> Deadline<'static> {
        Deadline {
            left: Cell::new(budget),
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
            parent: Some(self),
        }
    }

    fn charge(&self, took: Duration) {
        self.left.set(self.left.get().saturating_sub(took));
        if let Some(p) = self.parent {
            p.charge(took);
        }
    }

    /// What is left of the budget (never more than any parent has left).
    pub fn left(&self) -> Duration {
        let own = self.left.get();
        self.parent.map_or(own, |p| own.min(p.left()))
    }

    /// Whether the budget is spent.
    pub fn expired(&self) -> bool {
        self.left().is_zero()
    }

    /// Start a wait of at most [`SLICE`], never past the budget. `None` once the budget is
    /// spent. Keep the returned guard alive across the blocking call.
    pub fn wait(&self) -> Option<Wait<'_>> {
        let left = self.left();
        (!left.is_zero()).then(|| Wait {
            deadline: self,
            start: Instant::now(),
            slice: left.min(SLICE),
        })
    }

    /// Like [`Deadline::wait`], but once the budget is spent it gives one last wait of
    /// [`LAST_LOOK`] (then `None`), so that a loop of waits ends with a look that hardly
    /// waits.
    pub fn wait_or_last_look(&self, looked: &mut bool) -> Option<Wait<'_>> {
        if let Some(w) = self.wait() {
            return Some(w);
        }
        if *looked {
            return None;
        }
        *looked = true;
        Some(Wait {
            deadline: self,
            start: Instant::now(),
            slice: LAST_LOOK,
        })
    }

    /// Sleep for `d` in slices, charging the budget; stops early when the budget is spent.
    /// Returns whether the whole pause was taken. A stop does not shorten the pause.
    pub fn sleep(&self, d: Duration) -> bool {
        let pause = Deadline::new(d);
        loop {
            let Some(p) = pause.wait() else {
                return true;
            };
            let Some(w) = self.wait() else {
                return false;
            };
            std::thread::sleep(w.slice.min(p.slice));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_charged_what_they_took() {
        let d = Deadline::new(Duration::from_secs(2));
        {
            let w = d.wait().unwrap();
            assert_eq!(w.slice, SLICE);
            std::thread::sleep(Duration::from_millis(30));
        }
        let left = d.left();
        assert!(left <= Duration::from_millis(1970), "{left:?}");
        assert!(left >= Duration::from_millis(1900), "{left:?}");
    }

    #[test]
    fn a_long_wait_is_charged_one_slice_and_time_outside_waits_nothing() {
        // A wait during which the process was stopped for a long time.
        let d = Deadline::new(Duration::from_secs(2));
        {
            let mut w = d.wait().unwrap();
            w.start -= Duration::from_secs(60);
        }
        assert_eq!(d.left(), Duration::from_secs(2) - SLICE - SLACK);
        // Time between waits (processing, or stopped between two waits) is free.
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(d.left(), Duration::from_secs(2) - SLICE - SLACK);
    }

    #[test]
    fn repeated_stops_cost_at_most_a_slice_each() {
        // However a caller times its stops, each wait costs at most SLICE + SLACK; a budget
        // of 2 s survives 28 such waits, each of which would have found an answer waiting.
        let d = Deadline::new(Duration::from_secs(2));
        for _ in 0..28 {
            let mut w = d.wait().unwrap();
            w.start -= Duration::from_millis(1300);
        }
        assert!(!d.expired());
    }

    #[test]
    fn slices_end_with_one_last_look() {
        let d = Deadline::new(Duration::from_millis(60));
        {
            let w = d.wait().unwrap();
            assert_eq!(w.slice, SLICE);
        }
        {
            let mut w = d.wait().unwrap();
            w.start -= Duration::from_millis(100);
        }
        assert!(d.expired());
        assert!(d.wait().is_none());
        let mut looked = false;
        assert_eq!(
            d.wait_or_last_look(&mut looked).map(|w| w.slice),
            Some(LAST_LOOK)
        );
        assert!(d.wait_or_last_look(&mut looked).is_none());
    }

    #[test]
    fn nested_budgets_charge_their_parent() {
        let stage = Deadline::new(Duration::from_secs(10));
        {
            let per_wait = stage.within(Some(Duration::from_secs(1)));
            assert_eq!(per_wait.left(), Duration::from_secs(1));
            let mut w = per_wait.wait().unwrap();
            w.start -= Duration::from_millis(40);
        }
        let left = stage.left();
        assert!(left <= Duration::from_millis(9960), "{left:?}");
        // A child never has more than its parent.
        let tight = Deadline::new(Duration::from_millis(100));
        assert!(tight.within(Some(Duration::from_secs(5))).left() <= Duration::from_millis(100));
        assert!(tight.within(None).left() <= Duration::from_millis(100));
    }

    #[test]
    fn sleep_stops_at_the_budget() {
        let d = Deadline::new(Duration::from_millis(120));
        let t = Instant::now();
        assert!(!d.sleep(Duration::from_secs(5)));
        assert!(t.elapsed() < Duration::from_secs(1));
        let d = Deadline::new(Duration::from_secs(5));
        assert!(d.sleep(Duration::from_millis(120)));
        assert!(d.left() <= Duration::from_millis(4880));
    }
}
