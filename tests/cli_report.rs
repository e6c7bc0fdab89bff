//! `poolgrad report --quick`: report.json has its documented shape (README, "report.json
//! schema"), the plots are SVG, and every bad argument or knob is an error, never a panic.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

mod common;

fn scratch(name: &str) -> PathBuf {
    common::scratch("report", name)
}

fn poolgrad(args: &[&str], env: &[(&str, &str)], cache: &Path) -> Output {
    let mut cmd = common::clean_command();
    cmd.args(args)
        .env("POOLGRAD_TUNE_CACHE", cache.join("tune-cache.txt"));
    common::run(cmd, env)
}

fn finite(v: &Value, what: &str) -> f64 {
    let x = v
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"));
    assert!(x.is_finite(), "{what} = {x}");
    x
}

fn array<'a>(v: &'a Value, what: &str) -> &'a Vec<Value> {
    v.as_array()
        .unwrap_or_else(|| panic!("{what} is not an array: {v}"))
}

/// Checks report.json against the schema documented in README.md.
fn check_schema(r: &Value) {
    for key in [
        "schema",
        "version",
        "quick",
        "host",
        "settings",
        "peak",
        "calibration",
        "correctness",
        "benchmark",
        "memory",
        "training",
        "plots",
        "elapsed_s",
    ] {
        assert!(r.get(key).is_some(), "top-level key {key} missing");
    }
    assert_eq!(r["schema"], "poolgrad-report/1");
    assert_eq!(r["quick"], true);

    let host = &r["host"];
    assert!(host["cpu"].is_string() && host["isa"].is_string());
    assert!(finite(&host["threads"], "host.threads") >= 1.0);
    let kernels: Vec<&str> = array(&host["kernels"], "host.kernels")
        .iter()
        .map(|k| k.as_str().expect("kernel names are strings"))
        .collect();
    for builtin in ["naive", "tiled", "packed", "mp"] {
        assert!(kernels.contains(&builtin), "{builtin} not in {kernels:?}");
    }
    assert!(host["allocator"].is_string());

    let s = &r["settings"];
    assert_eq!(s["bench_trials"], 1, "quick mode takes one trial");
    for key in ["bench_warmup", "threads"] {
        finite(&s[key], key);
    }
    for key in ["max_size", "base_threshold", "recurse_min", "packed_block"] {
        finite(&s["mp"][key], key);
    }
    assert!(finite(&r["peak"]["gflops"], "peak.gflops") > 0.0);
    assert!(r["peak"]["source"].is_string());

    let cal = &r["calibration"];
    assert!(cal["mode"].is_string() && cal["cache_found"].is_string());
    finite(&cal["seconds"], "calibration.seconds");
    let shapes = array(&cal["shapes"], "calibration.shapes");
    assert!(!shapes.is_empty());
    for s in shapes {
        assert!(kernels.contains(&s["chosen"].as_str().expect("chosen")));
        let cache = s["cache"].as_str().expect("cache");
        assert!(
            ["hit", "startup", "miss", "forced"].contains(&cache),
            "{cache}"
        );
        for m in array(&s["measured"], "measured") {
            assert!(finite(&m["median_s"], "median_s") > 0.0);
        }
    }

    let corr = &r["correctness"];
    let rows = array(&corr["rows"], "correctness.rows");
    for kernel in &kernels {
        let mine: Vec<&Value> = rows.iter().filter(|r| r["kernel"] == *kernel).collect();
        assert!(!mine.is_empty(), "{kernel} missing from correctness");
        for row in mine {
            finite(&row["n"], "n");
            if row.get("skipped").is_none() {
                let e = finite(&row["max_rel_error"], "max_rel_error");
                assert!(e <= finite(&row["tolerance"], "tolerance"), "{row}");
                assert_eq!(row["ok"], true);
            }
        }
    }
    let mp = array(&corr["mp_bound"]["rows"], "mp_bound.rows");
    assert!(!mp.is_empty());
    for row in mp {
        assert!(finite(&row["normwise_error"], "error") <= finite(&row["bound"], "bound"));
        assert_eq!(row["holds"], true);
        assert!(finite(&row["levels"], "levels") >= 1.0, "a level is forced");
    }
    assert_eq!(corr["all_ok"], true);

    let bench = &r["benchmark"];
    finite(&bench["trials"], "benchmark.trials");
    for shape in array(&bench["shapes"], "benchmark.shapes") {
        assert!(shape["shape"].is_string());
        assert!(finite(&shape["flops"], "flops") > 0.0);
        assert!(kernels.contains(&shape["fastest"].as_str().expect("fastest")));
        assert!(kernels.contains(&shape["scheduler_pick"].as_str().expect("pick")));
        let timed = array(&shape["kernels"], "benchmark kernels");
        assert_eq!(timed.len(), kernels.len(), "every kernel has a row");
        for k in timed {
            if k.get("skipped").is_none() {
                assert!(finite(&k["median_ms"], "median_ms") > 0.0);
                assert!(finite(&k["p95_ms"], "p95") >= finite(&k["median_ms"], "median"));
                assert!(finite(&k["gflops"], "gflops") > 0.0);
                assert!(finite(&k["ratio_to_best"], "ratio") >= 1.0);
            }
        }
    }

    let mem = &r["memory"];
    let runs = array(&mem["allocators"], "memory.allocators");
    let names: Vec<&str> = runs
        .iter()
        .map(|a| a["allocator"].as_str().expect("name"))
        .collect();
    for builtin in ["system", "pool", "planner"] {
        assert!(names.contains(&builtin), "{builtin} not in {names:?}");
    }
    for a in runs {
        let bound = finite(&a["lower_bound_bytes"], "lower_bound_bytes");
        assert!(bound > 0.0);
        assert!(
            finite(&a["peak_reserved_bytes"], "peak_reserved_bytes") >= bound,
            "{a}"
        );
        assert!(
            finite(&a["peak_live_bytes"], "peak_live_bytes") >= bound,
            "{a}"
        );
        finite(&a["steady_per_step"]["allocations"], "allocations");
        finite(&a["breakdown"]["activation_bytes"], "activation_bytes");
        assert!(!array(&a["trace"]["live_bytes"], "trace.live_bytes").is_empty());
    }
    for row in array(&mem["interaction"]["rows"], "memory.interaction.rows") {
        assert!(kernels.contains(&row["kernel"].as_str().expect("kernel")));
        assert_eq!(array(&row["step_ms"], "step_ms").len(), runs.len());
    }

    let t = &r["training"];
    let acc = finite(&t["test_accuracy"], "test_accuracy");
    assert!((0.0..=1.0).contains(&acc), "{acc}");
    assert!(acc > 0.5, "even 3 quick epochs learn digits: {acc}");
    finite(&t["train_seconds"], "train_seconds");
    let epochs = array(&t["epochs"], "training.epochs");
    assert_eq!(
        epochs.len() as u64,
        t["config"]["epochs"].as_u64().expect("epochs")
    );
    for e in epochs {
        assert!(finite(&e["loss"], "loss") >= 0.0);
    }
    assert!(t["config"]["hidden"].is_array() && t["config"]["allocator"].is_string());
    finite(&r["elapsed_s"], "elapsed_s");
}

#[test]
fn quick_report_writes_documented_json_and_svg_plots() {
    let dir = scratch("quick");
    let out = poolgrad(
        &["report", "--quick", "--out", dir.to_str().unwrap()],
        &[],
        &dir,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for section in [
        "== host",
        "== calibration",
        "== correctness",
        "== kernel benchmark",
        "== memory",
        "== forward+backward step breakdown",
        "== kernel × allocator",
        "== training",
    ] {
        assert!(stdout.contains(section), "{section} missing:\n{stdout}");
    }
    // Piped: progress comes as plain lines on stderr.
    assert!(stderr.contains("[benchmark 1/"), "{stderr}");
    let json_path = dir.join("report.json");
    assert!(
        stdout.contains(&json_path.display().to_string()),
        "path printed"
    );
    let text = std::fs::read_to_string(&json_path).expect("report.json written");
    let report: Value = serde_json::from_str(&text).expect("report.json parses");
    check_schema(&report);
    let plots = array(&report["plots"], "plots");
    let names: Vec<&str> = plots.iter().filter_map(Value::as_str).collect();
    assert_eq!(names, ["gflops.svg", "loss.svg", "memory.svg"]);
    for name in plots {
        let svg = std::fs::read_to_string(dir.join(name.as_str().unwrap())).expect("plot");
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{name}"
        );
        assert!(svg.contains("<polyline"), "{name} has lines");
    }
    let gflops = std::fs::read_to_string(dir.join("gflops.svg")).unwrap();
    assert!(gflops.contains("peak") && gflops.contains(">packed<"));
    let memory = std::fs::read_to_string(dir.join("memory.svg")).unwrap();
    assert!(memory.contains("lower bound") && memory.contains("reserved: planner"));
}

#[test]
fn json_flag_prints_the_report_and_knobs_are_honoured() {
    let dir = scratch("json");
    let out = poolgrad(
        &[
            "report",
            "--quick",
            "--json",
            "--out",
            dir.to_str().unwrap(),
        ],
        &[
            ("POOLGRAD_FORCE_KERNEL", "tiled"),
            ("POOLGRAD_PEAK_GFLOPS", "123"),
            ("POOLGRAD_ALLOCATOR", "pool"),
            ("POOLGRAD_PAR", "0"),
        ],
        &dir,
    );
    common::assert_success(&out);
    let report: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON only");
    check_schema(&report);
    assert_eq!(report["calibration"]["forced"], "tiled");
    assert_eq!(report["peak"]["gflops"], 123.0);
    assert_eq!(report["host"]["allocator"], "pool");
    assert_eq!(report["host"]["threads"], 1);
    for shape in report["benchmark"]["shapes"].as_array().unwrap() {
        assert_eq!(shape["scheduler_pick"], "tiled");
    }
}

#[test]
fn bad_arguments_and_knobs_are_errors_not_panics() {
    let dir = scratch("errors");
    // (arguments, environment, exit code, words the error must contain)
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], i32, &'a [&'a str]);
    let cases: [Case; 7] = [
        (
            &["report", "--peak-gflops", "0"],
            &[],
            2,
            &["not a peak", "> 0"],
        ),
        (&["report", "--bogus"], &[], 2, &["--bogus", "Usage"]),
        (
            &["report", "--quick"],
            &[("POOLGRAD_BENCH_TRIALS", "0")],
            1,
            &["POOLGRAD_BENCH_TRIALS", "1 to 1000"],
        ),
        (
            &["report", "--quick"],
            &[("POOLGRAD_BENCH_WARMUP", "x")],
            1,
            &["POOLGRAD_BENCH_WARMUP", "0 to 100"],
        ),
        (
            &["report", "--quick"],
            &[("POOLGRAD_PEAK_GFLOPS", "fast")],
            1,
            &["POOLGRAD_PEAK_GFLOPS", "> 0"],
        ),
        (
            &["report", "--quick"],
            &[("POOLGRAD_ALLOCATOR", "nope")],
            1,
            &["POOLGRAD_ALLOCATOR", "planner"],
        ),
        (
            &["report", "--quick"],
            &[("POOLGRAD_MP_BASE_THRESHOLD", "3")],
            1,
            &["POOLGRAD_MP_BASE_THRESHOLD", "16"],
        ),
    ];
    for (args, env, code, needles) in cases {
        let out = poolgrad(args, env, &dir);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?} {env:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        for needle in needles {
            assert!(
                stderr.contains(needle),
                "{args:?} {env:?}: {needle} not in {stderr}"
            );
        }
    }
    // An output folder that cannot be created (a file is in the way).
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let out = poolgrad(
        &[
            "report",
            "--quick",
            "--out",
            file.join("sub").to_str().unwrap(),
        ],
        &[],
        &dir,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot create the output folder"),
        "{stderr}"
    );
}
