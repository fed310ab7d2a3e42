//! `--accept-partial` (spec Part D.1): each file is split as a partial write of it would be,
//! its accepted lines written to `--accepted` (a file InfluxDB accepts whole) and its
//! rejected lines to `--rejected`, so a batch can be salvaged and its bad lines fixed.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};

use linegate_core::partial::Decision;
use linegate_core::{Checker, Point, ValidateOptions, Validation};

/// Where the split goes (either may be absent: then that side is only counted).
pub struct Outputs {
    accepted: Option<BufWriter<File>>,
    rejected: Option<BufWriter<File>>,
}

impl Outputs {
    pub fn create(accepted: Option<&OsString>, rejected: Option<&OsString>) -> io::Result<Self> {
        let open = |p: Option<&OsString>| -> io::Result<Option<BufWriter<File>>> {
            p.map(|p| File::create(p).map(|f| BufWriter::with_capacity(1 << 16, f)))
                .transpose()
        };
        Ok(Outputs {
            accepted: open(accepted)?,
            rejected: open(rejected)?,
        })
    }

    pub fn flush(&mut self) -> io::Result<()> {
        for w in [&mut self.accepted, &mut self.rejected]
            .into_iter()
            .flatten()
        {
            w.flush()?;
        }
        Ok(())
    }
}

/// Checks a body as it is read (1 MiB at a time) and splits it. The answer is the partial
/// write's (spec Part D.1.2) when some lines are accepted and some rejected; a body refused
/// before its lines count (size, gzip) adds nothing to the outputs.
pub fn check(
    mut reader: impl Read,
    opts: &ValidateOptions<'_>,
    on_point: &mut dyn FnMut(&Point<'_>),
    file: &str,
    out: &mut Outputs,
) -> io::Result<Validation> {
    // A salvage tool keeps every rejected line: the file is bounded, the user asked for it.
    let mut checker = Checker::new(opts).accept_partial(usize::MAX);
    let mut buf = vec![0u8; 1 << 20];
    // Held until the answer is known: a body refused at its end (gzip trailer, size) must
    // leave nothing behind in the accepted file.
    let mut accepted = Vec::new();
    while checker.decided().is_none() {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        checker.push_with(&buf[..n], on_point);
        accepted.extend(checker.take_accepted());
    }
    let (mut v, split) = checker.finish_split_with(on_point);
    let Some(split) = split else {
        return Ok(v);
    };
    if let Decision::Partial(r) = split.decision() {
        v.body = r.body;
    }
    if let Some(w) = out.accepted.as_mut() {
        w.write_all(&accepted)?;
        w.write_all(&split.body)?;
    }
    if let Some(w) = out.rejected.as_mut() {
        let mut rec = Vec::new();
        for r in &split.kept {
            rec.clear();
            rec.extend_from_slice(b"{\"file\":");
            rec.extend_from_slice(&linegate_core::json::quote(file.as_bytes()));
            rec.push(b',');
            r.write_json_members(&mut rec);
            rec.extend_from_slice(b"}\n");
            w.write_all(&rec)?;
        }
    }
    Ok(v)
}
