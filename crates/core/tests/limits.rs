//! Memory stays bounded on hostile input: a 100 MB batch of bad lines yields a message and
//! a diagnostics list within their caps (spec Part A §1), and a gzip bomb stops at
//! `max_batch` (Part A §4).

use linegate_core::{
    check_request, gzip, limits, validate, Limits, Request, ValidateOptions, Verdict,
};

const ENTRY: &str = "unable to parse 'bad': missing fields";

#[test]
fn a_100_mb_batch_of_bad_lines_stays_within_the_caps() {
    let lines = 25usize << 20;
    let body = b"bad\n".repeat(lines);
    assert_eq!(body.len(), 100 << 20);
    let req = Request {
        query: b"org=o&bucket=b",
        authorization: Some(b"Token t"),
        content_encoding: None,
        body: &body,
    };
    let Verdict::Reject(r) = check_request(&req, &Limits::default(), 0) else {
        panic!("a batch of bad lines is rejected")
    };
    assert_eq!(r.status, 400);
    assert_eq!(r.line, Some(1));
    // The message fills the cap with whole entries, then says how many were left out.
    assert!(
        r.body.len() <= limits::DEFAULT_MAX_MESSAGE + 100,
        "{} bytes",
        r.body.len()
    );
    assert!(r.body.len() >= limits::DEFAULT_MAX_MESSAGE - 2 * ENTRY.len());
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON");
    let msg = v["message"].as_str().unwrap();
    let kept = msg.matches(ENTRY).count();
    assert_eq!(kept, (limits::DEFAULT_MAX_MESSAGE + 2) / (ENTRY.len() + 2));
    assert!(msg.ends_with(&format!("\n… and {} more rejected lines", lines - kept)));
    assert_eq!(v["line"], 1);

    // Diagnostics are capped the same way and carry the total.
    let val = validate(&body, &ValidateOptions::default(), |_| {});
    assert_eq!(val.rejected, lines as u64);
    assert_eq!(val.diagnostics.len(), kept);
    assert_eq!(val.diagnostics.last().unwrap().line, kept as u64);
}

#[test]
fn a_gzip_bomb_stops_at_max_batch() {
    // 200 members of 8 MiB of zeros each: 1.6 GiB decompressed from about 1.6 MB.
    let member = gzip::compress(&vec![0u8; 8 << 20]);
    let bomb: Vec<u8> = member
        .iter()
        .copied()
        .cycle()
        .take(member.len() * 200)
        .collect();
    assert!(bomb.len() < 2 << 20);
    let limits = Limits {
        max_batch: 64 << 20,
        ..Limits::default()
    };
    let req = Request {
        query: b"org=o&bucket=b",
        authorization: Some(b"Token t"),
        content_encoding: Some(b"gzip"),
        body: &bomb,
    };
    let Verdict::Reject(r) = check_request(&req, &limits, 0) else {
        panic!("a gzip bomb is rejected")
    };
    assert_eq!(r.status, 413);
    assert_eq!(
        r.body,
        br#"{"code":"request too large","message":"unable to read data: points batch is too large"}"#
    );
    // The decoder never holds more than the limit: decoding stops as the output reaches it.
    let start = gzip::read_header(&bomb).unwrap();
    assert_eq!(
        gzip::decompress_members(&bomb, start, 64 << 20),
        Err(gzip::ReadError::TooLarge)
    );
    // Under the limit the same stream decodes whole.
    let small: Vec<u8> = member
        .iter()
        .copied()
        .cycle()
        .take(member.len() * 3)
        .collect();
    assert_eq!(
        gzip::decompress_members(&small, start, 64 << 20)
            .unwrap()
            .len(),
        24 << 20
    );
}
