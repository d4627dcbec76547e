//! Progress bars on stderr for a person watching a terminal; for cron,
//! systemd and CI (stderr not a terminal) a log line every half minute or
//! so instead (done, total, rate, ETA), so a long stage is never silent.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Makes progress bars, or hidden ones when stderr is not a terminal or `--quiet` was given.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    visible: bool,
    /// Without a bar: log progress lines (not with `--quiet`).
    logged: bool,
}

/// How often a bar that cannot be drawn logs a line
/// (`WEAKSIGNAL_PROGRESS_SECONDS` overrides it).
const LOG_EVERY: Duration = Duration::from_secs(30);

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        Progress {
            visible: !quiet && terminal,
            logged: !quiet && !terminal,
        }
    }

    pub fn hidden() -> Progress {
        Progress {
            visible: false,
            logged: false,
        }
    }

    fn bar(&self, len: u64, template: &str, message: &str) -> ProgressBar {
        if !self.visible {
            let bar = ProgressBar::hidden();
            bar.set_length(len);
            if self.logged {
                log_while_running(&bar, message);
            }
            return bar;
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

/// Logs `bar`'s progress every [`LOG_EVERY`] until it is finished or
/// dropped, from a thread of its own (the work never waits for it).
fn log_while_running(bar: &ProgressBar, message: &str) {
    let every = std::env::var("WEAKSIGNAL_PROGRESS_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(LOG_EVERY, Duration::from_secs_f64);
    let weak = bar.downgrade();
    let task = message.to_string();
    let started = std::time::Instant::now();
    let spawned = std::thread::Builder::new()
        .name("progress-log".into())
        .spawn(move || loop {
            let mut waited = Duration::ZERO;
            while waited < every {
                let step = (every - waited).min(Duration::from_millis(200));
                std::thread::sleep(step);
                waited += step;
                match weak.upgrade() {
                    Some(bar) if !bar.is_finished() => {}
                    _ => return,
                }
            }
            let Some(bar) = weak.upgrade() else {
                return;
            };
            let (done, total) = (bar.position(), bar.length().unwrap_or(0));
            let seconds = started.elapsed().as_secs_f64();
            let rate = done as f64 / seconds.max(1e-9);
            let eta = if rate > 0.0 && total > done {
                format!("{:.0} s", (total - done) as f64 / rate)
            } else {
                "-".into()
            };
            tracing::info!(task = %task, done, total, rate = format!("{rate:.1}/s"), eta = %eta, "progress");
        });
    if let Err(e) = spawned {
        tracing::debug!(error = %e, "no progress log thread");
    }
}

/// Peak resident memory of this process (VmHWM), in MB; 0 where /proc is missing.
pub fn peak_rss_mb() -> f64 {
    status_kb("VmHWM:") / 1024.0
}

/// A `/proc/self/status` field in kB; 0 where /proc is missing.
pub fn status_kb(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
}
