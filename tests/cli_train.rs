//! `poolgrad train`: trains on the digits data or a user's CSV, prints loss per epoch,
//! accuracy and time (or JSON), and turns every bad argument into an error, never a panic.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Output;

mod common;

fn scratch(name: &str) -> PathBuf {
    common::scratch("train", name)
}

fn poolgrad(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = common::clean_command();
    cmd.arg("train").args(args).env("POOLGRAD_AUTOTUNE", "off");
    common::run(cmd, env)
}

#[test]
fn default_run_reaches_98_percent_on_digits() {
    let out = poolgrad(&["--json"], &[]);
    common::assert_success(&out);
    let r: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let acc = r["test_accuracy"].as_f64().unwrap();
    assert!(acc >= 0.98, "default configuration reaches {acc}");
    assert_eq!(r["data"], "digits");
    assert_eq!(r["config"]["optimizer"], "adam");
    assert_eq!(r["config"]["allocator"], "planner");
    let epochs = r["epochs"].as_array().unwrap();
    let first = epochs[0]["loss"].as_f64().unwrap();
    let last = epochs.last().unwrap()["loss"].as_f64().unwrap();
    assert!(last < first / 10.0, "loss falls: {first} -> {last}");
}

#[test]
fn options_are_applied_and_printed() {
    let out = poolgrad(
        &[
            "--hidden",
            "16,8",
            "--epochs",
            "2",
            "--batch",
            "64",
            "--lr",
            "0.05",
            "--optimizer",
            "sgd",
            "--momentum",
            "0.5",
            "--allocator",
            "pool",
            "--seed",
            "3",
            "--test-fraction",
            "0.5",
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    common::assert_success(&out);
    assert!(
        stdout.contains("hidden [16, 8], 2 epochs, batch 64"),
        "{stdout}"
    );
    assert!(stdout.contains("sgd (momentum 0.5)") && stdout.contains("allocator pool"));
    assert!(stdout.contains("(898 train / 899 test rows)"), "{stdout}");
    assert!(stdout.contains("test accuracy"), "{stdout}");
}

#[test]
fn trains_on_a_users_csv() {
    let dir = scratch("csv");
    // Two separable classes in 3 features.
    let mut csv = String::from("# x, y, z, label\n");
    for i in 0..200 {
        let label = i % 2;
        let x = if label == 0 { -1.0 } else { 1.0 } + (i % 7) as f64 * 0.01;
        csv += &format!("{x},{},{},{label}\n", i % 5, 1.0);
    }
    let path = dir.join("two.csv");
    std::fs::write(&path, csv).unwrap();
    let out = poolgrad(
        &["--data", path.to_str().unwrap(), "--epochs", "20", "--json"],
        &[],
    );
    common::assert_success(&out);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["test_rows"], 40);
    assert!(r["test_accuracy"].as_f64().unwrap() > 0.95, "{r}");
}

#[test]
fn bad_arguments_are_errors_naming_what_is_accepted() {
    let dir = scratch("bad");
    let bad_csv = dir.join("bad.csv");
    std::fs::write(&bad_csv, "1,2,0\n1,oops,1\n").unwrap();
    let missing = dir.join("missing.csv");
    // (arguments, environment, exit code, words the error must contain)
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, i32, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (
            vec!["--epochs", "0"],
            vec![],
            2,
            vec!["--epochs", "1..=10000"],
        ),
        (vec!["--batch", "x"], vec![], 2, vec!["--batch"]),
        (vec!["--hidden", "16,0"], vec![], 2, vec!["--hidden"]),
        (
            vec!["--optimizer", "rmsprop"],
            vec![],
            2,
            vec!["adam", "sgd"],
        ),
        (vec!["--lr", "-1"], vec![], 1, vec!["learning rate", "> 0"]),
        (vec!["--lr", "nan"], vec![], 1, vec!["learning rate"]),
        (
            vec!["--momentum", "0.9"],
            vec![],
            1,
            vec!["--optimizer sgd"],
        ),
        (
            vec!["--optimizer", "sgd", "--momentum", "1.5"],
            vec![],
            1,
            vec!["momentum", "0 <= momentum < 1"],
        ),
        (
            vec!["--test-fraction", "1.5"],
            vec![],
            1,
            vec!["test fraction", "(0, 1)"],
        ),
        (
            vec!["--allocator", "arena"],
            vec![],
            1,
            vec!["arena", "planner"],
        ),
        (
            vec![],
            vec![("POOLGRAD_ALLOCATOR", "arena")],
            1,
            vec!["POOLGRAD_ALLOCATOR", "planner"],
        ),
        (
            vec!["--data", bad_csv.to_str().unwrap()],
            vec![],
            1,
            vec!["line 2", "oops"],
        ),
        (
            vec!["--data", missing.to_str().unwrap()],
            vec![],
            1,
            vec!["cannot read", "missing.csv"],
        ),
        (vec!["--seed", "x"], vec![], 2, vec!["--seed"]),
    ];
    for (args, env, code, needles) in cases {
        let out = poolgrad(&args, &env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?} {env:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        for needle in needles {
            assert!(
                stderr.contains(needle),
                "{args:?}: {needle} not in {stderr}"
            );
        }
    }
}
