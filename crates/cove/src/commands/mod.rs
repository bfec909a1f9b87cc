//! One module per subcommand.

pub mod apply;
pub mod check;
pub mod destroy;
pub mod exec;
pub mod function;
pub mod import;
pub mod matrix;
pub mod plan;
pub mod serve;
pub mod status;
pub mod validate;
