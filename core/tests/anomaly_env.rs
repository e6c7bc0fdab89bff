//! `Graph::new` reads the environment: `POOLGRAD_DETECT_ANOMALY` (`1` turns the check on,
//! an invalid value is an error listing the accepted ones) and `POOLGRAD_ALLOCATOR` (an
//! unknown allocator is an error listing the registered ones). Own test binary: one test
//! sets variables, the other does not touch the environment. (`POOLGRAD_FORCE_KERNEL` is
//! read once per process by the global scheduler: see `scheduler_env.rs`.)

use poolgrad_core::{CoreError, Graph, Tensor};

#[test]
fn env_var_turns_the_check_on_and_rejects_bad_values() {
    // SAFETY: the only test in this binary that touches the environment; no other thread
    // reads it meanwhile.
    unsafe { std::env::set_var("POOLGRAD_DETECT_ANOMALY", "1") };
    let mut g = Graph::new().unwrap();
    assert!(g.detect_anomaly());
    let x = g.constant(Tensor::from_vec(vec![-1.0], &[1]).unwrap());
    assert!(matches!(
        g.log(x),
        Err(CoreError::NonFinite { op: "log", .. })
    ));

    // SAFETY: as above.
    unsafe { std::env::set_var("POOLGRAD_DETECT_ANOMALY", "yes") };
    let e = Graph::new().unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("POOLGRAD_DETECT_ANOMALY") && msg.contains("\"yes\"") && msg.contains("0, 1"),
        "{msg}"
    );

    // SAFETY: as above.
    unsafe { std::env::set_var("POOLGRAD_DETECT_ANOMALY", "0") };
    assert!(!Graph::new().unwrap().detect_anomaly());
    // SAFETY: as above.
    unsafe { std::env::remove_var("POOLGRAD_DETECT_ANOMALY") };
    assert!(!Graph::new().unwrap().detect_anomaly());

    // POOLGRAD_ALLOCATOR is read by every Graph::new.
    assert_eq!(Graph::new().unwrap().allocator_name(), "planner");
    for name in ["system", "pool", "planner"] {
        // SAFETY: as above.
        unsafe { std::env::set_var("POOLGRAD_ALLOCATOR", name) };
        assert_eq!(Graph::new().unwrap().allocator_name(), name);
    }
    // SAFETY: as above.
    unsafe { std::env::set_var("POOLGRAD_ALLOCATOR", "arena") };
    let e = Graph::new().unwrap_err();
    assert!(
        matches!(
            e,
            CoreError::InvalidEnv {
                var: "POOLGRAD_ALLOCATOR",
                ..
            }
        ),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("POOLGRAD_ALLOCATOR")
            && msg.contains("arena")
            && msg.contains("system|pool|planner"),
        "{msg}"
    );
    // with_allocator ignores the variable.
    assert_eq!(
        Graph::with_allocator("pool").unwrap().allocator_name(),
        "pool"
    );
    // SAFETY: as above.
    unsafe { std::env::remove_var("POOLGRAD_ALLOCATOR") };
}

/// Graphs and tensors can move to another thread (e.g. a data-loader or a server worker).
#[test]
fn graph_and_tensor_are_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Graph>();
    assert_send::<Tensor>();
    assert_send::<poolgrad_core::nn::Mlp>();
    assert_send::<poolgrad_core::optim::Adam>();
}
