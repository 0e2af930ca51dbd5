//! The one PAM call of this crate that Rust cannot check: reading module data back with
//! `pam_get_data`, whose type the caller must vouch for.

#![allow(unsafe_code)]

use pam::module::PamHandle;

/// The value stored under `key` by [`set`], if any.
///
/// Only [`set`] stores data under the keys this crate uses, so the type read back is the type
/// stored.
pub fn get<'a, T: 'static>(pamh: &'a PamHandle, key: &str) -> Option<&'a T> {
    // SAFETY: the keys passed here are this crate's own (`crate::approval::KEY`, which carries
    // the crate version), and data under them is only ever stored by `set::<T>` with the same
    // `T`, so the pointer PAM returns points to a live `T` owned by the handle.
    unsafe { pamh.get_data::<T>(key) }.ok()
}

/// Store `value` under `key` for the life of the handle (PAM frees it at `pam_end`).
pub fn set<T: 'static>(pamh: &mut PamHandle, key: &str, value: T) -> bool {
    pamh.set_data(key, Box::new(value)).is_ok()
}
