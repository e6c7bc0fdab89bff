//! The allocator registry: every allocator, built-in or from outside, registers through
//! [`register_allocator!`](crate::register_allocator) and is collected by `inventory` at link
//! time. Built once; stable order (built-ins first, then others by name); a duplicate name is
//! logged and refused; an unknown name lists the registered ones.

use crate::allocator::GradAllocator;
use crate::error::{MemError, Result};
use once_cell::sync::Lazy;

/// One registration: a name, a one-line description and a constructor.
#[derive(Debug)]
pub struct AllocatorEntry {
    name: &'static str,
    about: &'static str,
    make: fn() -> Box<dyn GradAllocator>,
}

impl AllocatorEntry {
    /// Wraps a constructor for registration; use [`register_allocator!`](crate::register_allocator).
    pub const fn new(
        name: &'static str,
        about: &'static str,
        make: fn() -> Box<dyn GradAllocator>,
    ) -> AllocatorEntry {
        AllocatorEntry { name, about, make }
    }

    /// The registered name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// One line saying what it does.
    pub fn about(&self) -> &'static str {
        self.about
    }

    /// A new allocator of this kind.
    pub fn create(&self) -> Box<dyn GradAllocator> {
        (self.make)()
    }
}

inventory::collect!(AllocatorEntry);

/// Registers an allocator constructor under a name.
///
/// ```ignore
/// fn make() -> Box<dyn poolgrad_memory::GradAllocator> { Box::new(MyAllocator::new()) }
/// poolgrad_memory::register_allocator!("mine", "what it does", make);
/// ```
///
/// The constructed allocator's `name()` must return the same name. The crate that does this
/// must be linked into the final artifact (`use my_plugins as _;`) or its entry vanishes.
#[macro_export]
macro_rules! register_allocator {
    ($name:expr, $about:expr, $make:expr) => {
        $crate::inventory::submit! {
            $crate::AllocatorEntry::new($name, $about, $make)
        }
    };
}

/// Built-in allocators, listed first and in this order.
pub const BUILTIN_ORDER: [&str; 3] = ["system", "pool", "planner"];

/// The environment variable choosing the allocator.
pub const ALLOCATOR_ENV: &str = "POOLGRAD_ALLOCATOR";

/// The allocator used when [`ALLOCATOR_ENV`] is unset.
pub const DEFAULT_ALLOCATOR: &str = "planner";

/// The set of known allocators.
#[derive(Debug)]
pub struct AllocatorRegistry {
    entries: Vec<&'static AllocatorEntry>,
    duplicates: Vec<&'static str>,
}

impl AllocatorRegistry {
    /// Builds a registry from entries in any order: stable sort, duplicates recorded (the
    /// first of each name is kept, and `get` of that name fails).
    pub fn from_entries(mut entries: Vec<&'static AllocatorEntry>) -> AllocatorRegistry {
        entries.sort_by_key(|e| {
            let builtin = BUILTIN_ORDER.iter().position(|n| *n == e.name);
            (builtin.unwrap_or(BUILTIN_ORDER.len()), e.name)
        });
        let mut duplicates: Vec<&'static str> = Vec::new();
        entries.dedup_by(|later, earlier| {
            let dup = later.name == earlier.name;
            if dup && !duplicates.contains(&later.name) {
                duplicates.push(later.name);
            }
            dup
        });
        for name in &duplicates {
            log::error!(
                "{}",
                MemError::DuplicateAllocator {
                    name: name.to_string()
                }
            );
        }
        AllocatorRegistry {
            entries,
            duplicates,
        }
    }

    /// Every registered allocator, in stable order.
    pub fn iter(&self) -> impl Iterator<Item = &'static AllocatorEntry> + '_ {
        self.entries.iter().copied()
    }

    /// The registered names, in stable order.
    pub fn names(&self) -> Vec<&'static str> {
        self.entries.iter().map(|e| e.name).collect()
    }

    /// The entry registered under `name`.
    ///
    /// # Errors
    /// [`MemError::UnknownAllocator`] listing the registered names, or
    /// [`MemError::DuplicateAllocator`].
    pub fn get(&self, name: &str) -> Result<&'static AllocatorEntry> {
        if self.duplicates.contains(&name) {
            return Err(MemError::DuplicateAllocator {
                name: name.to_string(),
            });
        }
        self.iter()
            .find(|e| e.name == name)
            .ok_or_else(|| MemError::UnknownAllocator {
                name: name.to_string(),
                known: self.names().iter().map(|s| s.to_string()).collect(),
            })
    }

    /// A new allocator of the kind registered under `name`.
    ///
    /// # Errors
    /// As [`AllocatorRegistry::get`].
    pub fn create(&self, name: &str) -> Result<Box<dyn GradAllocator>> {
        let alloc = self.get(name)?.create();
        debug_assert_eq!(
            alloc.name(),
            name,
            "allocator registered under another name"
        );
        Ok(alloc)
    }
}

static REGISTRY: Lazy<AllocatorRegistry> = Lazy::new(|| {
    AllocatorRegistry::from_entries(inventory::iter::<AllocatorEntry>.into_iter().collect())
});

/// The global registry, built on first use from every linked registration.
pub fn registry() -> &'static AllocatorRegistry {
    &REGISTRY
}

/// A new allocator registered under `name`.
///
/// # Errors
/// [`MemError::UnknownAllocator`] listing the registered names.
pub fn create(name: &str) -> Result<Box<dyn GradAllocator>> {
    registry().create(name)
}

/// The allocator name chosen by [`ALLOCATOR_ENV`] in a variable lookup (the real
/// environment, or a map in tests); [`DEFAULT_ALLOCATOR`] when unset.
///
/// # Errors
/// [`MemError::InvalidEnv`] naming the variable, its value and the registered names.
pub fn allocator_name_from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<&'static str> {
    match get(ALLOCATOR_ENV) {
        None => Ok(DEFAULT_ALLOCATOR),
        Some(value) => registry()
            .iter()
            .find(|e| e.name == value.trim())
            .map(|e| e.name)
            .ok_or_else(|| MemError::InvalidEnv {
                var: ALLOCATOR_ENV,
                value,
                accepted: registry().names().join("|"),
            }),
    }
}

/// A new allocator chosen by `POOLGRAD_ALLOCATOR` (default [`DEFAULT_ALLOCATOR`]).
///
/// # Errors
/// [`MemError::InvalidEnv`] for a value that names no registered allocator.
pub fn allocator_from_env() -> Result<Box<dyn GradAllocator>> {
    allocator_from_lookup(|k| std::env::var(k).ok())
}

/// As [`allocator_from_env`], from a variable lookup.
///
/// # Errors
/// [`MemError::InvalidEnv`] for a value that names no registered allocator.
pub fn allocator_from_lookup(
    get: impl Fn(&str) -> Option<String>,
) -> Result<Box<dyn GradAllocator>> {
    create(allocator_name_from_lookup(get)?)
}

fn make_system() -> Box<dyn GradAllocator> {
    Box::new(crate::SystemAllocator::new())
}
fn make_pool() -> Box<dyn GradAllocator> {
    Box::new(crate::PoolAllocator::new())
}
fn make_planner() -> Box<dyn GradAllocator> {
    Box::new(crate::PlannerAllocator::new())
}

crate::register_allocator!(
    "system",
    "a fresh allocation per gradient, freed at its last use (baseline)",
    make_system
);
crate::register_allocator!(
    "pool",
    "size-class caching pool: released buffers serve later requests",
    make_pool
);
crate::register_allocator!(
    "planner",
    "liveness plan of offsets into one arena, reused while the tape is unchanged",
    make_planner
);
