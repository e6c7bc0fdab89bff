//! A second allocator registered under a built-in's name is refused loudly, not picked at
//! random. (Its own test binary, so the duplicate does not disturb other tests.)

use poolgrad_memory::{
    GradAllocator, MemError, PoolAllocator, create, register_allocator, registry,
};

fn make_fake_system() -> Box<dyn GradAllocator> {
    Box::new(PoolAllocator::new())
}

register_allocator!("system", "a second 'system'", make_fake_system);

#[test]
fn duplicate_names_are_an_error() {
    assert_eq!(
        create("system").unwrap_err(),
        MemError::DuplicateAllocator {
            name: "system".into()
        }
    );
    assert_eq!(registry().names(), vec!["system", "pool", "planner"]);
    assert!(create("pool").is_ok());
}
