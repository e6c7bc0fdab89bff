//! `POOLGRAD_DETECT_ANOMALY` is read by `Graph::new`: `1` turns the check on, an invalid
//! value is an error listing the accepted ones. (Own test binary: it sets the variable.)

use poolgrad_core::{CoreError, Graph, Tensor};

#[test]
fn env_var_turns_the_check_on_and_rejects_bad_values() {
    // SAFETY: the only test in this binary, so no other thread reads the environment.
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
}
