//! The figures, measured on the built-in kernels (ignored by default: timing, not
//! correctness). Run with
//! `cargo test --release -p poolgrad-scheduler --test figures -- --ignored --nocapture`.

use poolgrad_scheduler::{Mode, Scheduler, SchedulerConfig, cache::LoadOutcome, default_shapes};
use std::time::Instant;

#[test]
#[ignore = "timing figures; run explicitly"]
fn cold_calibration_and_warm_start() {
    let dir = std::env::temp_dir().join(format!("poolgrad-figures-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut config = SchedulerConfig::new(Mode::Quick).unwrap();
    config.cache_path = Some(dir.join("tune-cache.txt"));

    let t = Instant::now();
    let cold = Scheduler::with_config(config.clone()).unwrap();
    let cold_s = t.elapsed().as_secs_f64();
    let shapes = default_shapes();
    assert_eq!(cold.entries().len(), shapes.len());

    let t = Instant::now();
    let warm = Scheduler::with_config(config).unwrap();
    let warm_s = t.elapsed().as_secs_f64();
    assert!(
        matches!(warm.load_outcome(), LoadOutcome::Loaded { entries, .. } if *entries == shapes.len())
    );
    for p in &shapes {
        assert_eq!(
            warm.choose(p).unwrap().name(),
            cold.choose(p).unwrap().name()
        );
    }
    println!(
        "default set: {} shapes, {} threads; cold calibration {:.3} s; warm start {:.3} ms",
        shapes.len(),
        cold.config().par.threads(),
        cold_s,
        warm_s * 1e3
    );
    let _ = std::fs::remove_dir_all(&dir);
}
