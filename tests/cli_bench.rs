//! `poolgrad bench`: chosen sizes, shapes and kernels are timed (table or JSON) and every
//! bad argument is a usage error or an error naming what is accepted, never a panic.

use serde_json::Value;
use std::process::Output;

mod common;

fn poolgrad(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = common::clean_command();
    cmd.arg("bench")
        .args(args)
        .env("POOLGRAD_AUTOTUNE", "off")
        .env("POOLGRAD_BENCH_TRIALS", "2");
    common::run(cmd, env)
}

#[test]
fn selected_sizes_shapes_and_kernels_are_timed() {
    let out = poolgrad(
        &[
            "--sizes",
            "16,24",
            "--shapes",
            "8x40x12:crr",
            "--kernels",
            "packed,tiled",
            "--threads",
            "1",
            "--json",
        ],
        &[],
    );
    common::assert_success(&out);
    let r: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(r["threads"], 1);
    let shapes = r["shapes"].as_array().unwrap();
    let names: Vec<&str> = shapes
        .iter()
        .map(|s| s["shape"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["16x16x16:rrr", "24x24x24:rrr", "8x40x12:crr"]);
    for s in shapes {
        let kernels: Vec<&str> = s["kernels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kernel"].as_str().unwrap())
            .collect();
        assert_eq!(kernels, ["packed", "tiled"]);
        let best = s["kernels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["ratio_to_best"].as_f64().unwrap())
            .fold(f64::INFINITY, f64::min);
        assert_eq!(best, 1.0, "the fastest has ratio 1");
        assert!(s["scheduler_pick"].is_string());
    }
}

#[test]
fn table_output_has_ratio_and_pick_columns() {
    let out = poolgrad(&["--sizes", "32", "--kernels", "naive,packed"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    common::assert_success(&out);
    assert!(
        stdout.contains("GFLOP/s") && stdout.contains("× best"),
        "{stdout}"
    );
    assert!(stdout.contains("scheduler's pick") && stdout.contains("32x32x32:rrr"));
    assert!(stdout.contains("naive") && stdout.contains("packed"));
}

#[test]
fn a_pick_outside_the_timed_kernels_is_marked_not_timed() {
    // The scheduler never picks naive at 32³, so its pick was not among the timed kernels.
    let out = poolgrad(&["--sizes", "32", "--kernels", "naive"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    common::assert_success(&out);
    let summary = stdout
        .lines()
        .rfind(|l| l.starts_with("32x32x32:rrr"))
        .expect("summary row");
    assert!(summary.ends_with("not timed"), "{summary}");
    assert!(!stdout.contains("NaN"), "{stdout}");
}

#[test]
fn bad_arguments_are_errors() {
    // (arguments, environment, exit code, words the error must contain)
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], i32, &'a [&'a str]);
    let cases: [Case; 8] = [
        (&["--sizes", "0"], &[], 2, &["--sizes", "1..=8192"]),
        (&["--sizes", "abc"], &[], 2, &["--sizes"]),
        (&["--shapes", "12x3"], &[], 2, &["bad shape", "MxNxK"]),
        (&["--kernels", "fastest"], &[], 1, &["fastest", "packed"]),
        (&["--threads", "0"], &[], 2, &["--threads", "1..=1024"]),
        (&["--threads", "5000"], &[], 2, &["--threads"]),
        (
            &["--sizes", "8"],
            &[("POOLGRAD_BENCH_TRIALS", "many")],
            1,
            &["POOLGRAD_BENCH_TRIALS"],
        ),
        (
            &["--sizes", "8"],
            &[("POOLGRAD_PAR", "2")],
            1,
            &["POOLGRAD_PAR", "0 (serial) or 1"],
        ),
    ];
    for (args, env, code, needles) in cases {
        let out = poolgrad(args, env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        for needle in needles {
            assert!(
                stderr.contains(needle),
                "{args:?}: {needle} not in {stderr}"
            );
        }
    }
}
