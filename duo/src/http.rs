//! A small HTTP/1.1 client over one TLS connection with keep-alive (SPEC §1.7, §1.8), where
//! every wait is bounded by a deadline (§0a D4).
