//! The environment's first process: its instructions and answers (`config`, pure)
//! and the code that carries them out before becoming the runtime (`run`).

pub mod config;
pub(crate) mod run;
