//! The allocator registry and `POOLGRAD_ALLOCATOR`: built-ins in order, a user allocator
//! registered from outside the crate, unknown names and bad env values as errors.

use poolgrad_memory::{
    ALLOCATOR_ENV, DEFAULT_ALLOCATOR, GradAllocator, GradBuf, GradId, GradStorage, MemError,
    Result, SystemAllocator, allocator_from_lookup, allocator_name_from_lookup, create,
    register_allocator, registry,
};

/// A user's allocator, defined and registered outside poolgrad-memory: the system allocator
/// that also counts its calls.
#[derive(Debug, Default)]
struct CountingAllocator {
    inner: SystemAllocator,
    calls: usize,
}

impl GradAllocator for CountingAllocator {
    fn name(&self) -> &'static str {
        "tests.counting"
    }
    fn storage(&self) -> &GradStorage {
        self.inner.storage()
    }
    fn storage_mut(&mut self) -> &mut GradStorage {
        self.inner.storage_mut()
    }
    fn allocate(&mut self, id: GradId, numel: usize) -> Result<GradBuf> {
        self.calls += 1;
        self.inner.allocate(id, numel)
    }
    fn release(&mut self, buf: GradBuf) -> Result<()> {
        self.inner.release(buf)
    }
}

fn make_counting() -> Box<dyn GradAllocator> {
    Box::new(CountingAllocator::default())
}

register_allocator!(
    "tests.counting",
    "system allocator that counts calls",
    make_counting
);

fn env(value: Option<&str>) -> impl Fn(&str) -> Option<String> {
    let value = value.map(str::to_string);
    move |k| (k == ALLOCATOR_ENV).then(|| value.clone()).flatten()
}

#[test]
fn builtins_first_in_order_then_plugins() {
    assert_eq!(
        registry().names(),
        vec!["system", "pool", "planner", "tests.counting"]
    );
    for e in registry().iter() {
        assert_eq!(e.create().name(), e.name());
        assert!(!e.about().is_empty());
    }
}

#[test]
fn a_user_allocator_registered_from_outside_is_usable() {
    let mut a = create("tests.counting").unwrap();
    let b = a.allocate(GradId(3), 10).unwrap();
    a.slice_mut(&b).unwrap()[9] = 1.5;
    assert_eq!(a.slice(&b).unwrap()[9], 1.5);
    a.release(b).unwrap();
    a.end_step().unwrap();
    assert_eq!(a.stats().allocations, 1);
    let chosen = allocator_from_lookup(env(Some("tests.counting"))).unwrap();
    assert_eq!(chosen.name(), "tests.counting");
}

#[test]
fn unknown_name_lists_the_registered_ones() {
    let e = create("arena").unwrap_err();
    assert_eq!(
        e,
        MemError::UnknownAllocator {
            name: "arena".into(),
            known: vec![
                "system".into(),
                "pool".into(),
                "planner".into(),
                "tests.counting".into()
            ],
        }
    );
    let msg = e.to_string();
    assert!(
        msg.contains("'arena'") && msg.contains("system, pool, planner"),
        "{msg}"
    );
}

#[test]
fn env_selects_the_allocator() {
    assert_eq!(
        allocator_name_from_lookup(env(None)).unwrap(),
        DEFAULT_ALLOCATOR
    );
    for name in ["system", "pool", "planner"] {
        assert_eq!(allocator_name_from_lookup(env(Some(name))).unwrap(), name);
        assert_eq!(allocator_from_lookup(env(Some(name))).unwrap().name(), name);
    }
    assert_eq!(
        allocator_name_from_lookup(env(Some(" pool "))).unwrap(),
        "pool"
    );
}

#[test]
fn invalid_env_value_names_var_value_and_accepted() {
    for bad in ["", "Pool", "planer", "system,pool"] {
        let e = allocator_name_from_lookup(env(Some(bad))).unwrap_err();
        assert_eq!(
            e,
            MemError::InvalidEnv {
                var: "POOLGRAD_ALLOCATOR",
                value: bad.into(),
                accepted: "system|pool|planner|tests.counting".into(),
            }
        );
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!("POOLGRAD_ALLOCATOR='{bad}'")),
            "{msg}"
        );
        assert!(msg.contains("accepted: system|pool|planner"), "{msg}");
        assert!(allocator_from_lookup(env(Some(bad))).is_err());
    }
}
