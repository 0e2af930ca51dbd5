//! URL encoding, canonical parameter strings and request signing (SPEC §1.3–§1.5).
