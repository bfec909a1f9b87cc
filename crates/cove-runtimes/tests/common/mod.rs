//! Shared by the client tests: a test Runtime API and a way to run clients as the
//! sandbox will.

pub mod harness;
pub mod process;
