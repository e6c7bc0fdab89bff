//! Cache blocking: the MC×KC×NC block sizes of the BLIS loops, fitted to the host's caches.
//!
//! Sizes and L1's associativity come from sysfs (`/sys/devices/system/cpu/cpu0/cache`) when
//! readable, with defaults for a current x86 core otherwise, and are read once.

use once_cell::sync::Lazy;

/// Per-core data-cache sizes in bytes, and L1's associativity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheSizes {
    pub l1d: usize,
    pub l2: usize,
    pub l3: usize,
    /// Ways of the L1 data cache: how many lines that map to one set it holds at once
    /// (rows of A 4 KiB apart all map to one set; see `driver::a_in_place`).
    pub l1d_ways: usize,
}

impl Default for CacheSizes {
    fn default() -> Self {
        CacheSizes {
            l1d: 32 << 10,
            l2: 1 << 20,
            l3: 32 << 20,
            l1d_ways: 8,
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
            ("1", "Data") => {
                sizes.l1d = size;
                let ways = read("ways_of_associativity").and_then(|w| w.trim().parse().ok());
                sizes.l1d_ways = ways.filter(|&w| w > 0).unwrap_or(sizes.l1d_ways);
            }
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
    /// Columns of B packed at once (a multiple of NR): 1024, the packed B block streams
    /// from L2 or L3.
    pub nc: usize,
}

impl Blocking {
    /// Block sizes for an `mr×nr` microkernel on caches `c`, with this host's slab rule
    /// ([`SlabRule::host`]).
    pub fn new(mr: usize, nr: usize, c: CacheSizes) -> Blocking {
        Blocking::with_rule(mr, nr, c, SlabRule::host())
    }

    /// Block sizes for an `mr×nr` microkernel on caches `c` under slab rule `rule`.
    ///
    /// The loop order (see `driver.rs`) keeps one A micro-panel (`mr×kc`) resident (in L1,
    /// or in L2 under [`SlabRule::APanel`]) while the B micro-panels of the block (`kc×nr`
    /// each) stream past it from L2 or L3, so:
    /// - KC: see [`SlabRule`].
    /// - NC: 1024 columns, whatever L2 holds. Each NC block repacks all of A, so a wide
    ///   block saves packing, while the B micro-panels, prefetched, stream from L2 or L3
    ///   past the resident A micro-panel (its `kc×nr` floats per tile are a few bytes per
    ///   cycle, well within L3 bandwidth). Measured, one thread, same process: Zen 5 (1 MiB
    ///   L2) 1024 columns ÷ 512 (half of L2) 1.03–1.05× at 1024³, 1.03–1.08× at 2048³,
    ///   1.05–1.06× at 512×1024·1024, with 2048 and 4096 no better; Zen 1 (512 KiB L2,
    ///   AVX2) 1024 columns ÷ 400 (an L2-sized block) 1.01–1.08× at 512³–2048³ and the MLP
    ///   shapes, 2048 no better; Intel Xeon (2 MiB L2) 4096 columns 17% slower than 1024 at
    ///   1024×4096·512.
    /// - MC: A is packed `mc` rows at a time and each micro-panel is used once per B
    ///   block, so MC only bounds the packing buffer: an eighth of L2, leaving the rest to
    ///   the B panels streaming through; under [`SlabRule::APanel`] at least five
    ///   micro-panels (Zen 5, one thread, same process: 24 rows 0.97–1.00× of 48–60 rows
    ///   at 1024³ and 512×1024·1024, 96–192 rows no better).
    pub fn with_rule(mr: usize, nr: usize, c: CacheSizes, rule: SlabRule) -> Blocking {
        let kc = match rule {
            SlabRule::PanelPair => (c.l1d / ((mr + nr) * F32) / 64 * 64).clamp(256, 512),
            SlabRule::APanel => (c.l1d / (mr * F32) / 64 * 64).clamp(256, DEEP_KC_MAX),
        };
        Blocking::with_depth(mr, nr, kc, c, rule)
    }

    /// Blocks for a product that writes several C destinations (`mp`'s fused Strassen
    /// products) under slab rule `rule`: slabs twice as deep, NC and MC as in
    /// [`Blocking::with_rule`]. Every slab reads and writes each destination's tile once,
    /// so fewer slabs cut that traffic, which grows with the destinations.
    /// - [`SlabRule::PanelPair`]: at most 1024 deep, and only where the deeper A
    ///   micro-panel still takes at most half of L1 (12×512 floats, 24 KiB, in a 48 KiB
    ///   L1); otherwise the plain blocks. Measured, one thread, `mp` in one process
    ///   alternating with the plain blocking: Zen 5 2048³ 1.06–1.10×, 4096³ 1.11×
    ///   (products of 1024 and 2048; NC then sized to L2, 512 columns, and KC 256); Zen 1
    ///   (AVX2, KC 640, 1024 columns) 2048³ 1.12–1.15×, 3072³ 1.02–1.06×. On the Intel Xeon
    ///   host a doubled KC had measured 1.3% slower at 2048³.
    /// - [`SlabRule::APanel`]: at most 2048 deep whatever L1 holds (the A micro-panel
    ///   streams from L2), so mp's products up to k = 2048 (mp up to n = 4096) write each
    ///   destination once. Zen 5, one thread, mp with these ÷ mp with the plain 1024-deep
    ///   slabs: 3072³ 1.02–1.06× (products 1536 deep: one slab instead of two), 4096³
    ///   1.02–1.04× in four runs of five (0.96× in one); 2048³ unchanged (its products
    ///   are 1024 deep).
    pub fn for_destinations(self, mr: usize, nr: usize, c: CacheSizes, rule: SlabRule) -> Blocking {
        match rule {
            SlabRule::PanelPair => {
                let kc = (2 * self.kc).min(1024);
                if mr * kc * F32 > c.l1d / 2 {
                    return self;
                }
                Blocking::with_depth(mr, nr, kc, c, rule)
            }
            SlabRule::APanel => {
                Blocking::with_depth(mr, nr, (2 * self.kc).min(FUSED_KC_MAX), c, rule)
            }
        }
    }

    /// NC and MC for slabs `kc` deep, by the rules of [`Blocking::with_rule`].
    fn with_depth(mr: usize, nr: usize, kc: usize, c: CacheSizes, rule: SlabRule) -> Blocking {
        let nc = (NC_COLUMNS / nr.max(1)).max(1) * nr;
        let fewest = match rule {
            SlabRule::PanelPair => 1,
            SlabRule::APanel => MIN_A_PANELS,
        };
        let mc = (c.l2 / 8 / (kc * F32) / mr).max(fewest) * mr;
        Blocking { mc, kc, nc }
    }
}

/// How deep the KC slabs are: what must fit in L1 through one tile's k loop.
///
/// Every slab reads and writes each C tile once (from L2, L3 or memory), so deeper slabs
/// save C traffic, while the A micro-panel, reused by every tile of its row, wants L1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlabRule {
    /// An A micro-panel plus one B micro-panel fit in L1 (else the B stream evicts the A
    /// panel before its next use): the largest multiple of 64 that does, 256 to 512. 48 KiB
    /// L1 and 12×32 tiles give 256; measured on the Intel Xeon host of PERFORMANCE.md, one
    /// thread, same process: 1024³ +5–17% and 1024×2048·1024 +6% over 512, 272 and 320 no
    /// better than 256. Never below 256: on a Zen 4 with 32 KiB L1 (where the rule gives
    /// 128) slabs of 136–384 measured 5–15% slower than 512.
    PanelPair,
    /// The A micro-panel alone fills at most L1 (the B stream may push it to L2, whose
    /// bandwidth on AMD Zen cores feeds it at full rate): the largest multiple of 64 that
    /// fits, 256 to 1024, so a product with k ≤ 1024 writes C once. 48 KiB L1 and 12×32
    /// tiles give 1024. Measured on Zen 5, one thread, same process, ÷ 256: 1024³ 1.04×,
    /// 2048³ 1.04–1.06×, 3072³ 1.06×, 4096³ 1.10×, 512×1024·1024 1.04×, 512³ 1.02×,
    /// 256×512·784 1.01×, 256³ 1.00×, the MLP-M step's products 0.99–1.05×; two threads
    /// 512³ 1.09×, 1024³ 0.99–1.02×, 2048³ 1.07–1.09×, 512×1024·1024 1.07×; the AVX2 6×16
    /// tile on the same host (÷ 512) 0.98–1.01× at 512³–1024³, 1.05–1.10× at 2048³. A tile's
    /// sum is then one sequential chain of up to 1024 terms: packed's relative error at
    /// 2048³ rose from 4.7e-8 to 1.3e-7 (the naive loop's is 2.2e-7).
    APanel,
}

impl SlabRule {
    /// The rule for this host: [`SlabRule::APanel`] on AMD (and Zen-based Hygon) x86 cores
    /// (`vendor_id` of `/proc/cpuinfo`, read once; without it, as on a non-Linux host,
    /// the old rule), [`SlabRule::PanelPair`] elsewhere: the Intel Xeon host
    /// measured 256-deep slabs faster than 512 (see there), and both have 48 KiB L1s, so
    /// the caches alone cannot tell them apart. Zen 5 is the AMD core measured; on Zen 1
    /// and Zen 4 the rule gives KC 1024 and 640 (fused products 2048 and 1280) unmeasured
    /// (a deeper KC measured faster there too, see [`Blocking::for_destinations`] and
    /// `PanelPair`).
    pub fn host() -> SlabRule {
        static AMD: Lazy<bool> = Lazy::new(|| {
            cfg!(target_arch = "x86_64")
                && std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|info| {
                    matches!(cpu_vendor(&info), Some("AuthenticAMD" | "HygonGenuine"))
                })
        });
        if *AMD {
            SlabRule::APanel
        } else {
            SlabRule::PanelPair
        }
    }
}

/// The `vendor_id` of the first processor in a `/proc/cpuinfo` text.
fn cpu_vendor(info: &str) -> Option<&str> {
    info.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(key, _)| key.trim() == "vendor_id")
        .map(|(_, v)| v.trim())
}

/// Deepest slab [`SlabRule::APanel`] takes: products with k ≤ 1024 write C once.
const DEEP_KC_MAX: usize = 1024;

/// Deepest slab of a several-destination product under [`SlabRule::APanel`].
const FUSED_KC_MAX: usize = 2048;

/// Fewest MR micro-panels in an A block under [`SlabRule::APanel`] (see
/// [`Blocking::with_rule`]; the old rule keeps its measured blocks).
const MIN_A_PANELS: usize = 5;

/// Columns of B packed at once (rounded down to whole NR panels): see
/// [`Blocking::with_rule`].
const NC_COLUMNS: usize = 1024;

/// Bytes per element of the packed blocks.
const F32: usize = std::mem::size_of::<f32>();

#[cfg(test)]
mod tests {
    use super::*;

    /// Caches of `l1d_kib` KiB L1 and `l2_kib` KiB L2 (L3 does not enter the rules).
    fn caches(l1d_kib: usize, l2_kib: usize) -> CacheSizes {
        CacheSizes {
            l1d: l1d_kib << 10,
            l2: l2_kib << 10,
            l3: 32 << 20,
            l1d_ways: 8,
        }
    }

    /// The blocks of the A-plus-B-panel rule (the tests below predate the deep rule).
    fn pair(mr: usize, nr: usize, c: CacheSizes) -> Blocking {
        Blocking::with_rule(mr, nr, c, SlabRule::PanelPair)
    }

    #[test]
    fn deep_slabs_fit_the_a_panel_alone_in_l1() {
        let deep = |mr, nr, c| Blocking::with_rule(mr, nr, c, SlabRule::APanel);
        // Zen 5: 12×1024 floats are exactly 48 KiB; five 12-row panels per A block.
        let zen5 = deep(12, 32, caches(48, 1024));
        assert_eq!((zen5.kc, zen5.nc, zen5.mc), (1024, 1024, 60));
        assert!(12 * zen5.kc * 4 <= 48 << 10);
        // Zen 4's 32 KiB L1 holds 682 steps of 12 floats: 640. AVX2's 6 rows cap at 1024.
        assert_eq!(deep(12, 32, caches(32, 1024)).kc, 640);
        assert_eq!(deep(6, 16, caches(32, 512)).kc, 1024);
        // Never shallower than the pair rule's floor, however small L1 is.
        let tiny = deep(12, 32, caches(4, 4));
        assert_eq!(tiny.kc, 256);
        assert!(tiny.mc >= 12 && tiny.mc % 12 == 0);
        // Fused products (several destinations) go twice as deep, to at most 2048, whatever
        // L1 holds, still with five panels per A block.
        let zen5c = caches(48, 1024);
        let fused = zen5.for_destinations(12, 32, zen5c, SlabRule::APanel);
        assert_eq!((fused.kc, fused.nc, fused.mc), (2048, 1024, 60));
        let zen4 = deep(12, 32, caches(32, 1024));
        assert_eq!(
            zen4.for_destinations(12, 32, caches(32, 1024), SlabRule::APanel)
                .kc,
            1280
        );
    }

    #[test]
    fn reads_the_vendor_of_the_first_processor() {
        let info = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\n\n\
                    processor\t: 1\nvendor_id\t: GenuineIntel\n";
        assert_eq!(cpu_vendor(info), Some("AuthenticAMD"));
        assert_eq!(cpu_vendor("processor : 0\nCPU implementer : 0x41\n"), None);
        assert_eq!(cpu_vendor(""), None);
    }

    #[test]
    fn parses_sysfs_sizes() {
        assert_eq!(parse_size("48K\n"), Some(48 << 10));
        assert_eq!(parse_size("1M"), Some(1 << 20));
        assert_eq!(parse_size("x"), None);
    }

    #[test]
    fn blocks_are_multiples_of_the_tile() {
        let b = pair(12, 32, CacheSizes::default());
        assert_eq!(b.mc % 12, 0);
        assert_eq!(b.nc % 32, 0);
        assert!(b.kc >= 64);
    }

    #[test]
    fn blocks_follow_the_caches() {
        // 48 KiB L1, 2 MiB L2 (the Intel Xeon host): 44 floats per k step fit 279 steps.
        let xeon = caches(48, 2048);
        let b = pair(12, 32, xeon);
        assert_eq!((b.kc, b.nc), (256, 1024));
        assert!((12 + 32) * b.kc * 4 <= xeon.l1d);
        // A smaller L1 does not go below 256 (see `PanelPair`); a tiny cache still gets a usable
        // block.
        let small = caches(32, 1024);
        assert_eq!(pair(12, 32, small).kc, 256);
        // NC is 1024 columns whatever L2 holds: 1 MiB (Zen 4 / Zen 5) and 512 KiB (Zen 1,
        // AVX2's 6×16 tile, where an L2-sized block would be 400 columns).
        assert_eq!(pair(12, 32, small).nc, 1024);
        let zen1 = pair(6, 16, caches(32, 512));
        assert_eq!((zen1.kc, zen1.nc, zen1.mc), (320, 1024, 48));
        // A large L1 (96 KiB) takes deeper slabs.
        assert_eq!(pair(12, 32, caches(96, 2048)).kc, 512);
        let t = pair(12, 32, caches(4, 4));
        assert!(t.kc >= 256 && t.nc >= 32 && t.mc >= 12);
    }

    #[test]
    fn several_destinations_take_deeper_slabs_where_l1_has_room() {
        let zen5 = caches(48, 1024);
        let plain = pair(12, 32, zen5);
        let fused = plain.for_destinations(12, 32, zen5, SlabRule::PanelPair);
        assert_eq!((fused.kc, fused.nc), (2 * plain.kc, 1024));
        assert!(
            fused.mc < plain.mc,
            "the deeper A block keeps to an eighth of L2"
        );
        assert!(
            12 * fused.kc * 4 <= zen5.l1d / 2,
            "the A micro-panel fits half of L1"
        );
        assert_eq!((fused.mc % 12, fused.nc % 32), (0, 0));
        // Capped at 1024 (where L1 allows: 12×1024 floats need 96 KiB).
        let deep = Blocking { kc: 768, ..plain }.for_destinations(
            12,
            32,
            caches(96, 1024),
            SlabRule::PanelPair,
        );
        assert_eq!(deep.kc, 1024);
        let tiny = caches(4, 4);
        let t = pair(12, 32, tiny).for_destinations(12, 32, tiny, SlabRule::PanelPair);
        assert_eq!(t, pair(12, 32, tiny), "no room in L1: the plain blocks");
        // A 32 KiB L1 has no room for a 512-deep 12-row panel beside the stream.
        let zen4 = caches(32, 1024);
        let plain4 = pair(12, 32, zen4);
        assert_eq!(
            plain4.for_destinations(12, 32, zen4, SlabRule::PanelPair),
            plain4
        );
        // AVX2's 6×16 tile on 48 KiB: plain KC 512; 6×1024 floats is exactly half of L1.
        let avx2 = pair(6, 16, zen5);
        let deep2 = avx2.for_destinations(6, 16, zen5, SlabRule::PanelPair);
        assert_eq!(deep2.kc, 1024);
        assert!(6 * deep2.kc * 4 <= zen5.l1d / 2);
        // Zen 1 (32 KiB L1): 6×640 floats fit half of L1.
        let zen1 = caches(32, 512);
        assert_eq!(
            pair(6, 16, zen1)
                .for_destinations(6, 16, zen1, SlabRule::PanelPair)
                .kc,
            640
        );
    }
}
