//! A progress bar on stderr for long runs, shown only when stderr is a terminal (never
//! in scripts, logs or tests).

use std::io::IsTerminal as _;

/// A bar that may be hidden.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    /// A bar counting `what`; hidden when stderr is not a terminal. `quiet` hides it too.
    pub fn new(what: &str, quiet: bool) -> Self {
        let shown = !quiet && std::io::stderr().is_terminal();
        let bar = shown.then(|| {
            let bar = indicatif::ProgressBar::new(0);
            if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
                "{{bar:40}} {{pos}}/{{len}} {what} ({{elapsed}}, {{eta}} left)"
            )) {
                bar.set_style(style);
            }
            bar
        });
        Self { bar }
    }

    /// `done` of `total`.
    pub fn set(&mut self, done: usize, total: usize) {
        if let Some(b) = &self.bar {
            b.set_length(total as u64);
            b.set_position(done as u64);
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}
