//! Progress on long steps, on stderr so stdout keeps only tables or JSON: a bar with the
//! current item on a terminal (indicatif), one plain line per item when stderr is piped.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

/// The progress of one section: `total` items, each announced with [`Progress::step`].
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    label: String,
    total: usize,
}

impl Progress {
    /// Starts the progress of a section of `total` items.
    pub fn new(label: &str, total: usize) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total as u64);
            let style = ProgressStyle::with_template(
                "{spinner} {prefix:<12} [{bar:24}] {pos}/{len} {msg} ({elapsed})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(label.to_string());
            bar.enable_steady_tick(std::time::Duration::from_millis(100));
            bar
        });
        Progress {
            bar,
            label: label.to_string(),
            total,
        }
    }

    /// Announces item `index` (0-based), described by `what`.
    pub fn step(&self, index: usize, what: &str) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(index as u64);
                bar.set_message(what.to_string());
            }
            None => eprintln!("[{} {}/{}] {what}", self.label, index + 1, self.total),
        }
    }

    /// Ends the section and clears the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
