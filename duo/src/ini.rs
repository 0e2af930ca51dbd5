//! The INI dialect of SPEC §3.2 (an old `inih`), with §0a D6: lines of any length, a leading
//! UTF-8 BOM ignored.
