//! `Graph::new` uses the process-wide scheduler (`poolgrad_scheduler::global()`), built once
//! from the environment: an unknown `POOLGRAD_FORCE_KERNEL` makes every `Graph::new` of the
//! process fail with the same error listing the registered kernels, while
//! `Graph::with_scheduler` still works. Own test binary: it sets the variable before any
//! graph exists.

use poolgrad_core::{Graph, Tensor};
use poolgrad_scheduler::{Mode, Scheduler, SchedulerConfig};

#[test]
fn unknown_forced_kernel_fails_every_graph_new() {
    // SAFETY: the only test in this binary; no other thread reads the environment.
    unsafe { std::env::set_var("POOLGRAD_FORCE_KERNEL", "no-such-kernel") };
    for _ in 0..2 {
        let msg = Graph::new().unwrap_err().to_string();
        assert!(
            msg.contains("Graph::new") && msg.contains("no-such-kernel") && msg.contains("naive"),
            "{msg}"
        );
    }
    let msg = Graph::with_allocator("pool").unwrap_err().to_string();
    assert!(msg.contains("no-such-kernel"), "{msg}");

    let mut config = SchedulerConfig::new(Mode::Off).unwrap();
    config.forced = Some("naive".to_string());
    let mut g = Graph::with_scheduler(Scheduler::with_config(config).unwrap());
    assert_eq!(g.allocator_name(), "planner");
    let a = g.param(Tensor::ones(&[2, 3]).unwrap());
    let b = g.constant(Tensor::ones(&[3, 2]).unwrap());
    let c = g.matmul(a, b).unwrap();
    assert_eq!(g.value(c).unwrap().data(), &[3.0; 4]);
    assert_eq!(g.scheduler().forced().unwrap().name(), "naive");
}
