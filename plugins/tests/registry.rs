//! The inventory linker pitfall: a plugin crate's registrations reach the global registry
//! only when the final artifact references the crate. This test does, and checks.

use poolgrad_kernels::{BUILTIN_ORDER, Problem, registry};
use poolgrad_plugins as _;

#[test]
fn registry_sees_the_plugin_kernels() {
    let names = registry().names();
    assert!(names.contains(&"plugins.small"), "registered: {names:?}");
    // Built-ins first, plugins after them, and no duplicate anywhere.
    assert_eq!(&names[..BUILTIN_ORDER.len()], &BUILTIN_ORDER[..]);
    assert_eq!(names.last(), Some(&"plugins.small"));
    registry().check().unwrap();
    let small = registry().get("plugins.small").unwrap();
    assert_eq!(small.name(), "plugins.small");
    assert!(!small.description().is_empty());
}

#[test]
fn plugin_supports_only_small_or_skinny_row_major_b() {
    let k = registry().get("plugins.small").unwrap();
    assert!(k.supports(&Problem::new(4, 4096, 4096)), "skinny m");
    assert!(k.supports(&Problem::new(2048, 8, 2048)), "skinny n");
    assert!(k.supports(&Problem::new(32, 17, 32)), "small cube");
    assert!(
        !k.supports(&Problem::new(1024, 1024, 3)),
        "tiny k alone: packed wins"
    );
    assert!(
        !k.supports(&Problem::new(48, 48, 48)),
        "packed wins from 48³"
    );
    assert!(
        !k.supports(&Problem::new(512, 512, 512)),
        "big square: packed's job"
    );
    let mut col_major_b = Problem::new(8, 8, 8);
    col_major_b.b = poolgrad_kernels::Layout::ColMajor;
    assert!(!k.supports(&col_major_b), "B must have contiguous rows");
    // Cost grows with the work.
    assert!(k.cost_hint(&Problem::new(8, 512, 512)) > k.cost_hint(&Problem::new(8, 64, 64)));
}
