//! Shared by the CLI tests: the `poolgrad` binary under a clean environment, and scratch
//! folders. Every `POOLGRAD_*` variable of the calling environment is removed, so a knob
//! set in a developer's shell never changes what a test sees; a test sets what it needs.
#![allow(dead_code)] // each test binary uses a part

use std::path::PathBuf;
use std::process::{Command, Output};

/// The binary with no `POOLGRAD_*` variable inherited.
pub fn clean_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_poolgrad"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("POOLGRAD_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Sets `env` on `cmd`, runs it and collects its output.
pub fn run(mut cmd: Command, env: &[(&str, &str)]) -> Output {
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the binary runs")
}

/// A fresh, empty folder unique to this test process, `tag` and `name`.
pub fn scratch(tag: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("poolgrad-{tag}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir is writable");
    dir
}

/// Asserts that the command exited with status 0, showing its stderr when it did not.
pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}; stderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}
