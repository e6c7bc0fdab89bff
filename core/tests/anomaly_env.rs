//! `Graph::new` reads the environment: `POOLGRAD_DETECT_ANOMALY` (`1` turns the check on,
//! an invalid value is an error listing the accepted ones) and `POOLGRAD_FORCE_KERNEL` (an
//! unknown kernel is an error listing the registered ones). Own test binary: one test sets
//! variables, the other does not touch the environment.

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

    // SAFETY: as above.
    unsafe { std::env::set_var("POOLGRAD_FORCE_KERNEL", "no-such-kernel") };
    let msg = Graph::new().unwrap_err().to_string();
    assert!(
        msg.contains("Graph::new") && msg.contains("no-such-kernel") && msg.contains("naive"),
        "{msg}"
    );
    // SAFETY: as above.
    unsafe { std::env::set_var("POOLGRAD_FORCE_KERNEL", "naive") };
    let mut g = Graph::new().unwrap();
    let a = g.param(Tensor::ones(&[2, 3]).unwrap());
    let b = g.constant(Tensor::ones(&[3, 2]).unwrap());
    let c = g.matmul(a, b).unwrap();
    assert_eq!(g.value(c).unwrap().data(), &[3.0; 4]);
    // SAFETY: as above.
    unsafe { std::env::remove_var("POOLGRAD_FORCE_KERNEL") };
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
