//! The kernel registry: every kernel, built-in or plugin, registers through
//! [`register_kernel!`](crate::register_kernel) and is collected by `inventory` at link time.
//!
//! The registry is built once, lists kernels in a stable order (the built-ins in their
//! documented order, then plugins by name), and refuses duplicate names loudly: the
//! duplicate is logged, [`Registry::check`] reports it and [`Registry::get`] of that name
//! fails instead of picking one at random.

use crate::error::{KernelError, Result};
use crate::kernel::MatmulKernel;
use once_cell::sync::Lazy;

/// One registration: plain constant data, as `inventory` wants it.
#[derive(Debug)]
pub struct KernelEntry {
    kernel: &'static dyn MatmulKernel,
}

impl KernelEntry {
    /// Wraps a kernel for registration; use [`register_kernel!`](crate::register_kernel).
    pub const fn new(kernel: &'static dyn MatmulKernel) -> Self {
        KernelEntry { kernel }
    }
}

inventory::collect!(KernelEntry);

/// Registers a kernel value (a `const`-constructible expression) with the global registry.
///
/// ```ignore
/// struct MyKernel;
/// impl poolgrad_kernels::MatmulKernel for MyKernel { /* ... */ }
/// poolgrad_kernels::register_kernel!(MyKernel);
/// ```
///
/// The crate that does this must be linked into the final artifact: reference it
/// (`use my_plugins as _;`) or its registrations vanish.
#[macro_export]
macro_rules! register_kernel {
    ($kernel:expr) => {
        $crate::inventory::submit! {
            $crate::KernelEntry::new(&$kernel)
        }
    };
}

/// Built-in kernels, listed first and in this order.
pub const BUILTIN_ORDER: [&str; 4] = ["naive", "tiled", "packed", "mp"];

/// The set of known kernels.
#[derive(Debug)]
pub struct Registry {
    kernels: Vec<&'static dyn MatmulKernel>,
    duplicates: Vec<String>,
}

impl Registry {
    /// Builds a registry from kernels in any order: sorts them stably and records
    /// duplicate names (the first of each name is kept).
    pub fn from_kernels(mut kernels: Vec<&'static dyn MatmulKernel>) -> Registry {
        let rank = |k: &&'static dyn MatmulKernel| {
            let builtin = BUILTIN_ORDER.iter().position(|n| *n == k.name());
            (builtin.unwrap_or(BUILTIN_ORDER.len()), k.name())
        };
        kernels.sort_by_key(rank);
        let mut duplicates = Vec::new();
        kernels.dedup_by(|later, earlier| {
            let dup = later.name() == earlier.name();
            if dup && !duplicates.iter().any(|d| d == later.name()) {
                duplicates.push(later.name().to_string());
            }
            dup
        });
        for name in &duplicates {
            log::error!("{}", KernelError::DuplicateKernel { name: name.clone() });
        }
        Registry {
            kernels,
            duplicates,
        }
    }

    /// Every registered kernel, in stable order.
    pub fn iter(&self) -> impl Iterator<Item = &'static dyn MatmulKernel> + '_ {
        self.kernels.iter().copied()
    }

    /// The registered names, in stable order.
    pub fn names(&self) -> Vec<&'static str> {
        self.kernels.iter().map(|k| k.name()).collect()
    }

    /// Number of registered kernels.
    pub fn len(&self) -> usize {
        self.kernels.len()
    }

    /// True when nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.kernels.is_empty()
    }

    /// The kernel registered under `name`.
    ///
    /// # Errors
    /// [`KernelError::UnknownKernel`] listing the known names, or
    /// [`KernelError::DuplicateKernel`] when two kernels claim `name`.
    pub fn get(&self, name: &str) -> Result<&'static dyn MatmulKernel> {
        if self.duplicates.iter().any(|d| d == name) {
            return Err(KernelError::DuplicateKernel {
                name: name.to_string(),
            });
        }
        self.kernels
            .iter()
            .copied()
            .find(|k| k.name() == name)
            .ok_or_else(|| KernelError::UnknownKernel {
                name: name.to_string(),
                known: self.names().iter().map(|s| s.to_string()).collect(),
            })
    }

    /// Fails when any name was registered twice.
    ///
    /// # Errors
    /// [`KernelError::DuplicateKernel`] for the first duplicated name.
    pub fn check(&self) -> Result<()> {
        match self.duplicates.first() {
            Some(name) => Err(KernelError::DuplicateKernel { name: name.clone() }),
            None => Ok(()),
        }
    }
}

static REGISTRY: Lazy<Registry> = Lazy::new(|| {
    Registry::from_kernels(
        inventory::iter::<KernelEntry>
            .into_iter()
            .map(|e| e.kernel)
            .collect(),
    )
});

/// The global registry, built on first use from every linked registration.
pub fn registry() -> &'static Registry {
    &REGISTRY
}
