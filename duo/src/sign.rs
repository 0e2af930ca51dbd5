//! URL encoding, canonical parameter strings and request signing (SPEC §1.3–§1.5).

/// PLACEHOLDER until the network branch lands.
pub fn pushinfo_value(local_ip: Option<&str>, command: Option<&str>) -> String {
    let _ = (local_ip, command);
    todo!()
}
