//! The plugin story end to end: `examples/custom_kernel.rs` is compiled into this test and
//! run, and when cargo has built the example binary (as `cargo test` does), that is run too;
//! both must show the plugin in the registry, calibrated and compared.

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../examples/custom_kernel.rs"]
mod custom_kernel;

use poolgrad::kernels::registry;

fn check_output(text: &str) {
    assert!(text.contains("== registry"), "{text}");
    assert!(
        text.contains("example.row-axpy") && text.contains("<- this example"),
        "the plugin is listed: {text}"
    );
    assert!(
        text.contains("plugins.small"),
        "the plugin crate is linked: {text}"
    );
    assert!(
        text.contains("equals naive on 37x29x41 (C += A·B): true"),
        "{text}"
    );
    assert!(
        text.contains("== calibration") && text.contains("winner"),
        "{text}"
    );
    let table = text
        .split("== comparison")
        .nth(1)
        .expect("comparison table");
    assert!(
        table.contains("example.row-axpy") && table.contains("packed"),
        "{text}"
    );
    assert_eq!(
        table
            .lines()
            .filter(|l| l.contains("x") && l.contains(":rrr"))
            .count(),
        3,
        "one row per shape: {table}"
    );
}

#[test]
fn example_registers_calibrates_and_compares_its_kernel() {
    let mut out = Vec::new();
    custom_kernel::run(&mut out).expect("the example runs");
    check_output(&String::from_utf8(out).unwrap());
    assert!(registry().get("example.row-axpy").is_ok());
}

#[test]
fn built_example_binary_runs_when_present() {
    // target/<profile>/deps/<this test> -> target/<profile>/examples/custom_kernel
    let exe = std::env::current_exe().unwrap();
    let Some(profile_dir) = exe.parent().and_then(|d| d.parent()) else {
        return;
    };
    let example = profile_dir
        .join("examples")
        .join(format!("custom_kernel{}", std::env::consts::EXE_SUFFIX));
    if !example.exists() {
        eprintln!(
            "{} not built in this run; the in-process test covers it",
            example.display()
        );
        return;
    }
    let out = std::process::Command::new(&example).output().expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    check_output(&String::from_utf8_lossy(&out.stdout));
}
