//! IDs and fresh tokens from the system's randomness.

pub(crate) fn to_i(id: u64) -> i64 {
    id as i64
}
pub(crate) fn to_u(id: i64) -> u64 {
    id as u64
}

/// A random non-zero 64-bit ID (InfluxDB's are 16 hex digits).
pub fn new_id() -> u64 {
    loop {
        let mut b = [0u8; 8];
        random_bytes(&mut b);
        let id = u64::from_le_bytes(b);
        if id != 0 {
            return id;
        }
    }
}

pub fn random_bytes(buf: &mut [u8]) {
    use std::io::Read;
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        if f.read_exact(buf).is_ok() {
            return;
        }
    }
    // Fallback: time and address entropy, good enough for IDs (not for tokens).
    let mut x = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        ^ (buf.as_ptr() as u64);
    for b in buf {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
}

/// A fresh token: 64 URL-safe characters.
pub fn new_token() -> String {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut b = [0u8; 64];
    random_bytes(&mut b);
    b.iter()
        .map(|&x| ALPHA[(x & 63) as usize] as char)
        .collect()
}
