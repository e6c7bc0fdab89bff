//! The cache file ("wisdom"): a line-based text format, parsed strictly, written atomically.
//!
//! ```text
//! poolgrad-tune-cache 1
//! # measured matmul kernel winners per shape bucket; safe to delete
//! version 0.1.0
//! cpu x86_64; GenuineIntel; Intel(R) Xeon(R) ...; flags=1f0c3a5e9d2b4c61
//! isa avx512
//! threads 2
//! kernels naive tiled packed mp
//! entry 64 256 896 rrr 2 packed 1.52e-4 64x256x784 packed=1.52e-4,mp=1.60e-4
//! end 1
//! ```
//!
//! The header lines (`version`, `cpu`, `isa`, `threads`, `kernels`) must equal this
//! process's [`Fingerprint`] exactly, or the whole file is stale. An `entry` holds the key
//! (bucketed m n k, layout codes of a b c, threads), the winner, its median seconds, the
//! shape that was measured and every timed candidate (`-` when none was recorded). `end N`
//! closes the file with the number of entries, so a truncated file is detected. Lines
//! starting with `#` are comments.

use crate::fingerprint::Fingerprint;
use crate::key::ShapeKey;
use poolgrad_kernels::Layout;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// The first line of every cache file; a file without it is foreign.
pub const MAGIC: &str = "poolgrad-tune-cache 1";

/// Files larger than this are not ours.
const MAX_BYTES: u64 = 8 << 20;

/// One measured winner as stored in the file.
#[derive(Clone, Debug, PartialEq)]
pub struct FileEntry {
    pub key: ShapeKey,
    pub winner: String,
    pub median_s: f64,
    /// The real shape that was timed for this bucket.
    pub shape: (usize, usize, usize),
    /// `(kernel, median seconds)` of every timed candidate.
    pub timings: Vec<(String, f64)>,
}

/// What reading the cache file found.
#[derive(Clone, Debug, PartialEq)]
pub enum LoadOutcome {
    /// Persistence is off (mode `off`, or no cache path).
    Disabled,
    /// No file yet.
    Missing,
    /// The file matched; `entries` were taken, `dropped` named kernels no longer registered.
    Loaded { entries: usize, dropped: usize },
    /// The file was written for another host, build, thread count or kernel set.
    Stale {
        field: &'static str,
        file: String,
        now: String,
    },
    /// Unreadable, truncated, malformed or foreign: it will be replaced.
    Corrupt(String),
}

/// The header lines of `fp`, in file order, with their field names.
fn header(fp: &Fingerprint) -> [(&'static str, String); 5] {
    [
        ("version", fp.version.clone()),
        ("cpu", fp.cpu.clone()),
        ("isa", fp.isa.clone()),
        ("threads", fp.threads.to_string()),
        ("kernels", fp.kernels.join(" ")),
    ]
}

/// A kernel name the format can hold (no whitespace, `=` or `,`).
pub fn storable_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(|c: char| c.is_whitespace() || c == '=' || c == ',')
}

/// The file text for `entries` under `fp`.
pub fn render(fp: &Fingerprint, entries: &[FileEntry]) -> String {
    let mut out = String::new();
    out.push_str(MAGIC);
    out.push('\n');
    out.push_str("# measured matmul kernel winners per shape bucket; safe to delete\n");
    for (field, value) in header(fp) {
        let _ = writeln!(out, "{field} {value}");
    }
    let mut written = 0;
    for e in entries.iter().filter(|e| storable_name(&e.winner)) {
        let k = &e.key;
        let timings = e
            .timings
            .iter()
            .filter(|(name, _)| storable_name(name))
            .map(|(name, t)| format!("{name}={t:.4e}"))
            .collect::<Vec<_>>()
            .join(",");
        let _ = writeln!(
            out,
            "entry {} {} {} {} {} {} {:.4e} {}x{}x{} {}",
            k.m,
            k.n,
            k.k,
            k.layouts(),
            k.threads,
            e.winner,
            e.median_s,
            e.shape.0,
            e.shape.1,
            e.shape.2,
            if timings.is_empty() { "-" } else { &timings }
        );
        written += 1;
    }
    let _ = writeln!(out, "end {written}");
    out
}

/// Parses a file's text against `fp`. Entries whose winner is not in `fp.kernels` are
/// dropped (counted in `LoadOutcome::Loaded`).
pub fn parse(text: &str, fp: &Fingerprint) -> (LoadOutcome, Vec<FileEntry>) {
    match parse_strict(text, fp) {
        Ok((entries, dropped)) => (
            LoadOutcome::Loaded {
                entries: entries.len(),
                dropped,
            },
            entries,
        ),
        Err(outcome) => (outcome, Vec::new()),
    }
}

fn parse_strict(text: &str, fp: &Fingerprint) -> Result<(Vec<FileEntry>, usize), LoadOutcome> {
    let corrupt = |line: usize, what: &str| LoadOutcome::Corrupt(format!("line {line}: {what}"));
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.starts_with('#'));
    match lines.next() {
        Some((_, MAGIC)) => {}
        Some((_, first)) if first.starts_with("poolgrad-tune-cache") => {
            return Err(LoadOutcome::Stale {
                field: "format",
                file: first.to_string(),
                now: MAGIC.to_string(),
            });
        }
        _ => return Err(LoadOutcome::Corrupt("not a poolgrad tune cache".into())),
    }
    for (field, now) in header(fp) {
        let (no, line) = lines
            .next()
            .ok_or_else(|| corrupt(0, &format!("truncated before the `{field}` line")))?;
        let value = line
            .strip_prefix(field)
            .and_then(|rest| rest.strip_prefix(' '))
            .ok_or_else(|| corrupt(no, &format!("expected `{field} …`")))?;
        if value != now {
            return Err(LoadOutcome::Stale {
                field,
                file: value.to_string(),
                now,
            });
        }
    }
    let mut entries: Vec<FileEntry> = Vec::new();
    let (mut seen, mut dropped) = (0usize, 0usize);
    for (no, line) in lines.by_ref() {
        if let Some(count) = line.strip_prefix("end ") {
            if count.parse::<usize>().ok() != Some(seen) {
                return Err(corrupt(
                    no,
                    &format!("`{line}` but {seen} entries were read"),
                ));
            }
            return match lines.next() {
                None => Ok((entries, dropped)),
                Some((no, _)) => Err(corrupt(no, "text after the `end` line")),
            };
        }
        let entry = parse_entry(line).ok_or_else(|| corrupt(no, "malformed entry"))?;
        seen += 1;
        if entry.key.threads != fp.threads || !fp.kernels.contains(&entry.winner) {
            dropped += 1;
            continue;
        }
        entries.retain(|e| e.key != entry.key);
        entries.push(entry);
    }
    Err(LoadOutcome::Corrupt("truncated: no `end` line".into()))
}

fn parse_entry(line: &str) -> Option<FileEntry> {
    let fields: Vec<&str> = line.split(' ').collect();
    let [
        "entry",
        m,
        n,
        k,
        layouts,
        threads,
        winner,
        median,
        shape,
        timings,
    ] = fields[..]
    else {
        return None;
    };
    let dim = |s: &str| s.parse::<usize>().ok();
    let seconds = |s: &str| s.parse::<f64>().ok().filter(|t| t.is_finite() && *t >= 0.0);
    let mut codes = layouts.chars().map(|c| match c {
        'r' => Some(Layout::RowMajor),
        'c' => Some(Layout::ColMajor),
        's' => Some(Layout::Strided),
        _ => None,
    });
    let (a, b, c) = (codes.next()??, codes.next()??, codes.next()??);
    if codes.next().is_some() || !storable_name(winner) {
        return None;
    }
    let mut dims = shape.split('x').map(dim);
    let shape = (dims.next()??, dims.next()??, dims.next()??);
    if dims.next().is_some() {
        return None;
    }
    let timings = if timings == "-" {
        Vec::new()
    } else {
        timings
            .split(',')
            .map(|t| {
                let (name, s) = t.split_once('=')?;
                storable_name(name).then_some((name.to_string(), seconds(s)?))
            })
            .collect::<Option<Vec<_>>>()?
    };
    Some(FileEntry {
        key: ShapeKey {
            m: dim(m)?,
            n: dim(n)?,
            k: dim(k)?,
            a,
            b,
            c,
            threads: dim(threads)?,
        },
        winner: winner.to_string(),
        median_s: seconds(median)?,
        shape,
        timings,
    })
}

/// Reads and parses the file at `path`; never fails (problems become the outcome).
pub fn read(path: &Path, fp: &Fingerprint) -> (LoadOutcome, Vec<FileEntry>) {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return (LoadOutcome::Missing, Vec::new());
        }
        Err(e) => {
            return (
                LoadOutcome::Corrupt(format!("cannot read it: {e}")),
                Vec::new(),
            );
        }
        Ok(meta) if !meta.is_file() || meta.len() > MAX_BYTES => {
            return (
                LoadOutcome::Corrupt("not a regular file of a plausible size".into()),
                Vec::new(),
            );
        }
        Ok(_) => {}
    }
    match std::fs::read(path) {
        Err(e) => (
            LoadOutcome::Corrupt(format!("cannot read it: {e}")),
            Vec::new(),
        ),
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => parse(&text, fp),
            Err(_) => (LoadOutcome::Corrupt("not UTF-8 text".into()), Vec::new()),
        },
    }
}

/// Writes `text` to `path` atomically: a uniquely named temporary file in the same
/// directory (process id + a per-process counter), then renamed over `path`.
/// Readers see the old file or the new one, never a mix.
///
/// # Errors
/// Any I/O error (the temporary file is removed).
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "tune-cache".into());
    let tmp_name = format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let tmp = match dir {
        Some(dir) => dir.join(tmp_name),
        None => tmp_name.into(),
    };
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        // No fsync: rename already keeps readers from a torn file, and after a crash a
        // damaged cache is detected and replaced; syncing cost ~15 ms per miss here.
        file.write_all(text.as_bytes())?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp() -> Fingerprint {
        Fingerprint {
            version: "9.9.9".into(),
            cpu: "test cpu; flags=0".into(),
            isa: "scalar".into(),
            threads: 2,
            kernels: vec!["naive".into(), "tiled".into()],
        }
    }

    fn entry(m: usize, winner: &str) -> FileEntry {
        FileEntry {
            key: ShapeKey {
                m,
                n: 8,
                k: 896,
                a: Layout::ColMajor,
                b: Layout::RowMajor,
                c: Layout::Strided,
                threads: 2,
            },
            winner: winner.into(),
            median_s: 1.5e-5,
            shape: (m, 8, 784),
            timings: vec![(winner.into(), 1.5e-5), ("naive".into(), 3.0e-5)],
        }
    }

    #[test]
    fn round_trips_and_drops_unknown_winners() {
        let entries = vec![entry(5, "tiled"), entry(6, "gone")];
        let text = render(&fp(), &entries);
        let (outcome, read) = parse(&text, &fp());
        assert_eq!(
            outcome,
            LoadOutcome::Loaded {
                entries: 1,
                dropped: 1
            }
        );
        assert_eq!(read, vec![entry(5, "tiled")]);
    }

    #[test]
    fn every_truncation_is_rejected() {
        let text = render(&fp(), &[entry(5, "tiled"), entry(7, "naive")]);
        for cut in 0..text.len() - 1 {
            let (outcome, entries) = parse(&text[..cut], &fp());
            // A cut inside the header reads as stale, anywhere else as corrupt: never loaded.
            assert!(
                matches!(outcome, LoadOutcome::Corrupt(_) | LoadOutcome::Stale { .. }),
                "cut at {cut}: {outcome:?}"
            );
            assert!(entries.is_empty());
        }
    }

    #[test]
    fn header_changes_are_stale() {
        let text = render(&fp(), &[entry(5, "tiled")]);
        let mut other = fp();
        other.threads = 4;
        assert!(matches!(
            parse(&text, &other).0,
            LoadOutcome::Stale {
                field: "threads",
                ..
            }
        ));
    }
}
