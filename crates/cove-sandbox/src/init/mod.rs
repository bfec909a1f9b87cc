//! The environment's init: its instructions and answers ([`config`]), its root file
//! system ([`root`]) and seccomp filter ([`seccomp`]) — all pure — and the program
//! that carries them out (`run`, `build`).

pub(crate) mod build;
pub mod config;
pub mod root;
pub(crate) mod run;
pub mod seccomp;
