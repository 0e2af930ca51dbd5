//! The calls of this crate that Rust cannot check: reading module data back with
//! `pam_get_data`, whose type the caller must vouch for, and AWS-LC's two thread-local
//! clean-up calls that let the module live in a host that loads and unloads it (issue 22).

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

#[cfg(feature = "fips")]
use aws_lc_fips_sys as awslc;
/// AWS-LC as this build links it: the FIPS module in a `fips` build, else the default one.
#[cfg(not(feature = "fips"))]
use aws_lc_sys as awslc;

/// Free the calling thread's AWS-LC thread-local state and unset it, so that AWS-LC's
/// thread-exit destructor never runs for this thread. Called before every PAM entry point
/// returns: a host thread that called the module may outlive the module's unloading, and a
/// destructor left behind would then jump into unmapped code.
pub fn crypto_thread_clear() {
    // SAFETY: AWSLC_thread_local_clear takes no arguments and touches only the calling
    // thread's AWS-LC slot (freeing what AWS-LC itself allocated there, then setting it to
    // NULL); it is safe to call at any time, also before AWS-LC was ever used (it returns 1).
    // A failure (pthread_setspecific refusing NULL) leaves the state as it was, so the result
    // can be ignored.
    let _ = unsafe { awslc::AWSLC_thread_local_clear() };
}

/// Runs when the module is unloaded (or at process exit): deletes AWS-LC's thread-local key,
/// of which every load creates one; without this, a host that loads and unloads the module
/// about a thousand times runs out of pthread keys and AWS-LC aborts.
extern "C" fn crypto_shutdown_at_unload() {
    crypto_thread_clear();
    // SAFETY: AWSLC_thread_local_shutdown takes no arguments and deletes AWS-LC's pthread key
    // if one was created. It runs from the module's `.fini_array`, when the host unloads the
    // module (or exits), after the PAM entry points have returned and cleared their thread's
    // slot; any later AWS-LC call in another thread finds no key and allocates nothing.
    let _ = unsafe { awslc::AWSLC_thread_local_shutdown() };
}

/// The unload hook: the dynamic loader calls the functions listed in `.fini_array`.
#[used]
#[link_section = ".fini_array"]
static CRYPTO_SHUTDOWN_AT_UNLOAD: extern "C" fn() = crypto_shutdown_at_unload;
