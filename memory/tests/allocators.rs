//! The three built-in allocators: what each allocates and reuses, identical results from a
//! simulated backward, and every documented misuse as an error.

mod common;

use common::{Rng, Sizes, Tape, random_liveness, run_backward, run_liveness};
use poolgrad_memory::pool::size_class;
use poolgrad_memory::{
    BUILTIN_ORDER, GradAllocator, GradId, GradLife, LivenessInfo, MemError, PlannerAllocator,
    PoolAllocator, SystemAllocator, create,
};

fn all() -> Vec<Box<dyn GradAllocator>> {
    BUILTIN_ORDER.iter().map(|n| create(n).unwrap()).collect()
}

#[test]
fn simulated_backward_is_bit_identical_across_allocators() {
    let mut rng = Rng::new(0x5eed_0101);
    let mut tapes: Vec<Tape> = (0..60)
        .map(|_| {
            let n = rng.range(3, 60);
            Tape::random(&mut rng, n)
        })
        .collect();
    tapes.push(Tape::mlp(&[64, 128, 10], 16));
    for tape in &tapes {
        let results: Vec<_> = all()
            .iter_mut()
            .map(|a| run_backward(a.as_mut(), tape, 2).0)
            .collect();
        assert!(!results[0].is_empty());
        for (name, r) in BUILTIN_ORDER.iter().zip(&results) {
            let same = r.len() == results[0].len()
                && r.iter().zip(&results[0]).all(|((i, a), (j, b))| {
                    i == j && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
                });
            assert!(same, "{name} differs from system on {tape:?}");
        }
    }
}

#[test]
fn every_allocator_reports_live_peak_equal_to_the_lower_bound() {
    let mut rng = Rng::new(0x5eed_0102);
    for _ in 0..100 {
        let info = random_liveness(&mut rng, Sizes::Uniform);
        for mut a in all() {
            let s = run_liveness(a.as_mut(), &info);
            assert_eq!(
                s.lower_bound_bytes,
                info.lower_bound_bytes(),
                "{}",
                a.name()
            );
            assert_eq!(s.peak_live_bytes, s.lower_bound_bytes, "{}", a.name());
            assert!(s.peak_reserved_bytes >= s.lower_bound_bytes, "{}", a.name());
            assert!(s.granted_bytes >= s.requested_bytes, "{}", a.name());
            assert_eq!(s.live_bytes, 0);
        }
    }
}

#[test]
fn system_allocates_every_gradient_every_step() {
    let tape = Tape::mlp(&[32, 64, 10], 8);
    let grads = tape.liveness().lives().len() as u64;
    let mut alloc = SystemAllocator::new();
    let (_, stats) = run_backward(&mut alloc, &tape, 3);
    for (k, s) in stats.iter().enumerate() {
        assert_eq!(s.allocations, grads * (k as u64 + 1));
        assert_eq!(s.reuses, 0);
        assert_eq!(s.reserved_bytes, 0, "everything freed after the step");
        assert_eq!(s.requested_bytes, s.granted_bytes);
    }
}

#[test]
fn pool_reuses_and_stops_allocating_in_a_steady_loop() {
    let tape = Tape::mlp(&[784, 256, 10], 64);
    let mut alloc = PoolAllocator::new();
    let (_, stats) = run_backward(&mut alloc, &tape, 4);
    assert!(stats[0].allocations > 0);
    assert!(stats[3].reuses > 0);
    assert_eq!(stats[1].allocations, stats[3].allocations, "{stats:?}");
    assert!(stats[3].reuses > stats[1].reuses);
    assert_eq!(alloc.cached_bytes(), stats[3].reserved_bytes);
    let ratio = stats[3].reserved_over_lower_bound().unwrap();
    println!(
        "pool on MLP-S: peak reserved / lower bound {ratio:.3}, rounding {:.3}",
        stats[3].granted_bytes as f64 / stats[3].requested_bytes as f64
    );
    alloc.reset_peaks();
    assert_eq!(alloc.stats().peak_live_bytes, 0);
    assert_eq!(alloc.stats().peak_reserved_bytes, stats[3].reserved_bytes);
    alloc.trim();
    assert_eq!(alloc.stats().reserved_bytes, 0);
    assert_eq!(alloc.cached_bytes(), 0);
}

#[test]
fn pool_size_classes_round_up_by_less_than_a_quarter() {
    let mut last = size_class(0);
    for n in 0..5000usize {
        let (class, len) = size_class(n);
        assert!(len >= n);
        assert!(n <= 16 || (len - n) * 4 < n, "{n} -> {len}");
        assert!(class >= last.0 && len >= last.1, "classes grow with size");
        assert_eq!(class == last.0, len == last.1, "one length per class");
        last = (class, len);
    }
    let mut pool = PoolAllocator::new();
    let b = pool.allocate(GradId(0), 17).unwrap();
    assert_eq!(b.len(), 17);
    assert_eq!(pool.stats().requested_bytes, 17 * 4);
    assert_eq!(pool.stats().granted_bytes, 20 * 4);
    assert_eq!(pool.stats().reserved_bytes, 20 * 4);
}

#[test]
fn reused_buffers_come_back_zeroed() {
    for mut a in all() {
        let info = LivenessInfo::from_lives([GradLife::temp(0, 100, 0, 0)]).unwrap();
        for _ in 0..2 {
            a.plan(&info).unwrap();
            let b = a.allocate(GradId(0), 100).unwrap();
            assert!(
                a.slice(&b).unwrap().iter().all(|&v| v == 0.0),
                "{}",
                a.name()
            );
            a.slice_mut(&b).unwrap().fill(7.0);
            a.release(b).unwrap();
            a.end_step().unwrap();
        }
    }
}

#[test]
fn allocate_for_overwrite_skips_the_memset_but_counts_the_same() {
    for mut a in all() {
        let info = LivenessInfo::from_lives([GradLife::temp(0, 100, 0, 0)]).unwrap();
        for step in 0..3 {
            a.plan(&info).unwrap();
            let b = a.allocate_for_overwrite(GradId(0), 100).unwrap();
            let data = a.slice(&b).unwrap();
            assert_eq!(data.len(), 100);
            // pool and planner hand the released buffer back as it was; system's is new.
            if step > 0 && a.name() != "system" {
                assert!(data.iter().all(|&v| v == 7.0), "{}", a.name());
            }
            a.slice_mut(&b).unwrap().fill(7.0);
            a.release(b).unwrap();
            a.end_step().unwrap();
        }
        let s = a.stats();
        assert_eq!((s.requested_bytes, s.live_bytes, s.steps), (1200, 0, 3));
        let fresh = if a.name() == "system" { 3 } else { 1 };
        assert_eq!(s.allocations, fresh, "{}", a.name());
        // A plain allocate still zeroes.
        a.plan(&info).unwrap();
        let b = a.allocate(GradId(0), 100).unwrap();
        assert!(
            a.slice(&b).unwrap().iter().all(|&v| v == 0.0),
            "{}",
            a.name()
        );
        a.release(b).unwrap();
        a.end_step().unwrap();
    }
}

fn one_grad(a: &mut dyn GradAllocator) {
    let info = LivenessInfo::from_lives([
        GradLife::temp(0, 8, 0, 1),
        GradLife::temp(1, 8, 0, 1),
        GradLife::temp(2, 8, 0, 0),
    ])
    .unwrap();
    a.plan(&info).unwrap();
}

#[test]
fn double_release_is_an_error() {
    for mut a in all() {
        one_grad(a.as_mut());
        let b = a.allocate(GradId(0), 8).unwrap();
        a.release(b).unwrap();
        let e = a.release(b).unwrap_err();
        assert!(matches!(e, MemError::NotLive { id: GradId(0), .. }), "{e}");
        assert!(e.to_string().contains("released twice"), "{e}");
        // The handle is dead for data access too.
        assert!(a.slice(&b).is_err());
        a.end_step().unwrap();
    }
}

#[test]
fn stale_and_foreign_handles_are_errors() {
    for mut a in all() {
        one_grad(a.as_mut());
        let old = a.allocate(GradId(0), 8).unwrap();
        a.release(old).unwrap();
        let new = a.allocate(GradId(0), 8).unwrap();
        assert!(matches!(a.slice(&old), Err(MemError::StaleHandle { .. })));
        assert!(matches!(a.release(old), Err(MemError::StaleHandle { .. })));
        let mut other = create(a.name()).unwrap();
        one_grad(other.as_mut());
        assert!(matches!(
            other.release(new),
            Err(MemError::ForeignHandle { .. })
        ));
        assert!(matches!(
            other.slice_mut(&new),
            Err(MemError::ForeignHandle { .. })
        ));
        a.release(new).unwrap();
        a.end_step().unwrap();
    }
}

#[test]
fn never_released_is_reported_at_end_step_and_recovered() {
    for mut a in all() {
        one_grad(a.as_mut());
        let _kept = a.allocate(GradId(1), 8).unwrap();
        let e = a.end_step().unwrap_err();
        assert_eq!(
            e,
            MemError::Leaked {
                allocator: a.name().to_string(),
                ids: vec![GradId(1)]
            }
        );
        assert_eq!(a.stats().live_bytes, 0);
        // Usable again.
        one_grad(a.as_mut());
        let b = a.allocate(GradId(1), 8).unwrap();
        a.release(b).unwrap();
        a.end_step().unwrap();
    }
}

#[test]
fn allocating_a_live_gradient_twice_is_an_error() {
    for mut a in all() {
        one_grad(a.as_mut());
        let b = a.allocate(GradId(0), 8).unwrap();
        assert!(matches!(
            a.allocate(GradId(0), 8),
            Err(MemError::AlreadyLive { .. })
        ));
        a.release(b).unwrap();
        a.end_step().unwrap();
        assert_eq!(a.stats().reserved_bytes > 0, a.name() != "system");
    }
}

#[test]
fn split_mut_gives_disjoint_buffers_and_refuses_aliases() {
    for mut a in all() {
        one_grad(a.as_mut());
        let x = a.allocate(GradId(0), 8).unwrap();
        let y = a.allocate(GradId(1), 8).unwrap();
        let z = a.allocate(GradId(2), 8).unwrap();
        a.slice_mut(&x).unwrap().fill(2.0);
        {
            let [dz, dc, dy] = a.split_mut([&z, &x, &y]).unwrap();
            for i in 0..8 {
                dy[i] += 3.0 * dc[i];
                dz[i] -= dc[i];
            }
        }
        assert_eq!(a.slice(&y).unwrap(), &[6.0; 8]);
        assert_eq!(a.slice(&z).unwrap(), &[-2.0; 8]);
        assert_eq!(a.slice(&x).unwrap(), &[2.0; 8]);
        let e = a.split_mut([&x, &y, &x]).unwrap_err();
        assert_eq!(
            e,
            MemError::Overlap {
                a: GradId(0),
                b: GradId(0)
            }
        );
        for b in [x, y, z] {
            a.release(b).unwrap();
        }
        assert!(a.split_mut([&x]).is_err());
        a.end_step().unwrap();
    }
}

#[test]
fn zero_sized_gradients_work() {
    for mut a in all() {
        let info =
            LivenessInfo::from_lives([GradLife::temp(0, 0, 0, 0), GradLife::temp(1, 4, 0, 0)])
                .unwrap();
        a.plan(&info).unwrap();
        let e = a.allocate(GradId(0), 0).unwrap();
        let f = a.allocate(GradId(1), 4).unwrap();
        let [es, fs] = a.split_mut([&e, &f]).unwrap();
        assert!(es.is_empty());
        assert_eq!(fs.len(), 4);
        a.release(e).unwrap();
        a.release(f).unwrap();
        a.end_step().unwrap();
    }
}

#[test]
fn planner_steady_loop_is_allocation_free_while_others_are_not() {
    let tape = Tape::mlp(&[784, 1024, 1024, 10], 256);
    let mut report = Vec::new();
    for mut a in all() {
        let (_, stats) = run_backward(a.as_mut(), &tape, 3);
        let per_step = stats[2].allocations - stats[1].allocations;
        report.push(format!(
            "{}: allocations/steady step {per_step}, reuses/step {}, peak reserved/lower bound {:.3}",
            a.name(),
            stats[2].reuses - stats[1].reuses,
            stats[2].reserved_over_lower_bound().unwrap()
        ));
        match a.name() {
            "planner" => {
                assert_eq!(per_step, 0);
                assert!(stats[2].reserved_over_lower_bound().unwrap() <= 1.05);
            }
            "pool" => assert_eq!(per_step, 0),
            _ => assert!(per_step > 0),
        }
    }
    println!("MLP-M simulated backward:\n  {}", report.join("\n  "));
}

#[test]
fn planner_is_the_planner() {
    let a = create("planner").unwrap();
    assert_eq!(a.name(), "planner");
    let p = PlannerAllocator::new();
    assert!(p.current_plan().is_none());
    assert_eq!(p.arena_len(), 0);
}

/// Time per simulated MLP-M backward step (memory traffic plus a light accumulate), for the
/// report; ignored by default because timings are not assertions. Run with
/// `cargo test --release -p poolgrad-memory --test allocators -- --ignored --nocapture`.
#[test]
#[ignore]
fn time_simulated_backward_per_allocator() {
    let tape = Tape::mlp(&[784, 1024, 1024, 10], 256);
    let has = tape.has_grad();
    for name in BUILTIN_ORDER {
        let mut a = create(name).unwrap();
        let mut builder = poolgrad_memory::LivenessBuilder::new();
        let mut bufs = vec![None; tape.nodes.len()];
        let mut grads: Vec<Vec<f32>> = tape.nodes.iter().map(|n| vec![0.0; n.numel]).collect();
        let mut times: Vec<f64> = (0..30)
            .map(|_| {
                let t = std::time::Instant::now();
                common::lean_step(a.as_mut(), &tape, &has, &mut builder, &mut bufs, &mut grads);
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!(
            "{name}: median {:.3} ms per simulated MLP-M backward step",
            times[15]
        );
    }
}
