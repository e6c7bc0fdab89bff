//! `POOLGRAD_*` parsing through `Settings::from_lookup`: every invalid value is an
//! `InvalidEnv` error naming the variable, the value and the accepted values.

use poolgrad_kernels::{Isa, KernelError, MpSettings, Par, Settings};
use std::collections::HashMap;

fn parse(vars: &[(&str, &str)]) -> Result<Settings, KernelError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::from_lookup(|var| map.get(var).cloned())
}

/// Asserts that `var=value` is refused with a message naming both and containing `accepted`.
fn assert_invalid(var: &'static str, value: &str, accepted: &str) {
    let err = parse(&[(var, value)]).unwrap_err();
    match &err {
        KernelError::InvalidEnv {
            var: v, value: got, ..
        } => {
            assert_eq!(*v, var);
            assert_eq!(got.trim(), value.trim());
        }
        other => panic!("{var}={value:?}: expected InvalidEnv, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains(var), "`{msg}` does not name {var}");
    assert!(
        msg.contains(&format!("{:?}", value.trim())) || msg.contains(value),
        "`{msg}`"
    );
    assert!(msg.contains("accepted"), "`{msg}`");
    assert!(msg.contains(accepted), "`{msg}` lacks `{accepted}`");
}

#[test]
fn defaults_without_any_variable() {
    let s = parse(&[]).unwrap();
    assert_eq!(s.isa, Isa::host_best());
    assert!(s.parallel);
    assert!(s.threads >= 1);
    assert_eq!(s.mp, MpSettings::default());
}

#[test]
fn valid_values_are_parsed() {
    let s = parse(&[
        ("POOLGRAD_ISA", " Scalar "),
        ("POOLGRAD_PAR", "0"),
        ("POOLGRAD_THREADS", "3"),
        ("POOLGRAD_MP_MAX_SIZE", "4096"),
        ("POOLGRAD_MP_BASE_THRESHOLD", "16"),
        ("POOLGRAD_MP_RECURSE_MIN", "32"),
        ("POOLGRAD_MP_PACKED_BLOCK", "8"),
    ])
    .unwrap();
    assert_eq!(s.isa, Isa::Scalar);
    assert!(!s.parallel);
    assert_eq!(s.threads, 3);
    assert_eq!(s.par(), Par::Seq, "POOLGRAD_PAR=0 means serial");
    assert_eq!(
        s.mp,
        MpSettings {
            max_size: 4096,
            base_threshold: 16,
            recurse_min: 32,
            packed_block: 8
        }
    );
    let s = parse(&[("POOLGRAD_PAR", "1"), ("POOLGRAD_THREADS", "2")]).unwrap();
    assert_eq!(s.par(), Par::Rayon(2));
    let s = parse(&[("POOLGRAD_PAR", "1"), ("POOLGRAD_THREADS", "1")]).unwrap();
    assert_eq!(s.par(), Par::Seq, "one thread is serial");
    for isa in Isa::host_levels() {
        assert_eq!(parse(&[("POOLGRAD_ISA", isa.name())]).unwrap().isa, isa);
    }
}

#[test]
fn invalid_isa() {
    for value in ["avx9", "", "sse", "avx2 fma"] {
        assert_invalid("POOLGRAD_ISA", value, "scalar|avx2|avx512|neon");
    }
    // A level this CPU lacks names what it has instead.
    for isa in Isa::ALL.into_iter().filter(|i| !i.host_has()) {
        assert_invalid("POOLGRAD_ISA", isa.name(), "what this CPU has");
    }
}

#[test]
fn invalid_par() {
    for value in ["2", "yes", "true", "", "-1"] {
        assert_invalid("POOLGRAD_PAR", value, "0 (serial) or 1 (parallel)");
    }
}

#[test]
fn invalid_threads() {
    for value in ["0", "-1", "abc", "1025", "", "2.5"] {
        assert_invalid("POOLGRAD_THREADS", value, "an integer from 1 to 1024");
    }
}

#[test]
fn invalid_mp_knobs() {
    let cases: [(&'static str, &str, &str); 8] = [
        ("POOLGRAD_MP_MAX_SIZE", "0", "an integer from 1 to 1048576"),
        (
            "POOLGRAD_MP_MAX_SIZE",
            "big",
            "an integer from 1 to 1048576",
        ),
        (
            "POOLGRAD_MP_BASE_THRESHOLD",
            "15",
            "an integer from 16 to 1048576",
        ),
        (
            "POOLGRAD_MP_BASE_THRESHOLD",
            "1e3",
            "an integer from 16 to 1048576",
        ),
        (
            "POOLGRAD_MP_RECURSE_MIN",
            "31",
            "an integer from 32 to 1048576",
        ),
        (
            "POOLGRAD_MP_RECURSE_MIN",
            "2000000",
            "an integer from 32 to 1048576",
        ),
        (
            "POOLGRAD_MP_PACKED_BLOCK",
            "0",
            "an integer from 1 to 1048576",
        ),
        (
            "POOLGRAD_MP_PACKED_BLOCK",
            "-8",
            "an integer from 1 to 1048576",
        ),
    ];
    for (var, value, accepted) in cases {
        assert_invalid(var, value, accepted);
    }
}

#[test]
fn the_first_invalid_variable_is_reported_even_among_valid_ones() {
    let err = parse(&[
        ("POOLGRAD_ISA", "scalar"),
        ("POOLGRAD_THREADS", "4"),
        ("POOLGRAD_MP_PACKED_BLOCK", "none"),
    ])
    .unwrap_err();
    assert!(
        err.to_string().contains("POOLGRAD_MP_PACKED_BLOCK"),
        "{err}"
    );
}
