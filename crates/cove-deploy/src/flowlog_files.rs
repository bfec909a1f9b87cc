//! Flow-log files: one per flow log, `<dir>/<tenant>/<vpc>/<name>.log`, appended
//! record by record and rotated at the flow log's size limit (the full file
//! becomes `<name>.log.1`, replacing the previous one).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use cove_flowlog::{Record, render_json, render_text};
use cove_model::Network;
use cove_model::flowlog::{FileFormat, FlowLog};

/// A name as a path component: names are letters, digits, `.`, `_` and `-`, so
/// only `.` and `..` could mean something else; they are spelled out.
fn component(name: &str) -> String {
    if name.bytes().all(|b| b == b'.') {
        name.replace('.', "%2E")
    } else {
        name.to_owned()
    }
}

/// The file of flow log `log` of `net` under `dir`.
pub fn flow_log_path(dir: &Path, net: &Network, log: &FlowLog) -> PathBuf {
    let vpc = &net.vpcs[log.vpc.index()];
    let tenant = &net.tenants[vpc.tenant.index()].name;
    dir.join(component(tenant))
        .join(component(&vpc.name))
        .join(format!("{}.log", component(&log.name)))
}

/// The open files, with their sizes.
#[derive(Debug, Default)]
pub struct FileSink {
    files: HashMap<PathBuf, (File, u64)>,
}

impl FileSink {
    /// Appends `records` (of flow logs of `net`) to their files under `dir`;
    /// returns how many were written and how many could not be.
    pub fn write(&mut self, dir: &Path, net: &Network, records: &[Record]) -> (u64, u64) {
        let (mut written, mut failed) = (0, 0);
        for r in records {
            let Some(log) = net.flow_logs.get(r.log) else {
                failed += 1;
                continue;
            };
            let mut line = match log.file_format {
                FileFormat::Text => render_text(net, log, r),
                FileFormat::Json => render_json(net, log, r),
            };
            line.push('\n');
            match self.append(
                &flow_log_path(dir, net, log),
                line.as_bytes(),
                log.max_file_bytes,
            ) {
                Ok(()) => written += 1,
                Err(_) => failed += 1,
            }
        }
        for (f, _) in self.files.values_mut() {
            let _ = f.flush();
        }
        (written, failed)
    }

    fn append(&mut self, path: &Path, line: &[u8], max: u64) -> std::io::Result<()> {
        let len = line.len() as u64;
        if let Some((_, size)) = self.files.get(path) {
            if *size > 0 && size + len > max {
                self.files.remove(path);
                std::fs::rename(path, path.with_extension("log.1"))?;
            }
        }
        if !self.files.contains_key(path) {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o640)
                .open(path)?;
            let size = f.metadata()?.len();
            self.files.insert(path.to_owned(), (f, size));
        }
        let (f, size) = self
            .files
            .get_mut(path)
            .ok_or_else(|| std::io::Error::other("file not open"))?;
        f.write_all(line)?;
        *size += len;
        Ok(())
    }

    /// Closes every file (a flow log removed or renamed is not written again).
    pub fn close_all(&mut self) {
        self.files.clear();
    }
}

/// The lines of flow log `log`'s files under `dir`, oldest first (the rotated
/// file, then the current one); none if it wrote nothing yet.
pub fn read_lines(dir: &Path, net: &Network, log: &FlowLog) -> std::io::Result<Vec<String>> {
    let path = flow_log_path(dir, net, log);
    let mut out = Vec::new();
    for p in [path.with_extension("log.1"), path] {
        match std::fs::read_to_string(&p) {
            Ok(text) => out.extend(text.lines().map(str::to_owned)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}
