//! The gzip decoder's CRC-32 (`crc::Crc32`, the Chorba method: byte XORs at fixed distances,
//! then a table CRC of the last 2605 bytes) against the textbook bit-at-a-time CRC-32, on
//! messages of any length fed in pieces of any sizes, several members on one `Crc32`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use linegate_core::crc::Crc32;

/// gzip's CRC-32, one bit at a time (reflected, polynomial 0xEDB88320).
fn reference(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let (head, body) = data.split_at(3);
    // Stretched so that short inputs reach past the method's 2.6 KB reach: the body repeated
    // up to 32 times, each copy XORed with its number (not periodic).
    let copies = 1 + usize::from(head[0] & 31);
    let msg: Vec<u8> = (0..copies)
        .flat_map(|k| body.iter().map(move |&b| b ^ (k as u8)))
        .collect();
    let mut c = Crc32::new(if head[1] & 1 == 0 { 64 << 10 } else { 8 << 10 });
    // Two members on the same Crc32: the message, then its second half.
    for m in [&msg[..], &msg[msg.len() / 2..]] {
        let mut rest = m;
        let mut i = 0usize;
        while !rest.is_empty() {
            let room = c.space().len();
            let want = match body.get(i % body.len().max(1)) {
                Some(&b) if head[2] & 1 == 1 => usize::from(b) * 64 + 1,
                Some(&b) => usize::from(b) + 1,
                None => room,
            };
            let n = want.min(room).min(rest.len());
            i += 1;
            c.space()[..n].copy_from_slice(&rest[..n]);
            assert_eq!(c.written(n), &rest[..n]);
            c.commit(n);
            rest = &rest[n..];
        }
        assert_eq!(c.finish(), reference(m));
    }
});
