//! The planner: no two simultaneously live buffers overlap, the arena is at least the lower
//! bound and is what the stats report, plans are reused, and misuse is an error.

mod common;

use common::{Rng, Sizes, Tape, random_liveness, run_liveness};
use poolgrad_memory::planner::{align_of, padded};
use poolgrad_memory::{
    GradAllocator, GradId, GradLife, LivenessInfo, MemError, PlannerAllocator, lower_bound_bytes,
    plan_offsets,
};

/// Checks a plan and returns (arena / lower bound, arena / lower bound of the padded sizes):
/// the second isolates placement quality from alignment padding.
fn assert_plan_valid(info: &LivenessInfo) -> (f64, f64) {
    let plan = plan_offsets(info).unwrap();
    let lives = info.lives();
    assert_eq!(plan.placements.len(), lives.len());
    for (l, &(id, off, numel)) in lives.iter().zip(&plan.placements) {
        assert_eq!((l.id, l.numel), (id, numel));
        assert_eq!(off % align_of(numel), 0, "offset {off} not aligned");
        assert!(off + numel <= plan.arena_len, "{id} outside the arena");
    }
    for (a, pa) in lives.iter().zip(&plan.placements) {
        for (b, pb) in lives.iter().zip(&plan.placements) {
            if a.id == b.id || a.numel == 0 || b.numel == 0 || !a.overlaps_in_time(b) {
                continue;
            }
            let disjoint = pa.1 + a.numel <= pb.1 || pb.1 + b.numel <= pa.1;
            assert!(
                disjoint,
                "live {a:?} at {} overlaps {b:?} at {}",
                pa.1, pb.1
            );
        }
    }
    assert!(plan.arena_bytes() >= plan.lower_bound_bytes);
    assert_eq!(plan.lower_bound_bytes, lower_bound_bytes(info));
    let mut padded_info = info.clone();
    padded_info.clear();
    for l in lives {
        let mut p = *l;
        p.numel = padded(l.numel);
        padded_info.push(p).unwrap();
    }
    let padded_lb = padded_info.lower_bound_bytes();
    assert!(plan.arena_bytes() >= padded_lb);
    let placement = if padded_lb == 0 {
        1.0
    } else {
        plan.arena_bytes() as f64 / padded_lb as f64
    };
    (plan.ratio(), placement)
}

#[test]
fn random_plans_never_overlap_live_buffers() {
    let mut rng = Rng::new(0x5eed_0001);
    for sizes in [Sizes::Equal, Sizes::Uniform, Sizes::Wide] {
        let (mut worst, mut sum, trials) = ([0.0f64; 2], [0.0f64; 2], 400);
        for _ in 0..trials {
            let info = random_liveness(&mut rng, sizes);
            let (r, p) = assert_plan_valid(&info);
            worst = [worst[0].max(r), worst[1].max(p)];
            sum = [sum[0] + r, sum[1] + p];
        }
        println!(
            "planner arena / lower bound on {trials} random sets ({sizes:?}): mean {:.3}, worst {:.3}; \
             vs padded lower bound (placement only): mean {:.3}, worst {:.3}",
            sum[0] / trials as f64,
            worst[0],
            sum[1] / trials as f64,
            worst[1]
        );
    }
}

#[test]
fn random_tape_plans_never_overlap() {
    let mut rng = Rng::new(0x5eed_0002);
    for _ in 0..200 {
        let n = rng.range(3, 80);
        assert_plan_valid(&Tape::random(&mut rng, n).liveness());
    }
}

#[test]
fn planner_peak_reserved_is_the_arena_and_at_least_the_lower_bound() {
    let mut rng = Rng::new(0x5eed_0003);
    for k in 0..200 {
        let sizes = [Sizes::Equal, Sizes::Uniform, Sizes::Wide][k % 3];
        let info = random_liveness(&mut rng, sizes);
        let mut alloc = PlannerAllocator::new();
        let stats = run_liveness(&mut alloc, &info);
        let plan = alloc.current_plan().unwrap().clone();
        assert_eq!(stats.peak_reserved_bytes, plan.arena_bytes());
        assert_eq!(stats.reserved_bytes, alloc.arena_len() * 4);
        assert!(stats.peak_reserved_bytes >= stats.lower_bound_bytes);
        assert_eq!(stats.lower_bound_bytes, info.lower_bound_bytes());
        // Released exactly at last use, the live peak is the lower bound itself.
        assert_eq!(stats.peak_live_bytes, stats.lower_bound_bytes);
        assert_eq!(stats.live_bytes, 0);
        assert_eq!(stats.allocations, u64::from(plan.arena_len > 0));
    }
}

#[test]
fn liveness_builder_matches_the_hand_computed_liveness() {
    let mut rng = Rng::new(0x5eed_0004);
    let mut builder = poolgrad_memory::LivenessBuilder::new();
    for k in 0..100 {
        let n = rng.range(3, 60);
        let tape = if k == 0 {
            Tape::mlp(&[8, 16, 4], 2)
        } else {
            Tape::random(&mut rng, n)
        };
        tape.build_liveness(&tape.has_grad(), &mut builder);
        let mut built = builder.finish().unwrap().lives().to_vec();
        let mut want = tape.liveness().lives().to_vec();
        built.sort_by_key(|l| l.id);
        want.sort_by_key(|l| l.id);
        // A kept gradient's last_use is not meaningful; compare the rest.
        for l in built.iter_mut().chain(want.iter_mut()).filter(|l| l.kept) {
            l.last_use = l.first_def;
        }
        assert_eq!(built, want);
    }
}

#[test]
fn lower_bound_by_hand() {
    // a [0,2] 100 elems, b [1,1] 50, c [3,4] 120, p kept from 2 with 10.
    let info = LivenessInfo::from_lives([
        GradLife::temp(0, 100, 0, 2),
        GradLife::temp(1, 50, 1, 1),
        GradLife::temp(2, 120, 3, 4),
        GradLife::kept(3, 10, 2),
    ])
    .unwrap();
    // step 1: 150; step 2: 110; step 3: 130.
    assert_eq!(lower_bound_bytes(&info), 150 * 4);
}

#[test]
fn mlp_plans_are_within_five_percent_of_the_lower_bound() {
    for (layers, batch) in [
        (&[784, 256, 10][..], 64),
        (&[784, 1024, 1024, 10][..], 256),
        (&[32, 64, 64, 64, 8][..], 16),
        (&[100, 100, 100, 100, 100, 100, 100][..], 8),
    ] {
        let info = Tape::mlp(layers, batch).liveness();
        let plan = plan_offsets(&info).unwrap();
        let (_, placement) = assert_plan_valid(&info);
        println!(
            "placement-only ratio {placement:.4}; MLP {layers:?} batch {batch}: arena {} B, lower bound {} B, ratio {:.4} (order {})",
            plan.arena_bytes(),
            plan.lower_bound_bytes,
            plan.ratio(),
            plan.order
        );
        assert!(
            plan.ratio() <= 1.05,
            "ratio {} for {layers:?}",
            plan.ratio()
        );
        assert_plan_valid(&info);
    }
}

#[test]
fn steady_loop_plans_once_and_allocates_once() {
    let tape = Tape::mlp(&[64, 128, 10], 32);
    let mut alloc = PlannerAllocator::new();
    let (_, stats) = common::run_backward(&mut alloc, &tape, 5);
    assert_eq!(alloc.plans_built(), 1);
    assert!(stats.iter().all(|s| s.allocations == 1), "{stats:?}");
    assert!(stats[4].reuses > stats[0].reuses);
    assert_eq!(stats[4].steps, 5);
}

#[test]
fn changed_signature_replans_and_grows_only_when_needed() {
    let mut alloc = PlannerAllocator::new();
    let big = Tape::mlp(&[64, 128, 10], 32).liveness();
    let small = Tape::mlp(&[8, 16, 4], 2).liveness();
    run_liveness(&mut alloc, &big);
    let arena = alloc.arena_len();
    run_liveness(&mut alloc, &small);
    assert_eq!(alloc.plans_built(), 2);
    assert_eq!(alloc.arena_len(), arena, "a smaller plan keeps the arena");
    run_liveness(&mut alloc, &big);
    assert_eq!(alloc.plans_built(), 3);
    assert_eq!(alloc.stats().allocations, 1);
}

#[test]
fn allocate_outside_the_plan_is_an_error() {
    let mut alloc = PlannerAllocator::new();
    assert!(matches!(
        alloc.allocate(GradId(0), 4),
        Err(MemError::NoPlan { .. })
    ));
    let info = LivenessInfo::from_lives([GradLife::temp(0, 4, 0, 1)]).unwrap();
    alloc.plan(&info).unwrap();
    let e = alloc.allocate(GradId(0), 5).unwrap_err();
    assert_eq!(
        e,
        MemError::NotInPlan {
            id: GradId(0),
            numel: 5,
            planned: Some(4)
        }
    );
    assert!(e.to_string().contains("plan holds 4"));
    assert!(matches!(
        alloc.allocate(GradId(9), 4),
        Err(MemError::NotInPlan { planned: None, .. })
    ));
}

#[test]
fn breaking_announced_lifetimes_is_caught() {
    // 0 lives over [0,0] and 1 over [1,1]: the plan lets them share memory.
    let info = LivenessInfo::from_lives([GradLife::temp(0, 64, 0, 0), GradLife::temp(1, 64, 1, 1)])
        .unwrap();
    let mut alloc = PlannerAllocator::new();
    alloc.plan(&info).unwrap();
    assert_eq!(alloc.arena_len(), 64);
    let a = alloc.allocate(GradId(0), 64).unwrap();
    // Not released at its last use: 1's region would alias it.
    assert_eq!(
        alloc.allocate(GradId(1), 64).unwrap_err(),
        MemError::LifetimeViolation {
            id: GradId(1),
            live: GradId(0)
        }
    );
    alloc.release(a).unwrap();
    let b = alloc.allocate(GradId(1), 64).unwrap();
    // Re-planning with a live buffer is refused.
    assert!(matches!(
        alloc.plan(&info),
        Err(MemError::PlanWhileLive { live: 1, .. })
    ));
    alloc.release(b).unwrap();
    alloc.end_step().unwrap();
}

#[test]
fn invalid_liveness_is_an_error() {
    let mut info = LivenessInfo::new();
    assert!(matches!(
        info.push(GradLife::temp(0, 4, 3, 2)),
        Err(MemError::InvalidLiveness { .. })
    ));
    info.push(GradLife::temp(0, 4, 0, 2)).unwrap();
    info.push(GradLife::temp(0, 4, 1, 2)).unwrap();
    let mut alloc = PlannerAllocator::new();
    let e = alloc.plan(&info).unwrap_err();
    assert!(e.to_string().contains("more than once"), "{e}");
}
