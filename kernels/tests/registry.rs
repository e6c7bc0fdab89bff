//! The kernel registry: built-ins registered in their documented order, a stable order for
//! plugins, duplicate names refused, unknown names answered with the known ones.

use poolgrad_kernels::naive::NaiveKernel;
use poolgrad_kernels::{
    Accum, BUILTIN_ORDER, KernelError, MatMut, MatRef, MatmulKernel, Par, Problem, Registry,
    registry,
};

/// A stand-in kernel with a chosen name (it computes nothing useful).
#[derive(Debug)]
struct Named(&'static str);

impl MatmulKernel for Named {
    fn name(&self) -> &'static str {
        self.0
    }
    fn supports(&self, _p: &Problem) -> bool {
        true
    }
    fn cost_hint(&self, p: &Problem) -> f64 {
        p.flops()
    }
    fn run(&self, _a: MatRef<'_>, _b: MatRef<'_>, _c: MatMut<'_>, _accum: Accum, _par: Par) {}
}

fn leak(name: &'static str) -> &'static dyn MatmulKernel {
    Box::leak(Box::new(Named(name)))
}

#[test]
fn global_registry_lists_the_builtins_first_in_order() {
    let names = registry().names();
    assert!(names.len() >= BUILTIN_ORDER.len(), "{names:?}");
    assert_eq!(&names[..BUILTIN_ORDER.len()], &BUILTIN_ORDER[..]);
    assert_eq!(names, registry().names(), "order is stable across calls");
    assert_eq!(registry().len(), names.len());
    assert!(!registry().is_empty());
    registry()
        .check()
        .expect("no duplicate among the built-ins");
    let iter_names: Vec<_> = registry().iter().map(|k| k.name()).collect();
    assert_eq!(iter_names, names);
}

#[test]
fn get_returns_the_named_kernel() {
    for name in BUILTIN_ORDER {
        assert_eq!(registry().get(name).unwrap().name(), name);
    }
}

#[test]
fn unknown_name_lists_the_known_ones() {
    let err = registry().get("no-such-kernel").unwrap_err();
    match &err {
        KernelError::UnknownKernel { name, known } => {
            assert_eq!(name, "no-such-kernel");
            assert_eq!(known, &registry().names());
        }
        other => panic!("expected UnknownKernel, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("unknown kernel `no-such-kernel`"), "{msg}");
    assert!(msg.contains("naive, tiled, packed, mp"), "{msg}");
}

#[test]
fn order_is_builtins_then_plugins_by_name_whatever_the_input_order() {
    let orders: [[&'static str; 6]; 2] = [
        ["zeta.k", "packed", "alpha.k", "naive", "mp", "tiled"],
        ["tiled", "mp", "naive", "alpha.k", "packed", "zeta.k"],
    ];
    for order in orders {
        let reg = Registry::from_kernels(order.iter().map(|n| leak(n)).collect());
        assert_eq!(
            reg.names(),
            ["naive", "tiled", "packed", "mp", "alpha.k", "zeta.k"]
        );
        reg.check().unwrap();
    }
}

#[test]
fn duplicate_name_is_an_error_from_check_and_get() {
    let first = leak("plugins.dup");
    let second = leak("plugins.dup");
    let reg = Registry::from_kernels(vec![leak("naive"), first, leak("other"), second]);
    let err = reg.check().unwrap_err();
    assert_eq!(
        err,
        KernelError::DuplicateKernel {
            name: "plugins.dup".into()
        }
    );
    let msg = err.to_string();
    assert!(msg.contains("`plugins.dup`"), "{msg}");
    assert!(msg.contains("must be unique"), "{msg}");
    // Getting the contested name fails rather than picking one of the two.
    assert_eq!(reg.get("plugins.dup").unwrap_err(), err);
    // The rest of the registry still works, and the name is listed once.
    assert_eq!(reg.get("other").unwrap().name(), "other");
    assert_eq!(reg.names(), ["naive", "other", "plugins.dup"]);
}

#[test]
fn a_registered_kernel_computes_through_the_registry() {
    let k = registry().get("tiled").unwrap();
    let a = [1.0, 2.0, 3.0, 4.0];
    let b = [5.0, 6.0, 7.0, 8.0];
    let mut c = [0.0f32; 4];
    k.matmul(
        MatRef::row_major(&a, 2, 2).unwrap(),
        MatRef::row_major(&b, 2, 2).unwrap(),
        MatMut::row_major(&mut c, 2, 2).unwrap(),
        Accum::Replace,
    )
    .unwrap();
    assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
    let mut d = [1.0f32; 4];
    NaiveKernel
        .matmul(
            MatRef::row_major(&a, 2, 2).unwrap(),
            MatRef::row_major(&b, 2, 2).unwrap(),
            MatMut::row_major(&mut d, 2, 2).unwrap(),
            Accum::Add,
        )
        .unwrap();
    assert_eq!(d, [20.0, 23.0, 44.0, 51.0]);
}
