//! `poolgrad kernels`: every registered kernel, whether it runs on this CPU, its ISA, its
//! cost hint for a sample shape and its description.

use crate::cli::CliResult;
use clap::Args;
use poolgrad::kernels::{Problem, registry};
use poolgrad::scheduler::{format_shape, parse_shape};

/// Options of `poolgrad kernels`.
#[derive(Debug, Args)]
pub struct KernelsArgs {
    /// The sample shape for availability and cost hints: MxNxK or MxNxK:abc (layouts r, c, s).
    #[arg(long, default_value = "256x256x256", value_parser = parse_shape)]
    pub shape: Problem,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Lists the kernels.
pub fn run(args: &KernelsArgs) -> CliResult {
    registry().check()?;
    let p = &args.shape;
    let rows: Vec<(&str, bool, &str, f64, &str)> = registry()
        .iter()
        .map(|k| {
            let available = k.supports(p);
            let hint = if available { k.cost_hint(p) } else { f64::NAN };
            (k.name(), available, k.isa(), hint, k.description())
        })
        .collect();
    if args.json {
        let kernels: Vec<serde_json::Value> = rows
            .iter()
            .map(|(name, available, isa, hint, description)| {
                serde_json::json!({
                    "name": name,
                    "available": available,
                    "isa": isa,
                    "cost_hint_s": if hint.is_finite() { serde_json::json!(hint) } else { serde_json::Value::Null },
                    "description": description,
                })
            })
            .collect();
        let out = serde_json::json!({ "sample_shape": format_shape(p), "kernels": kernels });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "{} registered kernels; availability and cost hint for {}",
        rows.len(),
        format_shape(p)
    );
    println!(
        "{:<22} {:<9} {:<8} {:>12}  description",
        "kernel", "available", "isa", "hint µs"
    );
    for (name, available, isa, hint, description) in rows {
        let hint = if hint.is_finite() {
            format!("{:.1}", hint * 1e6)
        } else {
            "-".into()
        };
        let available = if available { "yes" } else { "no" };
        println!("{name:<22} {available:<9} {isa:<8} {hint:>12}  {description}");
    }
    Ok(())
}
