//! Progress bars on stderr, shown only to a person watching a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Makes progress bars, or hidden ones when stderr is not a terminal or `--quiet` was given.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    visible: bool,
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        Progress {
            visible: !quiet && std::io::stderr().is_terminal(),
        }
    }

    pub fn hidden() -> Progress {
        Progress { visible: false }
    }

    fn bar(&self, len: u64, template: &str, message: &str) -> ProgressBar {
        if !self.visible {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr_with_hz(8));
        bar.set_style(
            ProgressStyle::with_template(template)
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_message(message.to_string());
        bar.enable_steady_tick(Duration::from_millis(250));
        bar
    }

    /// A bar counting bytes of a file.
    pub fn bytes(&self, len: u64, message: &str) -> ProgressBar {
        self.bar(
            len,
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            message,
        )
    }

    /// A bar counting items.
    pub fn items(&self, len: u64, message: &str) -> ProgressBar {
        self.bar(
            len,
            "{msg} [{bar:30}] {human_pos}/{human_len} {per_sec} eta {eta}",
            message,
        )
    }

    /// A spinner with the elapsed time, for steps whose length is not known
    /// ahead (clustering from a checkpoint takes a second, from scratch minutes).
    pub fn spinner(&self, message: &str) -> ProgressBar {
        if !self.visible {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(8));
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template"),
        );
        bar.set_message(message.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }
}
