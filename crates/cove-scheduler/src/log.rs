//! An environment's log, like a Lambda log stream: the runtime's standard output and
//! error reach cove through pipes, and cove alone writes the log file (the runtime
//! holds nothing that refers to it, so it cannot truncate or rewrite it).
//!
//! A small thread per environment (64 KiB of stack) waits on both pipes and appends
//! what arrives; the platform's own lines (`START`, `END`, `REPORT`) first take
//! whatever the pipes already hold, so a function's output stays before the `END` of
//! its invocation.
//!
//! What one environment may write is capped ([`OUTPUT_LIMIT_BYTES`]): past it, its
//! output is read and dropped (the writer never blocks) and one line says so, so a
//! function that prints forever cannot fill the host's disk for every other tenant.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::os::fd::AsFd as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// Opens (creating, `0600` in a `0700` directory) the log file at `path`.
pub(crate) fn open(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .mode(0o600)
        .open(path)
}

/// The most a single environment's standard output and error may add to its log
/// (the platform's own lines are not counted).
pub(crate) const OUTPUT_LIMIT_BYTES: u64 = 64 * 1024 * 1024;

struct State {
    file: File,
    /// Standard output and error (non-blocking); `None` once at end of file.
    pipes: [Option<File>; 2],
    /// Output bytes still allowed into the file.
    room: u64,
    /// Whether the line saying the limit was reached is written.
    capped: bool,
}

impl State {
    /// Appends everything the pipes hold now.
    fn drain(&mut self) {
        let mut buf = [0u8; 16 * 1024];
        for slot in &mut self.pipes {
            let Some(pipe) = slot else { continue };
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) => {
                        *slot = None;
                        break;
                    }
                    Ok(n) => {
                        let keep = usize::try_from(self.room).map_or(n, |room| n.min(room));
                        let _ = self.file.write_all(&buf[..keep]);
                        self.room -= keep as u64;
                        if keep < n && !self.capped {
                            self.capped = true;
                            let _ = self.file.write_all(
                                b"\n[cove] this environment's output reached the log limit; the rest of it is dropped\n",
                            );
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        *slot = None;
                        break;
                    }
                }
            }
        }
    }
}

/// An environment's log file and the pipes that feed it.
#[derive(Clone)]
pub(crate) struct Log {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log").finish_non_exhaustive()
    }
}

impl Log {
    /// Starts copying `stdout` and `stderr` into `file` (opened with [`open`]) until
    /// both are at end of file (every process of the environment is gone).
    /// At most `limit` bytes of output are kept ([`OUTPUT_LIMIT_BYTES`] for an
    /// environment).
    pub(crate) fn start(
        file: File,
        stdout: File,
        stderr: File,
        name: &str,
        limit: u64,
    ) -> io::Result<Log> {
        let watch = [stdout.try_clone()?, stderr.try_clone()?];
        for p in [&stdout, &stderr] {
            fcntl(p.as_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(io::Error::from)?;
        }
        let log = Log {
            state: Arc::new(Mutex::new(State {
                file,
                pipes: [Some(stdout), Some(stderr)],
                room: limit,
                capped: false,
            })),
        };
        let pump = log.clone();
        std::thread::Builder::new()
            .name(format!("log-{name}"))
            .stack_size(64 * 1024)
            .spawn(move || pump.pump(&watch))?;
        Ok(log)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn pump(&self, watch: &[File; 2]) {
        loop {
            let open: Vec<usize> = {
                let s = self.lock();
                (0..2).filter(|&i| s.pipes[i].is_some()).collect()
            };
            if open.is_empty() {
                return;
            }
            let mut fds: Vec<PollFd<'_>> = open
                .iter()
                .map(|&i| PollFd::new(watch[i].as_fd(), PollFlags::POLLIN))
                .collect();
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return,
            }
            self.lock().drain();
        }
    }

    /// Appends a platform line (after what the pipes hold); returns where in the log
    /// the line starts.
    pub(crate) fn line(&self, line: &str) -> Option<u64> {
        let mut s = self.lock();
        s.drain();
        let at = s.file.seek(SeekFrom::End(0)).ok()?;
        s.file.write_all(format!("{line}\n").as_bytes()).ok()?;
        Some(at)
    }

    /// The last `max` bytes the log received since offset `from`.
    pub(crate) fn since(&self, from: u64, max: u64) -> Option<Vec<u8>> {
        let mut s = self.lock();
        s.drain();
        let end = s.file.seek(SeekFrom::End(0)).ok()?;
        let start = from.max(end.saturating_sub(max));
        let mut r = s.file.try_clone().ok()?;
        drop(s);
        r.seek(SeekFrom::Start(start)).ok()?;
        let mut buf = Vec::new();
        r.take(end - start).read_to_end(&mut buf).ok()?;
        Some(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn pipe() -> (File, File) {
        let (r, w) = nix::unistd::pipe().expect("pipe");
        (File::from(r), File::from(w))
    }

    #[test]
    fn output_before_a_platform_line_stays_before_it_and_the_file_is_private() {
        let dir = std::env::temp_dir().join(format!("hi-log-{}", std::process::id()));
        let path = dir.join("f").join("e.log");
        let file = open(&path).expect("open");
        let ((out_r, mut out_w), (err_r, mut err_w)) = (pipe(), pipe());
        let log = Log::start(file, out_r, err_r, "t", OUTPUT_LIMIT_BYTES).expect("start");
        let from = log.line("START").expect("start line");
        out_w.write_all(b"printed\n").expect("write");
        err_w.write_all(b"warned\n").expect("write");
        log.line("END");
        let text = String::from_utf8(log.since(from, 4096).expect("since")).expect("utf8");
        assert_eq!(text, "START\nprinted\nwarned\nEND\n");
        // More than a pipe holds, written while nobody logs a line: the thread copies
        // it, so the writer never blocks for good.
        let big = vec![b'x'; 1 << 20];
        out_w.write_all(&big).expect("big write");
        drop((out_w, err_w));
        let tail = log.since(0, 10).expect("tail");
        assert_eq!(tail.len(), 10);
        let meta = std::fs::metadata(&path).expect("meta");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let dmeta = std::fs::metadata(path.parent().expect("dir")).expect("meta");
        assert_eq!(dmeta.permissions().mode() & 0o777, 0o700);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn output_past_the_limit_is_dropped_and_said_so_once() {
        let dir = std::env::temp_dir().join(format!("hi-logcap-{}", std::process::id()));
        let path = dir.join("e.log");
        let file = open(&path).expect("open");
        let ((out_r, mut out_w), (err_r, mut err_w)) = (pipe(), pipe());
        let log = Log::start(file, out_r, err_r, "t", 1000).expect("start");
        log.line("START");
        // Far more than the limit, and more than a pipe holds: the writer must not
        // block, and the file must not grow past the limit.
        let big = vec![b'x'; 1 << 20];
        out_w.write_all(&big).expect("big write");
        err_w.write_all(&big).expect("big write");
        drop((out_w, err_w));
        log.line("END");
        let text = String::from_utf8(std::fs::read(&path).expect("read")).expect("utf8");
        let xs = text.bytes().filter(|&b| b == b'x').count();
        assert_eq!(xs, 1000, "{} bytes in the log", text.len());
        assert_eq!(text.matches("reached the log limit").count(), 1, "{text}");
        assert!(
            text.starts_with("START\n") && text.ends_with("END\n"),
            "{text}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
