//! `poolgrad memory`: the training loop under each allocator as JSON, and every bad input
//! (model, steps, allocator and kernel names, `POOLGRAD_ALLOCATOR`) is a clear error with a
//! non-zero exit, never a panic.

use std::process::Output;

mod common;

fn poolgrad(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = common::clean_command();
    cmd.args(args);
    common::run(cmd, env)
}

/// Asserts a failure with exit code `code` whose stderr contains every one of `needles`.
fn fails(out: &Output, code: i32, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{n:?} in\n{stderr}");
    }
}

#[test]
fn json_reports_every_allocator() {
    let out = poolgrad(
        &["memory", "--json", "--steps", "3", "--kernels", "packed"],
        &[("POOLGRAD_ALLOCATOR", "pool")],
    );
    common::assert_success(&out);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["model"]["sizes"], serde_json::json!([784, 256, 10]));
    assert_eq!(json["default_allocator"], "pool");
    let runs = json["allocators"].as_array().unwrap();
    let names: Vec<&str> = runs
        .iter()
        .map(|r| r["allocator"].as_str().unwrap())
        .collect();
    assert_eq!(&names[..3], ["system", "pool", "planner"]);
    for r in runs {
        let lb = r["lower_bound_bytes"].as_u64().unwrap();
        assert!(lb > 0);
        assert!(r["peak_reserved_bytes"].as_u64().unwrap() >= lb, "{r}");
        assert_eq!(r["peak_live_bytes"].as_u64().unwrap(), lb, "{r}");
        let live = r["trace"]["live_bytes"].as_array().unwrap();
        assert_eq!(
            live.len(),
            5,
            "five nodes reach a param in MLP-S: matmul and bias_act per layer, the loss"
        );
        assert_eq!(live.iter().filter_map(|v| v.as_u64()).max(), Some(lb));
        assert!(r["breakdown"]["activation_bytes"].as_u64().unwrap() > 0);
        assert!(r["step_ms"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(runs[2]["steady_per_step"]["allocations"], 0.0);
    assert!(runs[0]["steady_per_step"]["allocations"].as_f64().unwrap() > 0.0);
    let rows = json["interaction"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["kernel"], "packed");
    assert_eq!(rows[0]["step_ms"].as_array().unwrap().len(), names.len());
}

#[test]
fn tables_name_the_sections() {
    let out = poolgrad(&["memory", "--steps", "2", "--kernels", "tiled"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    for section in [
        "training loop under each allocator",
        "GradReservedBytes",
        "TempBytes",
        "kernel × allocator",
        "planner*",
    ] {
        assert!(stdout.contains(section), "{section:?} in\n{stdout}");
    }
}

#[test]
fn a_bad_model_is_a_usage_error() {
    let out = poolgrad(&["memory", "--model", "xl"], &[]);
    fails(&out, 2, &["xl", "--model", "s", "m"]);
}

#[test]
fn bad_step_counts_are_usage_errors() {
    for steps in ["0", "1", "ten", "-3", "2.5"] {
        let arg = format!("--steps={steps}");
        let out = poolgrad(&["memory", &arg], &[]);
        fails(&out, 2, &["--steps", "accepted: an integer from 2"]);
    }
}

#[test]
fn a_bad_allocator_env_names_the_variable_and_the_accepted_values() {
    let out = poolgrad(&["memory"], &[("POOLGRAD_ALLOCATOR", "arena")]);
    fails(
        &out,
        1,
        &["POOLGRAD_ALLOCATOR", "arena", "system|pool|planner"],
    );
}

#[test]
fn unknown_allocator_and_kernel_names_list_the_registered_ones() {
    let out = poolgrad(&["memory", "--allocators", "pool,arena"], &[]);
    fails(&out, 1, &["'arena'", "system, pool, planner"]);
    let out = poolgrad(&["memory", "--kernels", "blas"], &[]);
    fails(&out, 1, &["blas", "packed"]);
}
