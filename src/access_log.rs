//! Access log: one JSON line per request. Workers append lines to their own buffer and hand
//! full buffers (or, every 100 ms, whatever they hold) to one writer thread over a bounded
//! channel; when the writer falls behind (a slow disk), buffers are dropped and counted
//! (`fcgate_access_log_dropped_total`), never waited for. SIGHUP reopens the file, so
//! logrotate's move-then-HUP works.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::SystemTime;

use crate::config::AccessLog as Target;

/// Buffers in flight to the writer before workers start dropping.
const QUEUE: usize = 64;
/// A worker hands its buffer over once it holds this much.
pub const FLUSH_BYTES: usize = 64 * 1024;

pub enum Msg {
    Lines(Vec<u8>),
    Reopen,
    /// Answered once everything sent before it is written (at exit).
    Sync(SyncSender<()>),
}

/// The sending side, shared by the workers.
#[derive(Debug, Clone)]
pub struct AccessLogSender(SyncSender<Msg>);

impl AccessLogSender {
    /// Hands a buffer to the writer; false when it was dropped (the writer is behind).
    pub fn send(&self, lines: Vec<u8>) -> bool {
        match self.0.try_send(Msg::Lines(lines)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// Asks the writer to reopen its file (SIGHUP). Blocking is fine: not a worker thread.
    pub fn reopen(&self) {
        let _ = self.0.send(Msg::Reopen);
    }

    /// Waits (at most `limit`) until every line handed over so far is written: at exit.
    pub fn sync(&self, limit: std::time::Duration) {
        let (tx, rx) = sync_channel(1);
        if self.0.send(Msg::Sync(tx)).is_ok() {
            let _ = rx.recv_timeout(limit);
        }
    }
}

/// Starts the writer thread; None when the access log is off.
pub fn start(target: &Target) -> std::io::Result<Option<AccessLogSender>> {
    let sink = match target {
        Target::Off => return Ok(None),
        Target::Stderr => Sink::Stderr,
        Target::File(path) => Sink::File(path.clone(), open(path)?),
    };
    let (tx, rx) = sync_channel(QUEUE);
    std::thread::Builder::new()
        .name("fcgate-access-log".into())
        .spawn(move || writer(sink, rx))?;
    Ok(Some(AccessLogSender(tx)))
}

enum Sink {
    Stderr,
    File(PathBuf, File),
}

fn open(path: &PathBuf) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn writer(mut sink: Sink, rx: Receiver<Msg>) {
    for msg in rx {
        match msg {
            Msg::Lines(lines) => {
                let _ = match &mut sink {
                    Sink::Stderr => std::io::stderr().write_all(&lines),
                    Sink::File(_, f) => f.write_all(&lines),
                };
            }
            Msg::Sync(done) => {
                if let Sink::File(_, f) = &mut sink {
                    let _ = f.flush();
                }
                let _ = done.send(());
            }
            Msg::Reopen => {
                if let Sink::File(path, f) = &mut sink {
                    match open(path) {
                        Ok(new) => *f = new,
                        Err(e) => {
                            eprintln!("ERROR access log: cannot reopen {}: {e}", path.display())
                        }
                    }
                }
            }
        }
    }
}

/// Appends `s` as a JSON string (quoted, escaped; bytes that are not UTF-8 become U+FFFD).
pub fn json_str(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    let text = String::from_utf8_lossy(s);
    for c in text.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// `2026-12-03T19:13:00.123Z` for `t`.
pub fn rfc3339_millis(out: &mut Vec<u8>, t: SystemTime) {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_time() {
        let mut out = Vec::new();
        rfc3339_millis(
            &mut out,
            SystemTime::UNIX_EPOCH + Duration::from_millis(1_796_325_180_123),
        );
        assert_eq!(String::from_utf8(out).unwrap(), "2026-12-03T19:13:00.123Z");
        let mut out = Vec::new();
        rfc3339_millis(
            &mut out,
            SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400),
        );
        assert_eq!(String::from_utf8(out).unwrap(), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn escapes_strings() {
        let mut out = Vec::new();
        json_str(&mut out, b"a\"b\\c\n\x01\xff");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a\\\"b\\\\c\\n\\u0001\u{fffd}\""
        );
    }

    #[test]
    fn drops_when_the_writer_is_behind() {
        let (tx, _rx) = sync_channel(1);
        let s = AccessLogSender(tx);
        assert!(s.send(b"one\n".to_vec()));
        assert!(!s.send(b"two\n".to_vec()));
    }
}
