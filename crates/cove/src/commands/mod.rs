//! One module per subcommand.

pub mod check;
pub mod import;
pub mod matrix;
pub mod validate;
