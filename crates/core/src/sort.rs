//! One stable sort of indices for the whole crate.
//!
//! Each `sort_by`/`sort_unstable_by` call site instantiates the standard library's sorts
//! anew (some 21 KB of wasm for three call sites); this one is compiled once and takes the
//! comparison as a `dyn` callback. It is a merge sort over insertion-sorted runs: stable,
//! O(n log n) in the worst case (a line can carry tens of thousands of tags), and allocates
//! one scratch buffer of `n` indices only when there is more than one run.

/// Indices below this many are insertion-sorted before merging.
const RUN: usize = 16;

/// Sorts `idx` so that `less(a, b)` never holds for a later `a` and an earlier `b`, keeping
/// the order of indices that compare equal (stable).
#[inline(never)]
pub(crate) fn sort_indices(idx: &mut [usize], less: &mut dyn FnMut(usize, usize) -> bool) {
    let n = idx.len();
    for run in idx.chunks_mut(RUN) {
        insertion_sort(run, less);
    }
    if n <= RUN {
        return;
    }
    let mut buf = vec![0usize; n];
    // Ping-pong between `idx` and `buf`; `in_buf` says where the current runs are.
    let mut in_buf = false;
    let mut width = RUN;
    while width < n {
        let (src, dst): (&[usize], &mut [usize]) = if in_buf {
            (&buf[..], &mut idx[..])
        } else {
            (&idx[..], &mut buf[..])
        };
        let mut lo = 0;
        while lo < n {
            let mid = (lo + width).min(n);
            let hi = (lo + 2 * width).min(n);
            merge(&src[lo..mid], &src[mid..hi], &mut dst[lo..hi], less);
            lo = hi;
        }
        in_buf = !in_buf;
        width *= 2;
    }
    if in_buf {
        idx.copy_from_slice(&buf);
    }
}

fn insertion_sort(v: &mut [usize], less: &mut dyn FnMut(usize, usize) -> bool) {
    for i in 1..v.len() {
        let x = v[i];
        let mut j = i;
        while j > 0 && less(x, v[j - 1]) {
            v[j] = v[j - 1];
            j -= 1;
        }
        v[j] = x;
    }
}

/// Merges two sorted runs into `out`, taking from `a` on ties (stability).
fn merge(a: &[usize], b: &[usize], out: &mut [usize], less: &mut dyn FnMut(usize, usize) -> bool) {
    let (mut i, mut j) = (0, 0);
    for slot in out.iter_mut() {
        if j == b.len() || (i < a.len() && !less(b[j], a[i])) {
            *slot = a[i];
            i += 1;
        } else {
            *slot = b[j];
            j += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sort_indices;

    /// Against the standard library's stable sort, on keys with many ties, at sizes around
    /// the run length and its doublings.
    #[test]
    fn matches_std_stable_sort() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for n in [0, 1, 2, 15, 16, 17, 31, 32, 33, 64, 100, 257, 1000, 5000] {
            for modulo in [1u64, 3, 50, 1 << 40] {
                let keys: Vec<u64> = (0..n)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        seed % modulo
                    })
                    .collect();
                let mut got: Vec<usize> = (0..n).collect();
                sort_indices(&mut got, &mut |a, b| keys[a] < keys[b]);
                let mut want: Vec<usize> = (0..n).collect();
                want.sort_by_key(|&i| keys[i]);
                assert_eq!(got, want, "n={n} modulo={modulo}");
            }
        }
    }

    #[test]
    fn sorted_and_reversed_inputs() {
        for n in [100usize, 4096] {
            let mut up: Vec<usize> = (0..n).collect();
            sort_indices(&mut up, &mut |a, b| a < b);
            assert_eq!(up, (0..n).collect::<Vec<_>>());
            let mut down: Vec<usize> = (0..n).collect();
            sort_indices(&mut down, &mut |a, b| a > b);
            assert_eq!(down, (0..n).rev().collect::<Vec<_>>());
        }
    }
}
