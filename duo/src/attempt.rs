//! One authentication attempt (SPEC §5): ping, preauth, factor choice, auth, status polling,
//! and the failmode conversion at the preauth stage.
