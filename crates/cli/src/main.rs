//! `linegate`: check InfluxDB v2 line-protocol files before uploading them.
//!
//! ```text
//! linegate check [--v1] [--precision P] [--now NS] [--content-encoding E] [--max-body N]
//!                [--max-batch N] [--max-message N] [--format human|json|jsonl] [--points]
//!                [--accept-partial [--accepted A.lp] [--rejected R.jsonl]] FILE…|-
//! ```
//! Each file is answered as InfluxDB OSS v2 would answer a write of it (an authorized request
//! naming an existing org and bucket; with `--v1`, a `POST /write?db=…` to v1's endpoint). Exit status: 0 when every file would be accepted, 1
//! when any is rejected, 2 on usage errors.

mod args;
mod human;
mod partial;

use std::ffi::OsString;
use std::io::{self, IsTerminal, Read, Write};
use std::process::ExitCode;

use args::Format;
use linegate_core::{
    json, validate_split, validate_with_progress, Checker, Point, ValidateOptions, Validation,
};

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos().min(i64::MAX as u128) as i64)
}

/// A file's bytes: mapped when it is a regular file (no copy, no fresh pages to fault in:
/// for a 50 MB file that is half the time of a check), read otherwise.
enum Input {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl AsRef<[u8]> for Input {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl std::ops::Deref for Input {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Input::Mapped(m) => m,
            Input::Read(v) => v,
        }
    }
}

/// Where a file's bytes come from: all at once, or read and checked piece by piece.
enum Source {
    Whole(Input),
    Stream(Box<dyn Read>, Option<u64>),
}

/// Files from this size on are checked as they are read (`LINEGATE_STREAM_MIN`): a map of
/// a file larger than memory, or of a gzip body's decoded form, would not fit.
fn stream_min() -> u64 {
    std::env::var("LINEGATE_STREAM_MIN")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 30)
}

fn open_input(file: &OsString, gzip: bool, stream_min: u64) -> io::Result<Source> {
    if file == "-" {
        return Ok(Source::Stream(Box::new(io::stdin().lock()), None));
    }
    let f = std::fs::File::open(file)?;
    let meta = f.metadata()?;
    // Gzip is decoded as it is read either way, so streaming it costs nothing and keeps
    // the decoded body out of memory.
    if meta.is_file() && (gzip || meta.len() >= stream_min) {
        return Ok(Source::Stream(Box::new(f), Some(meta.len())));
    }
    if meta.is_file() && meta.len() > 0 {
        // SAFETY: the map is read-only and private to this process; were another process to
        // truncate the file meanwhile, reading the lost pages would fault (SIGBUS), which a
        // checking tool run on a file being rewritten accepts, as grep and ripgrep do.
        if let Ok(m) = unsafe { memmap2::MmapOptions::new().populate().map(&f) } {
            return Ok(Source::Whole(Input::Mapped(m)));
        }
    }
    if !meta.is_file() {
        // A pipe or device: read as it comes, like standard input.
        return Ok(Source::Stream(Box::new(f), None));
    }
    let mut v = Vec::new();
    let mut f = f;
    f.read_to_end(&mut v)?;
    Ok(Source::Whole(Input::Read(v)))
}

/// Checks a body as it is read, 1 MiB at a time; stops reading once the answer is known.
fn check_stream(
    mut reader: impl Read,
    opts: &ValidateOptions<'_>,
    on_point: &mut dyn FnMut(&Point<'_>),
    mut on_progress: impl FnMut(usize),
) -> io::Result<Validation> {
    let mut checker = Checker::new(opts);
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0usize;
    while checker.decided().is_none() {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        checker.push_with(&buf[..n], on_point);
        done += n;
        on_progress(done);
    }
    Ok(checker.finish_with(on_point))
}

/// One file's machine-readable record.
fn write_record(out: &mut Vec<u8>, file: &str, v: &Validation, points: Option<&[u8]>) {
    out.extend_from_slice(b"{\"file\":");
    out.extend_from_slice(&json::quote(file.as_bytes()));
    out.extend_from_slice(format!(",\"status\":{},\"body\":", v.status).as_bytes());
    out.extend_from_slice(&json::quote(&v.body));
    if let Some(p) = points {
        out.extend_from_slice(b",\"points\":[");
        out.extend_from_slice(p);
        out.push(b']');
    }
    out.push(b'}');
}

/// Bodies from this size on are read in two halves on two threads when nothing needs the
/// points in order (no `--points`, no warnings, no progress). `LINEGATE_SPLIT_MIN` sets it
/// (tests use 0 to run the corpus through the split path).
fn split_min() -> usize {
    const DEFAULT: usize = 4 << 20;
    let two_cores = std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2);
    match std::env::var("LINEGATE_SPLIT_MIN") {
        Ok(v) => v.parse().unwrap_or(DEFAULT),
        Err(_) if two_cores => DEFAULT,
        Err(_) => usize::MAX,
    }
}

fn on_two_threads(a: &mut (dyn FnMut() + Send), b: &mut (dyn FnMut() + Send)) {
    let spawned = std::thread::scope(|s| {
        let spawned = std::thread::Builder::new().spawn_scoped(s, &mut *b).is_ok();
        if spawned {
            a();
        }
        spawned
    });
    // No second thread to be had (a process or memory limit): both halves on this one.
    if !spawned {
        b();
        a();
    }
}

fn main() -> ExitCode {
    let args = match args::parse() {
        Ok(a) => a,
        Err(code) => return code,
    };
    let format = args.format.unwrap_or(if io::stdout().is_terminal() {
        Format::Human
    } else {
        Format::Jsonl
    });
    let now = args.now.unwrap_or_else(now_ns);
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut report = human::Report::new(io::stderr().is_terminal() && format == Format::Human);
    let mut any_rejected = false;
    let mut usage_failed = false;
    let mut records: Vec<Vec<u8>> = Vec::new();
    let split_min = split_min();
    let stream_min = stream_min();
    let mut outputs = match partial::Outputs::create(args.accepted.as_ref(), args.rejected.as_ref())
    {
        Ok(o) => o,
        Err(e) => {
            eprintln!("linegate: cannot create an output file: {e}");
            return ExitCode::from(2);
        }
    };
    for file in &args.files {
        let name = file.to_string_lossy().into_owned();
        let gz_name = name.ends_with(".gz");
        let content_encoding = match &args.content_encoding {
            Some(ce) => Some(ce.as_slice()),
            None if gz_name => Some(&b"gzip"[..]),
            None => None,
        };
        let source = match open_input(
            file,
            linegate_core::pipeline::is_gzip(content_encoding),
            stream_min,
        ) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("linegate: cannot read {name}: {e}");
                usage_failed = true;
                continue;
            }
        };
        let opts = ValidateOptions {
            endpoint: args.endpoint,
            precision: args.precision.as_deref(),
            content_encoding,
            now,
            limits: args.limits,
            warnings: format == Format::Human,
            summary_buckets: None,
        };
        let want_points = args.points && format != Format::Human;
        let mut points_json: Vec<u8> = Vec::new();
        let mut npoints = 0u64;
        let mut on_point = |p: &Point<'_>| {
            if want_points {
                if npoints > 0 {
                    points_json.push(b',');
                }
                json::write_point(&mut points_json, p);
                npoints += 1;
            }
        };
        let size = match &source {
            Source::Whole(b) => b.len(),
            Source::Stream(_, size) => size.map_or(0, |n| n as usize),
        };
        let progress = report.progress_for(&name, size);
        let v = if args.accept_partial {
            let reader: Box<dyn Read> = match source {
                Source::Stream(r, _) => r,
                Source::Whole(b) => Box::new(io::Cursor::new(b)),
            };
            match partial::check(reader, &opts, &mut on_point, &name, &mut outputs) {
                Ok(v) => v,
                Err(e) => {
                    if let Some(pr) = progress {
                        pr.finish();
                    }
                    eprintln!("linegate: {name}: {e}");
                    usage_failed = true;
                    continue;
                }
            }
        } else {
            match source {
                Source::Stream(reader, _) => {
                    let read = check_stream(reader, &opts, &mut on_point, |done| {
                        if let Some(pr) = &progress {
                            pr.update(done, size);
                        }
                    });
                    match read {
                        Ok(v) => v,
                        Err(e) => {
                            if let Some(pr) = progress {
                                pr.finish();
                            }
                            eprintln!("linegate: cannot read {name}: {e}");
                            usage_failed = true;
                            continue;
                        }
                    }
                }
                Source::Whole(body) => {
                    let no_points = !want_points && !opts.warnings && progress.is_none();
                    if no_points && body.len() >= split_min {
                        validate_split(&body, &opts, &on_two_threads)
                    } else if no_points {
                        // One thread, but still the path without points (floats only
                        // validated, not converted: `linegate_core::check_batch`).
                        validate_split(&body, &opts, &|a, b| {
                            a();
                            b();
                        })
                    } else {
                        validate_with_progress(&body, &opts, on_point, |done, total| {
                            if let Some(pr) = &progress {
                                pr.update(done, total);
                            }
                            true
                        })
                    }
                }
            }
        };
        if let Some(pr) = progress {
            pr.finish();
        }
        any_rejected |= !v.accepted();
        let points = (want_points && v.accepted()).then_some(points_json.as_slice());
        match format {
            Format::Human => report.file(&mut out, &name, content_encoding, &opts, &v),
            Format::Jsonl => {
                let mut rec = Vec::new();
                write_record(&mut rec, &name, &v, points);
                rec.push(b'\n');
                if out.write_all(&rec).is_err() {
                    return ExitCode::from(2);
                }
            }
            Format::Json => {
                let mut rec = Vec::new();
                write_record(&mut rec, &name, &v, points);
                records.push(rec);
            }
        }
    }
    let io_ok = match format {
        Format::Json => {
            let mut all = vec![b'['];
            for (i, r) in records.iter().enumerate() {
                if i > 0 {
                    all.extend_from_slice(b",\n");
                }
                all.extend_from_slice(r);
            }
            all.extend_from_slice(b"]\n");
            out.write_all(&all).is_ok()
        }
        Format::Human => report.summary(&mut out).is_ok(),
        Format::Jsonl => true,
    };
    if let Err(e) = outputs.flush() {
        eprintln!("linegate: cannot write the split: {e}");
        return ExitCode::from(2);
    }
    if out.flush().is_err() || !io_ok {
        // A closed pipe (`| head`) is not worth a message.
        return ExitCode::from(2);
    }
    if usage_failed {
        ExitCode::from(2)
    } else if any_rejected {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
