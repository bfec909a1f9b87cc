//! `cove fn logs NAME`: what the function's environments wrote (standard output and
//! error of every environment, in order of writing).

use std::io::{Read, Seek, SeekFrom, Write};

use crate::Outcome;
use crate::deploy::Target;
use crate::input::InputError;

/// Arguments of `cove fn logs`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The function.
    pub name: String,
    /// Only the last N bytes.
    #[arg(long, default_value_t = 65_536)]
    pub tail: u64,
    /// Which deployment.
    #[command(flatten)]
    pub target: Target,
}

/// Prints the end of the function's log.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let known = args
        .target
        .applied_network()
        .is_some_and(|n| n.functions.iter().any(|f| f.name == args.name));
    if !known {
        return Err(InputError::Argument {
            what: "function",
            text: args.name.clone(),
            hint: "ResourceNotFoundException: no such function; `cove fn list` shows them".into(),
        }
        .into());
    }
    let path = args
        .target
        .state_dir
        .join(&args.target.prefix)
        .join("logs")
        .join(format!("{}.log", args.name));
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("function {} has not run yet", args.name);
            return Ok(Outcome::Ok);
        }
        Err(e) => return Err(anyhow::Error::new(e).context(format!("reading {}", path.display()))),
    };
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(args.tail)))?;
    let mut buf = Vec::new();
    file.read_to_end(&mut buf)?;
    std::io::stdout().write_all(&buf)?;
    Ok(Outcome::Ok)
}
