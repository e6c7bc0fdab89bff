//! `poolgrad autotune`: bad shapes are usage errors (never a panic), good ones calibrate,
//! print JSON and write the cache file named by POOLGRAD_TUNE_CACHE.

use std::path::PathBuf;
use std::process::Output;

mod common;

fn scratch(name: &str) -> PathBuf {
    common::scratch("cli", name)
}

fn poolgrad(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = common::clean_command();
    cmd.args(args)
        .env("POOLGRAD_TUNE_CACHE", scratch("default").join("c.txt"));
    common::run(cmd, env)
}

#[test]
fn bad_shapes_are_usage_errors() {
    for bad in [
        "12x3",
        "0x-1x2",
        "0x1x1",
        "axbxc",
        "1x2x3:rq",
        "1x2x3x4",
        "99999x1x1",
    ] {
        let out = poolgrad(&["autotune", bad], &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert!(
            stderr.contains("bad shape") && stderr.contains("MxNxK"),
            "{bad}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{bad}: {stderr}");
    }
}

#[test]
fn bad_environment_is_an_error_naming_the_variable() {
    let out = poolgrad(&["autotune", "4x4x4"], &[("POOLGRAD_AUTOTUNE", "fast")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("POOLGRAD_AUTOTUNE") && stderr.contains("off|cached|quick|full"),
        "{stderr}"
    );

    let out = poolgrad(&["autotune", "4x4x4"], &[("POOLGRAD_FORCE_KERNEL", "nope")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("nope") && stderr.contains("naive") && stderr.contains("tiled"),
        "{stderr}"
    );
}

#[test]
fn autotune_calibrates_prints_json_and_writes_the_cache() {
    let dir = scratch("json");
    let cache = dir.join("sub").join("tune.txt");
    let out = poolgrad(
        &["autotune", "--json", "8x8x8", "16x4x2:crr"],
        &[("POOLGRAD_TUNE_CACHE", cache.to_str().unwrap())],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("[2/2] calibrating 16x4x2:crr"),
        "progress: {stderr}"
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let shapes = json["shapes"].as_array().unwrap();
    assert_eq!(shapes.len(), 2);
    assert_eq!(shapes[1]["shape"], "16x4x2:crr");
    for s in shapes {
        let winner = s["winner"].as_str().unwrap();
        assert!(
            s["timings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["kernel"] == winner)
        );
        assert!(s["check"]["ratio"].as_f64().unwrap() >= 1.0);
    }
    assert_eq!(json["quality"]["shapes"], 2);
    let text = std::fs::read_to_string(&cache).expect("cache written");
    assert!(
        text.starts_with("poolgrad-tune-cache 1\n") && text.ends_with("end 2\n"),
        "{text}"
    );

    // A second run finds the file and reports it as loaded.
    let out = poolgrad(
        &["autotune", "--no-check", "8x8x8"],
        &[("POOLGRAD_TUNE_CACHE", cache.to_str().unwrap())],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(stdout.contains("Loaded { entries: 2"), "{stdout}");
    assert!(
        stdout.contains("8x8x8:rrr") && stdout.contains("winner"),
        "{stdout}"
    );
}
