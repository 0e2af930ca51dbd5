//! TLS client configuration: the 15 pinned roots of SPEC Appendix A, or only `cafile`, or
//! `noverify` (SPEC §2.1, §0a D2/D3). TLS 1.2 minimum, ring provider.
