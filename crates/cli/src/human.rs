//! The compiler-style report for people: file:line:column, the line with a caret under the
//! failing spot, InfluxDB's reason, a hint, warnings, and a summary.

use std::io::{self, IsTerminal, Write};
use std::time::Instant;

use linegate_core::answers::Reason;
use linegate_core::{ValidateOptions, Validation};

/// Diagnostics shown per file before "… and N more".
const SHOWN_PER_FILE: usize = 20;
/// Files at least this large get a progress line on a terminal.
const PROGRESS_FROM: usize = 32 << 20;

pub struct Report {
    color: bool,
    progress: bool,
    files: u64,
    accepted: u64,
    points: u64,
    lines: u64,
}

/// A progress line on standard error, redrawn in place.
pub struct Progress {
    name: String,
    started: Instant,
    last: std::cell::Cell<Option<Instant>>,
}

impl Progress {
    pub fn update(&self, done: usize, total: usize) {
        let now = Instant::now();
        if self
            .last
            .get()
            .is_some_and(|t| now.duration_since(t).as_millis() < 100)
        {
            return;
        }
        self.last.set(Some(now));
        let secs = self.started.elapsed().as_secs_f64().max(1e-6);
        let pct = if total == 0 {
            100.0
        } else {
            done as f64 * 100.0 / total as f64
        };
        eprint!(
            "\r\x1b[2K  checking {}: {:5.1}%  {:.0} MB/s",
            self.name,
            pct,
            done as f64 / 1e6 / secs
        );
    }

    pub fn finish(self) {
        eprint!("\r\x1b[2K");
    }
}

/// Shows bytes of a line for a terminal: controls and invalid UTF-8 as escapes. Returns the
/// text and the display column of each input byte offset (to place the caret).
fn render(bytes: &[u8]) -> (String, Vec<usize>) {
    let mut s = String::new();
    let mut cols = Vec::with_capacity(bytes.len() + 1);
    let mut col = 0;
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        let n = match std::str::from_utf8(&rest[..rest.len().min(4)]) {
            Ok(t) => t.chars().next().map_or(1, char::len_utf8),
            Err(e) if e.valid_up_to() > 0 => std::str::from_utf8(&rest[..e.valid_up_to()])
                .ok()
                .and_then(|t| t.chars().next())
                .map_or(1, char::len_utf8),
            Err(_) => 0,
        };
        let piece = if n == 0 {
            format!("\\x{:02x}", rest[0])
        } else {
            let c = std::str::from_utf8(&rest[..n])
                .ok()
                .and_then(|t| t.chars().next())
                .unwrap_or('\u{fffd}');
            match c {
                '\t' => "\\t".into(),
                '\r' => "\\r".into(),
                c if c.is_control() => format!("\\x{:02x}", c as u32),
                c => c.to_string(),
            }
        };
        let n = n.max(1);
        for _ in 0..n {
            cols.push(col);
        }
        col += piece.chars().count();
        s.push_str(&piece);
        i += n;
    }
    cols.push(col);
    (s, cols)
}

impl Report {
    pub fn new(progress: bool) -> Report {
        Report {
            color: io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            progress,
            files: 0,
            accepted: 0,
            points: 0,
            lines: 0,
        }
    }

    pub fn progress_for(&self, name: &str, size: usize) -> Option<Progress> {
        (self.progress && size >= PROGRESS_FROM).then(|| Progress {
            name: name.to_string(),
            started: Instant::now(),
            last: std::cell::Cell::new(None),
        })
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    pub fn file(
        &mut self,
        out: &mut impl Write,
        name: &str,
        _body: &[u8],
        content_encoding: Option<&[u8]>,
        opts: &ValidateOptions<'_>,
        v: &Validation,
    ) {
        let _ = self.write_file(out, name, content_encoding, opts, v);
    }

    fn write_file(
        &mut self,
        out: &mut impl Write,
        name: &str,
        content_encoding: Option<&[u8]>,
        opts: &ValidateOptions<'_>,
        v: &Validation,
    ) -> io::Result<()> {
        self.files += 1;
        self.points += v.points;
        self.lines += v.lines;
        if v.diagnostics.is_empty() && v.rejected == 0 && !v.accepted() {
            // Rejected before parsing: the request-level answer says it all.
            let body = String::from_utf8_lossy(&v.body);
            writeln!(
                out,
                "{}: {} {}",
                self.paint("1", name),
                self.paint("1;31", &format!("error: {}", v.status)),
                body
            )?;
            let why = match &v.reason {
                Some(Reason::InvalidPrecision) => format!(
                    "--precision was {:?}; InfluxDB v2 takes exactly ns, us, ms or s (v1's /write, --v1, takes any)",
                    String::from_utf8_lossy(opts.precision.unwrap_or_default())
                ),
                Some(Reason::TooLarge) => "the body reaches --max-body or --max-batch".into(),
                _ if content_encoding.is_some() => format!(
                    "the body was read as Content-Encoding {:?}",
                    String::from_utf8_lossy(content_encoding.unwrap_or_default())
                ),
                _ => String::new(),
            };
            if !why.is_empty() {
                writeln!(out, "  = {}: {why}", self.paint("1;36", "note"))?;
            }
            writeln!(out)?;
            return Ok(());
        }
        for d in v.diagnostics.iter().take(SHOWN_PER_FILE) {
            writeln!(
                out,
                "{}: {}",
                self.paint("1;31", &format!("error[{}]", d.code)),
                self.paint("1", &d.reason)
            )?;
            writeln!(out, "  --> {name}:{}:{}", d.line, d.column)?;
            let gutter = d.line.to_string();
            let pad = " ".repeat(gutter.len());
            let (text, cols) = render(&d.excerpt);
            let spot = (d.column - 1)
                .saturating_sub(d.excerpt_offset)
                .min(d.excerpt.len());
            let lead = if d.excerpt_offset > 0 { "…" } else { "" };
            writeln!(out, " {pad} |")?;
            writeln!(out, " {gutter} | {lead}{text}")?;
            writeln!(
                out,
                " {pad} | {}{}",
                " ".repeat(cols[spot] + lead.chars().count()),
                self.paint("1;31", "^")
            )?;
            if d.spans > 1 {
                writeln!(
                    out,
                    " {pad} = note: this line runs on over {} physical lines",
                    d.spans
                )?;
            }
            writeln!(out, " {pad} = {}: {}", self.paint("1;36", "hint"), d.hint)?;
            writeln!(out)?;
        }
        let more = v.rejected.saturating_sub(SHOWN_PER_FILE as u64);
        if more > 0 {
            writeln!(out, "… and {more} more rejected lines in {name}\n")?;
        }
        for w in &v.warnings {
            writeln!(
                out,
                "{}: {}\n  --> {name}:{}\n",
                self.paint("1;33", &format!("warning[{}]", w.kind.name())),
                w.message,
                w.line
            )?;
        }
        if v.warnings_total > v.warnings.len() as u64 {
            writeln!(
                out,
                "… and {} more warnings\n",
                v.warnings_total - v.warnings.len() as u64
            )?;
        }
        if v.accepted() {
            self.accepted += 1;
            writeln!(
                out,
                "{}: {} 204: {} points in {} lines{}",
                self.paint("1", name),
                self.paint("1;32", "accepted"),
                v.points,
                v.lines,
                if v.warnings.is_empty() {
                    String::new()
                } else {
                    format!(" ({} warnings)", v.warnings_total)
                }
            )?;
        } else {
            writeln!(
                out,
                "{}: {} 400: {} of {} lines rejected; InfluxDB writes nothing from this batch (first bad line {})",
                self.paint("1", name),
                self.paint("1;31", "rejected"),
                v.rejected,
                v.lines,
                v.line.unwrap_or(0)
            )?;
        }
        Ok(())
    }

    pub fn summary(&self, out: &mut impl Write) -> io::Result<()> {
        if self.files > 1 {
            writeln!(
                out,
                "\n{} of {} files accepted ({} points, {} lines)",
                self.accepted, self.files, self.points, self.lines
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn render_escapes_and_columns() {
        let (s, cols) = render(b"a\tb\r\xff\xc3\xa9");
        assert_eq!(s, "a\\tb\\r\\xffé");
        assert_eq!(cols[..6], [0, 1, 3, 4, 6, 10]);
    }
}
