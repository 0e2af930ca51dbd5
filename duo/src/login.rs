//! The part of a login both frontends share once they know who logs in: the attempt loop with
//! its log lines and verdicts (SPEC §6 step 14, §7.3 step 11).
