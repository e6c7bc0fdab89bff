//! What a cache file is valid for: CPU, ISA, threads, crate version and kernel set.

use poolgrad_kernels::MatmulKernel;

/// The identity a cache file's header records; any difference invalidates the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    /// `poolgrad-scheduler`'s version.
    pub version: String,
    /// CPU vendor and model plus a hash of its feature flags (see [`cpu_id`]).
    pub cpu: String,
    /// The ISA the kernels use (`settings().isa`, capped by `POOLGRAD_ISA`).
    pub isa: String,
    /// Threads the kernels may use.
    pub threads: usize,
    /// Registered kernel names, in registry order.
    pub kernels: Vec<String>,
}

impl Fingerprint {
    /// This host and build, for these candidate kernels.
    pub fn host(isa: &str, threads: usize, kernels: &[&'static dyn MatmulKernel]) -> Fingerprint {
        Fingerprint {
            version: env!("CARGO_PKG_VERSION").to_string(),
            cpu: cpu_id(),
            isa: isa.to_string(),
            threads,
            kernels: kernels.iter().map(|k| k.name().to_string()).collect(),
        }
    }
}

/// `vendor; model; flags=<64-bit FNV-1a of the feature flag line>` from `/proc/cpuinfo`
/// (x86 `vendor_id`/`model name`/`flags`, aarch64 `CPU implementer`/`CPU part`/`Features`),
/// or the architecture name where that file is missing. Computed once per process.
pub fn cpu_id() -> String {
    static CPU: once_cell::sync::Lazy<String> = once_cell::sync::Lazy::new(|| {
        let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        cpu_id_from(&info)
    });
    CPU.clone()
}

/// [`cpu_id`] from the text of a `/proc/cpuinfo` (only its first processor is read).
pub fn cpu_id_from(cpuinfo: &str) -> String {
    // The first processor's block first, then the whole text (aarch64 lists some fields once).
    let first = cpuinfo.split("\n\n").next().unwrap_or("");
    let field = |names: &[&str]| {
        first.lines().chain(cpuinfo.lines()).find_map(|l| {
            let (key, value) = l.split_once(':')?;
            names
                .contains(&key.trim())
                .then(|| value.split_whitespace().collect::<Vec<_>>().join(" "))
        })
    };
    let vendor = field(&["vendor_id", "CPU implementer"]).unwrap_or_else(|| "unknown".into());
    let model = field(&["model name", "CPU part"]).unwrap_or_else(|| "unknown".into());
    let flags = field(&["flags", "Features"]).unwrap_or_default();
    format!(
        "{}; {vendor}; {model}; flags={:016x}",
        std::env::consts::ARCH,
        fnv1a(flags.as_bytes())
    )
}

/// 64-bit FNV-1a: a short, stable digest (not for security).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_id_reads_vendor_model_and_hashes_flags() {
        let info = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Xeon  X\nflags\t\t: fpu avx2\n\nprocessor\t: 1\nflags\t: other\n";
        let id = cpu_id_from(info);
        assert!(id.contains("GenuineIntel; Xeon X; flags="), "{id}");
        let changed = cpu_id_from(&info.replace("avx2", "avx512f"));
        assert_ne!(id, changed, "a changed flag changes the id");
        assert!(cpu_id_from("").contains("unknown"));
    }
}
