//! `poolgrad kernels`: lists every registered kernel, as a table and as JSON.

mod common;

fn poolgrad(args: &[&str]) -> std::process::Output {
    let mut cmd = common::clean_command();
    cmd.args(args);
    common::run(cmd, &[])
}

#[test]
fn lists_the_builtin_kernels() {
    let out = poolgrad(&["kernels"]);
    common::assert_success(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for name in ["naive", "tiled", "packed", "mp"] {
        assert!(
            stdout.lines().any(|l| l.starts_with(name)),
            "{name} in\n{stdout}"
        );
    }
    assert!(stdout.contains("256x256x256"), "{stdout}");
}

#[test]
fn json_has_availability_isa_and_hint() {
    let out = poolgrad(&["kernels", "--json", "--shape", "64x10x256:rcr"]);
    common::assert_success(&out);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["sample_shape"], "64x10x256:rcr");
    let kernels = json["kernels"].as_array().unwrap();
    let names: Vec<&str> = kernels
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(&names[..4], ["naive", "tiled", "packed", "mp"]);
    for k in kernels {
        assert!(k["available"].is_boolean() && k["isa"].is_string());
        if k["available"] == true {
            assert!(k["cost_hint_s"].as_f64().unwrap() > 0.0);
        }
    }
}

#[test]
fn a_bad_sample_shape_is_a_usage_error() {
    let out = poolgrad(&["kernels", "--shape", "12x3"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("bad shape") && !stderr.contains("panicked"),
        "{stderr}"
    );
}
