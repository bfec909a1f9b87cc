//! The API's [`FunctionRunner`] in `cove serve`: invocations go to the process's
//! scheduler (by `tenant/function`, so two tenants' functions of one name never
//! meet), logs are read from the deployment's log directory
//! (`<logs>/<tenant>/<function>/`).

use std::io::Read;

use cove_api::runner::{
    FunctionKey, FunctionRunner, FunctionStats, InvocationType, InvokeCall, Invoked, RunError,
    RunFuture, Running,
};

/// `cove serve`'s scheduler and log directory, for the API.
#[derive(Debug, Clone)]
pub struct ServeRunner {
    /// The scheduler that runs the functions.
    pub scheduler: cove_scheduler::Scheduler,
    /// Where environments write their logs.
    pub logs: cove_scheduler::LogDir,
}

fn run_error(e: &cove_scheduler::InvokeError) -> RunError {
    RunError {
        status: e.status(),
        code: e.code().to_owned(),
        message: e.to_string(),
    }
}

impl FunctionRunner for ServeRunner {
    fn invoke(&self, call: InvokeCall) -> RunFuture<Invoked> {
        let scheduler = self.scheduler.clone();
        Box::pin(async move {
            let key = format!("{}/{}", call.function.tenant, call.function.name);
            let req = cove_scheduler::InvokeRequest {
                payload: bytes::Bytes::from(call.payload),
                request_id: Some(call.request_id),
                ..Default::default()
            };
            match call.kind {
                InvocationType::Event => {
                    let request_id = scheduler
                        .invoke_async(&key, req)
                        .map_err(|e| run_error(&e))?;
                    Ok(Invoked {
                        payload: Vec::new(),
                        function_error: None,
                        request_id,
                    })
                }
                InvocationType::RequestResponse => {
                    let r = scheduler
                        .invoke(&key, req)
                        .await
                        .map_err(|e| run_error(&e))?;
                    Ok(Invoked {
                        payload: r.payload.to_vec(),
                        function_error: r.function_error,
                        request_id: r.request_id,
                    })
                }
            }
        })
    }

    fn running(&self, function: &FunctionKey) -> Option<Running> {
        let key = format!("{}/{}", function.tenant, function.name);
        self.scheduler
            .functions()
            .into_iter()
            .find(|f| f.key() == key)
            .map(|f| Running {
                code_sha256: f.code.sha256.clone(),
                memory_mb: f.memory_mb,
                timeout_s: f.timeout_s,
                concurrency: u32::try_from(f.slots.len()).unwrap_or(u32::MAX),
            })
    }

    fn stats(&self, function: &FunctionKey) -> Option<FunctionStats> {
        let key = format!("{}/{}", function.tenant, function.name);
        let sum = self.scheduler.metrics()?.functions.summary(&key)?;
        let environments = self
            .scheduler
            .environment_counts()
            .into_iter()
            .filter(|c| c.function == key)
            .map(|c| (c.state.to_owned(), c.count))
            .collect();
        #[allow(clippy::cast_precision_loss)]
        let mean = if sum.invocations == 0 {
            0.0
        } else {
            sum.total_ms / sum.invocations as f64
        };
        Some(FunctionStats {
            invocations: sum.invocations,
            errors: sum.errors,
            throttles: sum.throttles,
            cold_starts: sum.cold_starts,
            duration_ms_mean: mean,
            duration_ms_max: sum.max_ms,
            gb_seconds: sum.gb_seconds,
            environments,
        })
    }

    fn logs(&self, function: FunctionKey, tail: u64) -> RunFuture<Vec<u8>> {
        let logs = self.logs.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || read_logs(&logs, &function, tail))
                .await
                .map_err(|e| internal(&e))?
        })
    }
}

fn internal(e: &dyn std::fmt::Display) -> RunError {
    eprintln!("cove serve: reading logs: {e}");
    RunError {
        status: 500,
        code: "ServiceException".to_owned(),
        message: "the function service failed to read the logs".to_owned(),
    }
}

/// Every environment's log of the function, oldest first, each after a
/// `== environment <id>` line; the last `tail` bytes.
fn read_logs(
    logs: &cove_scheduler::LogDir,
    function: &FunctionKey,
    tail: u64,
) -> Result<Vec<u8>, RunError> {
    let Some(dir) = logs.function_dir(&function.tenant, &function.name) else {
        return Ok(Vec::new());
    };
    let mut files: Vec<(std::time::SystemTime, std::path::PathBuf)> = match std::fs::read_dir(&dir)
    {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(internal(&e)),
    };
    files.sort();
    let mut out = Vec::new();
    for (_, path) in &files {
        let stream = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.extend_from_slice(format!("== environment {stream}\n").as_bytes());
        let mut f = std::fs::File::open(path).map_err(|e| internal(&e))?;
        f.read_to_end(&mut out).map_err(|e| internal(&e))?;
    }
    let from = out
        .len()
        .saturating_sub(usize::try_from(tail).unwrap_or(usize::MAX));
    Ok(out.split_off(from))
}
