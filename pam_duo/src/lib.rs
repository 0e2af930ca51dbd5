//! `pam_duo.so`: a PAM module adding Duo two-factor authentication (SPEC §6).
