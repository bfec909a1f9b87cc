//! Writes changes to a store in a loop, printing each committed generation (`gen N`).
//! The store's process-level tests run several at once and kill them with SIGKILL
//! mid-transaction.
//!
//! ```text
//! cove-store-stress DATABASE_URL WRITER MODE COUNT
//!   MODE blind:   each change creates w/WRITER/I and puts last/WRITER (no expected generation)
//!   MODE counter: read the counter, write it + 1 with the expected generation, retry on conflict
//!   COUNT 0: forever
//! ```

use std::io::Write;
use std::process::ExitCode;

use cove_store::{ChangeMeta, DocId, DocOp, Filter, Store, StoreError};

async fn run(url: &str, writer: &str, mode: &str, count: u64) -> Result<(), StoreError> {
    let store = Store::open(url).await?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "open");
    let _ = out.flush();
    let mut i = 0u64;
    while count == 0 || i < count {
        let meta = ChangeMeta {
            tenant: Some(writer.to_owned()),
            token_id: Some(format!("tok-{writer}")),
            request_id: Some(format!("{writer}-{i}")),
            summary: format!("{mode} {i}"),
        };
        let generation = match mode {
            "blind" => {
                let ops = vec![
                    op(DocOp::create(
                        DocId::new("w", Some(writer), i.to_string()),
                        &i,
                    )),
                    op(DocOp::put(DocId::new("last", Some(writer), "last"), &i)),
                ];
                store.change(&meta, None, &ops).await?
            }
            _ => loop {
                let snap = store.read(Filter::Kind("counter")).await?;
                let value: u64 = match snap.documents.first() {
                    Some(doc) => doc.decode().unwrap_or(0),
                    None => 0,
                };
                let ops = vec![op(DocOp::put(
                    DocId::new("counter", None, "c"),
                    &(value + 1),
                ))];
                match store.change(&meta, Some(snap.generation), &ops).await {
                    Err(e) if e.is_conflict() => continue,
                    other => break other?,
                }
            },
        };
        let _ = writeln!(out, "gen {generation}");
        let _ = out.flush();
        i += 1;
    }
    store.close().await;
    Ok(())
}

fn op(r: Result<DocOp, serde_json::Error>) -> DocOp {
    r.unwrap_or_else(|e| panic!("a u64 serializes: {e}"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, writer, mode, count] = args.as_slice() else {
        eprintln!("usage: cove-store-stress DATABASE_URL WRITER blind|counter COUNT");
        return ExitCode::from(2);
    };
    let Ok(count) = count.parse() else {
        eprintln!("COUNT must be a number, not {count:?}");
        return ExitCode::from(2);
    };
    match run(url, writer, mode, count).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(&format!(": {s}"));
                src = s.source();
            }
            eprintln!("cove-store-stress: {msg}");
            ExitCode::FAILURE
        }
    }
}
