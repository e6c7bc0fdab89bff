//! Cache blocking: the MC×KC×NC block sizes of the BLIS loops, fitted to the host's caches.
//!
//! Sizes come from sysfs (`/sys/devices/system/cpu/cpu0/cache`) when it is readable, with
//! defaults for a current x86 core otherwise, and are read once.

use once_cell::sync::Lazy;

/// Per-core data-cache sizes in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheSizes {
    pub l1d: usize,
    pub l2: usize,
    pub l3: usize,
}

impl Default for CacheSizes {
    fn default() -> Self {
        CacheSizes {
            l1d: 32 << 10,
            l2: 1 << 20,
            l3: 32 << 20,
        }
    }
}

/// Parses a sysfs size such as `48K` or `32768K` or `1M`.
fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'K' => (&s[..s.len() - 1], 1 << 10),
        'M' => (&s[..s.len() - 1], 1 << 20),
        'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<usize>().ok().map(|n| n * mult)
}

fn read_sysfs() -> CacheSizes {
    let mut sizes = CacheSizes::default();
    let root = "/sys/devices/system/cpu/cpu0/cache";
    for index in 0..8 {
        let read = |f: &str| std::fs::read_to_string(format!("{root}/index{index}/{f}")).ok();
        let (Some(level), Some(kind), Some(size)) = (read("level"), read("type"), read("size"))
        else {
            continue;
        };
        let Some(size) = parse_size(&size).filter(|&s| s >= 4 << 10) else {
            continue;
        };
        match (level.trim(), kind.trim()) {
            ("1", "Data") => sizes.l1d = size,
            ("2", "Unified" | "Data") => sizes.l2 = size,
            ("3", "Unified" | "Data") => sizes.l3 = size,
            _ => {}
        }
    }
    sizes
}

/// The host's cache sizes, read once.
pub fn cache_sizes() -> CacheSizes {
    static SIZES: Lazy<CacheSizes> = Lazy::new(read_sysfs);
    *SIZES
}

/// Block sizes of the BLIS loops for one microkernel shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocking {
    /// Rows of A packed at once (a multiple of MR): the packed A block lives in L2.
    pub mc: usize,
    /// Depth of one packed slab (the C tile is read and written once per slab).
    pub kc: usize,
    /// Columns of B packed at once (a multiple of NR): the packed B block lives in L3.
    pub nc: usize,
}

impl Blocking {
    /// Block sizes for an `mr×nr` microkernel on caches `c`.
    pub fn new(mr: usize, nr: usize, c: CacheSizes) -> Blocking {
        const F32: usize = std::mem::size_of::<f32>();
        // KC: deep slabs amortise the C update per tile (one load+store of C per slab). The
        // A micro-panel (mr×kc, 24 KiB for 12×512) stays in L1 while B micro-panels
        // (kc×nr) stream past it with prefetch; a quarter of L2 for one of those. Measured
        // best at 512 on this Zen 4 (136..384 were 5–15% slower at n ≥ 1024), so capped.
        let kc = (c.l2 / 4 / (nr * F32)).clamp(128, 512) / 8 * 8;
        // MC: the packed A block (mc×kc) takes about half of L2.
        let mc = ((c.l2 / 2 / (kc * F32)) / mr).max(1) * mr;
        // NC: the packed B block (kc×nc) takes a quarter of the shared L3, at most 4096
        // columns.
        let nc = ((c.l3 / 4 / (kc * F32)) / nr)
            .clamp(1, 4096 / nr.max(1))
            .max(1)
            * nr;
        Blocking { mc, kc, nc }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sysfs_sizes() {
        assert_eq!(parse_size("48K\n"), Some(48 << 10));
        assert_eq!(parse_size("1M"), Some(1 << 20));
        assert_eq!(parse_size("x"), None);
    }

    #[test]
    fn blocks_are_multiples_of_the_tile() {
        let b = Blocking::new(12, 32, CacheSizes::default());
        assert_eq!(b.mc % 12, 0);
        assert_eq!(b.nc % 32, 0);
        assert!(b.kc >= 64);
    }
}
