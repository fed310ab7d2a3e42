//! gzip's CRC-32 of a stream with no table lookup per byte (the "Chorba" idea: Sam Russell,
//! 2024, arXiv 2412.16398), for the gzip decoder.
//!
//! In wasm there is no carry-less multiply, and a table-driven CRC (braided, slicing-by-16)
//! is bound by one table load per byte: 0.5 ms/MB, a third of Node's whole gunzip. But the
//! CRC-32 generator G divides the sparse polynomial
//!
//! ```text
//! Z(x) = x^(8·2605) + x^(8·62) + x^(8·25) + x^(8·9) + 1       (checked by a unit test)
//! ```
//!
//! so adding a multiple of Z to the message leaves its CRC unchanged. Read first byte first,
//! the byte at position p is cleared by adding it again 2543, 2580, 2596 and 2605 bytes
//! further on; done in order, the byte each position holds when its turn comes is
//!
//! ```text
//! f[p] = m[p] ^ f[p-2543] ^ f[p-2580] ^ f[p-2596] ^ f[p-2605]
//! ```
//!
//! XORs of bytes at fixed distances, which vectorise (simd128 in wasm, 16 bytes a step).
//! A message whose first `r` bytes were cleared so is zeros there and `g` after, with
//! `g[p] = f[p] ^ (f[p-d] for each distance d with p-d ≥ r)`; with the CRC's initial state
//! XORed into the first 4 bytes (so the state through the zeros stays 0), the CRC of the
//! member is the table-driven CRC of the last 2605 bytes of `g` only.

use zlib_rs::crc32::crc32;

/// The distances, in bytes, at which a cleared byte is added back (Z's exponents / 8,
/// subtracted from its degree).
const D: [usize; 4] = [2543, 2580, 2596, 2605];
/// The longest distance: the history kept before new bytes, and the tail left at the end.
const SPAN: usize = 2605;

/// The CRC-32 of one gzip member, fed in pieces. The bytes are written into its own buffer
/// ([`space`](Crc32::space), then [`commit`](Crc32::commit)), which it then overwrites: the
/// caller reads them between the two.
pub struct Crc32 {
    /// `[SPAN bytes of f before the new bytes][new bytes…][free space]`.
    buf: Box<[u8]>,
    /// End of the bytes in `buf` (≥ `SPAN`).
    len: usize,
    /// Bytes of this member so far.
    count: u64,
    /// The initial state has been XORed into the member's first 4 bytes.
    started: bool,
}

impl Crc32 {
    /// A CRC that offers `room` bytes of space, and never less than `room / 2`.
    pub fn new(room: usize) -> Crc32 {
        Crc32 {
            buf: vec![0; SPAN + room].into_boxed_slice(),
            len: SPAN,
            count: 0,
            started: false,
        }
    }

    /// Where the next bytes go.
    pub fn space(&mut self) -> &mut [u8] {
        &mut self.buf[self.len..]
    }

    /// The `n` bytes written into [`space`](Crc32::space), until [`commit`](Crc32::commit).
    pub fn written(&self, n: usize) -> &[u8] {
        &self.buf[self.len..self.len + n]
    }

    /// Takes the `n` bytes written into [`space`](Crc32::space) into the CRC.
    pub fn commit(&mut self, n: usize) {
        let (start, end) = (self.len, self.len + n);
        assert!(end <= self.buf.len());
        if !self.started && self.count + n as u64 >= 4 {
            // Fewer than 4 bytes came before, so the member's first byte is still at SPAN
            // and nothing has read it yet (f[p] = m[p] below 2543).
            for b in &mut self.buf[SPAN..SPAN + 4] {
                *b ^= 0xff;
            }
            self.started = true;
        }
        let mut p = start;
        while p < end {
            // In blocks no longer than the shortest distance, every source is final.
            let k = (end - p).min(D[0]);
            let (src, dst) = self.buf.split_at_mut(p);
            let dst = &mut dst[..k];
            let a = &src[p - D[0]..][..k];
            let b = &src[p - D[1]..][..k];
            let c = &src[p - D[2]..][..k];
            let d = &src[p - D[3]..][..k];
            for i in 0..k {
                dst[i] ^= a[i] ^ b[i] ^ c[i] ^ d[i];
            }
            p += k;
        }
        self.len = end;
        self.count += n as u64;
        if self.buf.len() - self.len < (self.buf.len() - SPAN) / 2 {
            self.buf.copy_within(self.len - SPAN..self.len, 0);
            self.len = SPAN;
        }
    }

    /// The CRC-32 of the member's bytes, and a fresh start for the next member.
    pub fn finish(&mut self) -> u32 {
        let crc = if !self.started {
            // Fewer than 4 bytes, untouched.
            crc32(0, &self.buf[SPAN..self.len])
        } else {
            let r = self.len - (self.count.min(SPAN as u64) as usize);
            // g from f, last byte first: each g[p] reads only f below p.
            for p in (r..self.len).rev() {
                let mut v = self.buf[p];
                for d in D {
                    if p >= r + d {
                        v ^= self.buf[p - d];
                    }
                }
                self.buf[p] = v;
            }
            // Raw state 0 (the bytes before r are zeros): zlib-rs inverts on the way in.
            crc32(!0, &self.buf[r..self.len])
        };
        self.buf[..SPAN].fill(0);
        self.len = SPAN;
        self.count = 0;
        self.started = false;
        crc
    }
}

/// The CRC-32 of `data` in one call, through [`Crc32`] (tests and benchmarks).
pub fn crc32_of(data: &[u8]) -> u32 {
    let mut c = Crc32::new(64 << 10);
    for chunk in data.chunks(32 << 10) {
        c.space()[..chunk.len()].copy_from_slice(chunk);
        c.commit(chunk.len());
    }
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// x^n mod G, G = the CRC-32 generator (normal bit order, x^32 implied).
    fn x_pow_mod(n: usize) -> u32 {
        let mut r: u32 = 1;
        for _ in 0..n {
            let top = r & 0x8000_0000 != 0;
            r <<= 1;
            if top {
                r ^= 0x04C1_1DB7;
            }
        }
        r
    }

    #[test]
    fn the_sparse_polynomial_is_a_multiple_of_the_generator() {
        let z = x_pow_mod(8 * SPAN)
            ^ x_pow_mod(8 * (SPAN - D[0]))
            ^ x_pow_mod(8 * (SPAN - D[1]))
            ^ x_pow_mod(8 * (SPAN - D[2]))
            ^ 1;
        assert_eq!(z, 0);
        // And the check is not vacuous: one distance off is not.
        assert_ne!(
            x_pow_mod(8 * SPAN) ^ x_pow_mod(8 * 61) ^ x_pow_mod(8 * 25) ^ x_pow_mod(8 * 9) ^ 1,
            0
        );
    }

    /// A small xorshift generator: the same bytes every run.
    fn bytes(seed: u64, n: usize) -> Vec<u8> {
        let mut s = seed | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 32) as u8
            })
            .collect()
    }

    fn in_pieces(c: &mut Crc32, data: &[u8], sizes: &[usize]) -> u32 {
        let mut rest = data;
        let mut i = 0;
        while !rest.is_empty() {
            let room = c.space().len();
            let n = sizes[i % sizes.len()].clamp(1, room).min(rest.len());
            i += 1;
            c.space()[..n].copy_from_slice(&rest[..n]);
            assert_eq!(c.written(n), &rest[..n]);
            c.commit(n);
            rest = &rest[n..];
        }
        c.finish()
    }

    #[test]
    fn equals_the_table_crc_at_every_length_near_the_edges() {
        let data = bytes(7, 3 * SPAN + 100);
        let mut c = Crc32::new(4 * SPAN);
        let lens = (0..=40)
            .chain(D[0] - 20..D[0] + 20)
            .chain(SPAN - 20..SPAN + 40)
            .chain(2 * SPAN - 10..2 * SPAN + 10)
            .chain([3 * SPAN + 100]);
        for len in lens {
            let want = crc32fast::hash(&data[..len]);
            assert_eq!(crc32_of(&data[..len]), want, "len {len}");
            // The same Crc32 reused, member after member, in uneven pieces.
            assert_eq!(in_pieces(&mut c, &data[..len], &[1, 3, 2, 4]), want);
            assert_eq!(in_pieces(&mut c, &data[..len], &[777, 5000, 13]), want);
        }
    }

    #[test]
    fn equals_the_table_crc_on_random_lengths_and_pieces() {
        for seed in 1..60u64 {
            let r = bytes(seed, 8);
            let len = (u32::from_le_bytes([r[0], r[1], r[2], 0]) % 300_000) as usize;
            let data = bytes(seed * 31, len);
            let sizes: Vec<usize> = r[3..].iter().map(|&b| 1 + (b as usize) * 97).collect();
            let mut c = Crc32::new(64 << 10);
            assert_eq!(in_pieces(&mut c, &data, &sizes), crc32fast::hash(&data));
            // Starting inside the slice (another alignment), all at once.
            let off = r[3] as usize % 16;
            let tail = &data[off.min(len)..];
            assert_eq!(crc32_of(tail), crc32fast::hash(tail));
        }
    }

    #[test]
    fn a_flipped_bit_changes_it() {
        let mut data = bytes(3, 100_000);
        let good = crc32_of(&data);
        for at in [0, 1, 4, D[0], SPAN, 50_000, 99_999] {
            data[at] ^= 0x10;
            assert_ne!(crc32_of(&data), good, "bit at {at}");
            data[at] ^= 0x10;
        }
    }
}
