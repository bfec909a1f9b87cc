//! Shared by the client tests: a test Runtime API and a way to run clients as the
//! sandbox will. (Each test binary uses part of it.)
#![allow(dead_code)]

pub mod harness;
pub mod process;
