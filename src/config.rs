//! `config.toml`: the settings of one environment (where data lives, import
//! limits, index tuning). What a pipeline does lives in `pipelines/*.toml`;
//! how one run behaves lives in command-line flags.
//!
//! Every key is optional. An unknown key is an error that names it, because a
//! misspelt limit silently falling back to its default is worse than a stop.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the store, index and every derived table live. Relative paths are
    /// resolved against the directory of the configuration file.
    pub data_dir: PathBuf,
    pub import: ImportConfig,
    pub index: IndexConfig,
    pub model: ModelConfig,
    pub morphology: MorphologyConfig,
    pub taxonomies: TaxonomiesConfig,
    pub topics: TopicsConfig,
    pub signals: SignalsConfig,
    pub crawler: CrawlerConfig,
    pub serve: ServeConfig,
    pub alerts: AlertsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("data"),
            import: ImportConfig::default(),
            index: IndexConfig::default(),
            model: ModelConfig::default(),
            morphology: MorphologyConfig::default(),
            taxonomies: TaxonomiesConfig::default(),
            topics: TopicsConfig::default(),
            signals: SignalsConfig::default(),
            crawler: CrawlerConfig::default(),
            serve: ServeConfig::default(),
            alerts: AlertsConfig::default(),
        }
    }
}

/// Limits and defaults applied to every imported or collected document.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportConfig {
    /// Rows written per store transaction when not `--strict`.
    pub batch_size: usize,
    /// A longer title rejects the row.
    pub max_title_bytes: usize,
    /// A longer text rejects the row.
    pub max_text_bytes: usize,
    /// A longer line (JSONL) or record (CSV) rejects the row without reading it all.
    pub max_record_bytes: usize,
    /// Publication dates further than this in the future are rejected.
    pub max_future_hours: i64,
    /// The languages (ISO 639-1) that language detection may choose from.
    /// A short list is faster and far more accurate on headlines.
    pub detect_languages: Vec<String>,
}

impl Default for ImportConfig {
    fn default() -> Self {
        ImportConfig {
            batch_size: 50_000,
            max_title_bytes: 4 * 1024,
            max_text_bytes: 2 * 1024 * 1024,
            max_record_bytes: 64 * 1024 * 1024,
            max_future_hours: 24,
            detect_languages: vec!["fi".into(), "en".into(), "sv".into()],
        }
    }
}

/// Watches and their alerts (see `crate::alerts`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// A concept watch matches a signal whose recent documents' mean vector
    /// has at least this cosine to the concept (embedded as a query).
    pub concept_threshold: f32,
    /// A query watch matches a signal when at least this share of its
    /// recent documents match the query (and at least one does).
    pub query_share: f64,
    /// Runs a failing delivery is retried in before it is dead (listed by
    /// `weaksignal alerts --dead`).
    pub max_attempts: u32,
    /// Where alerts go; each is a `kind` (`atom`, `webhook`, `email`).
    pub channels: Vec<ChannelConfig>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            concept_threshold: 0.83,
            query_share: 0.2,
            max_attempts: 5,
            channels: vec![ChannelConfig::Atom {
                name: "atom".into(),
                path: PathBuf::from("alerts.xml"),
                entries: 100,
            }],
        }
    }
}

/// One alert channel.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChannelConfig {
    /// An Atom feed of the newest alerts, rewritten after every run.
    Atom {
        #[serde(default = "default_atom_name")]
        name: String,
        /// Relative to the data directory.
        #[serde(default = "default_atom_path")]
        path: PathBuf,
        #[serde(default = "default_atom_entries")]
        entries: usize,
    },
    /// A JSON POST per alert, signed with HMAC-SHA256 of the body.
    Webhook {
        name: String,
        url: String,
        /// The environment variable that holds the signing secret (the
        /// secret itself stays out of config files); unset: unsigned.
        #[serde(default)]
        secret_env: Option<String>,
        #[serde(default = "default_webhook_timeout")]
        timeout_seconds: f64,
        /// Tries within one run, with doubling back-off from `backoff_seconds`.
        #[serde(default = "default_webhook_tries")]
        tries: u32,
        #[serde(default = "default_webhook_backoff")]
        backoff_seconds: f64,
        /// `json` (our alert), or `slack` (`{"text": ...}`, which Slack and
        /// Teams incoming webhooks accept).
        #[serde(default)]
        format: WebhookFormat,
    },
    /// One e-mail per run with every alert the channel has not delivered,
    /// over SMTP (STARTTLS by default), in plain text and HTML.
    Email {
        name: String,
        host: String,
        #[serde(default = "default_smtp_port")]
        port: u16,
        #[serde(default)]
        security: SmtpSecurity,
        /// The sender, `Name <address>` or `address`.
        from: String,
        /// The recipients.
        to: Vec<String>,
        /// The environment variables that hold the SMTP login (secrets stay
        /// out of config files); unset: no AUTH.
        #[serde(default)]
        username_env: Option<String>,
        #[serde(default)]
        password_env: Option<String>,
        /// A PEM file of an extra certificate authority to trust (an
        /// organisation's own), besides the built-in web roots. Relative to
        /// the config file.
        #[serde(default)]
        ca_file: Option<PathBuf>,
        #[serde(default = "default_email_subject")]
        subject: String,
        #[serde(default = "default_webhook_timeout")]
        timeout_seconds: f64,
        /// Tries within one run, with doubling back-off from `backoff_seconds`.
        #[serde(default = "default_webhook_tries")]
        tries: u32,
        #[serde(default = "default_webhook_backoff")]
        backoff_seconds: f64,
    },
}

/// How an e-mail channel secures its SMTP connection.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Plain connection upgraded by STARTTLS, which the server must offer (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: allowed only to a loopback host (a local relay).
    None,
}

fn default_smtp_port() -> u16 {
    587
}
fn default_email_subject() -> String {
    "weaksignal alerts".into()
}

fn default_atom_name() -> String {
    "atom".into()
}
fn default_atom_path() -> PathBuf {
    PathBuf::from("alerts.xml")
}
fn default_atom_entries() -> usize {
    100
}
fn default_webhook_timeout() -> f64 {
    10.0
}
fn default_webhook_tries() -> u32 {
    3
}
fn default_webhook_backoff() -> f64 {
    1.0
}

fn check_tries(channel: &str, timeout_seconds: f64, tries: u32) -> std::result::Result<(), String> {
    if !(timeout_seconds > 0.0 && timeout_seconds <= 600.0) || tries == 0 {
        return Err(format!(
            "alerts.channels {channel:?}: timeout_seconds must be in (0, 600] and tries at least 1"
        ));
    }
    Ok(())
}

/// Whether `host` names this machine, so that an unencrypted connection
/// to it never leaves it.
pub fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The body of a webhook POST.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    #[default]
    Json,
    Slack,
}

impl ChannelConfig {
    pub fn name(&self) -> &str {
        match self {
            ChannelConfig::Atom { name, .. }
            | ChannelConfig::Webhook { name, .. }
            | ChannelConfig::Email { name, .. } => name,
        }
    }
}

/// The workbench server (`weaksignal serve`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// Address to listen on (`--addr` overrides).
    pub addr: String,
    /// Bearer token every request must carry. Required when the address is
    /// not a loopback one; empty means none.
    pub token: String,
    /// Signal analyses kept in memory (per as-of date and window).
    pub cached_analyses: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            addr: "127.0.0.1:8080".into(),
            token: String::new(),
            cached_analyses: 8,
        }
    }
}

/// How collectors behave on other people's servers (see `crate::collect`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrawlerConfig {
    /// Sent with every request, with `contact` appended in parentheses.
    pub user_agent: String,
    /// How a site can reach the operator (a URL or mailto:); empty leaves it out.
    pub contact: String,
    /// At most one request per host per this many seconds (a larger robots.txt Crawl-delay wins).
    pub min_delay_seconds: f64,
    /// Requests in flight at once, across hosts.
    pub concurrency: usize,
    pub timeout_seconds: f64,
    /// Bodies larger than this are abandoned.
    pub max_body_bytes: usize,
    pub max_redirects: usize,
    /// Retries after 429, 5xx, timeouts and connection errors...
    pub retries: u32,
    /// ...waiting this long before the first, doubling each time (Retry-After wins when longer).
    pub retry_base_seconds: f64,
    /// A longer Retry-After fails the URL for this run instead of stalling it.
    pub max_retry_after_seconds: u64,
    /// A robots.txt Crawl-delay longer than this (or infinite) is not
    /// honoured by crawling slowly: the host is not fetched in this run,
    /// and its URLs fail with the reason.
    pub max_crawl_delay_seconds: f64,
    /// robots.txt is fetched again after this long.
    pub robots_ttl_hours: f64,
    /// Items (articles, posts) a source takes per run at most (`--limit` overrides).
    pub max_items_per_source: usize,
    /// No web requests at all: `run` reports web sources as skipped and
    /// `collect` refuses (for machines without internet access).
    pub offline: bool,
}

impl Default for CrawlerConfig {
    fn default() -> Self {
        CrawlerConfig {
            user_agent: format!("weaksignal/{}", env!("CARGO_PKG_VERSION")),
            contact: String::new(),
            min_delay_seconds: 1.0,
            concurrency: 8,
            timeout_seconds: 20.0,
            max_body_bytes: 5 * 1024 * 1024,
            max_redirects: 5,
            retries: 3,
            retry_base_seconds: 1.0,
            max_retry_after_seconds: 120,
            max_crawl_delay_seconds: 60.0,
            robots_ttl_hours: 24.0,
            max_items_per_source: 200,
            offline: false,
        }
    }
}

impl CrawlerConfig {
    pub fn user_agent_header(&self) -> String {
        if self.contact.trim().is_empty() {
            self.user_agent.clone()
        } else {
            format!("{} (+{})", self.user_agent, self.contact.trim())
        }
    }
}

/// tantivy tuning.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IndexConfig {
    /// Memory budget of the index writer, in MB, shared by its threads.
    pub writer_memory_mb: usize,
    /// Indexing threads; 0 means one per core, at most 4.
    pub writer_threads: usize,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            writer_memory_mb: 128,
            writer_threads: 1,
        }
    }
}

/// The embedding model (see `crate::embed`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Model directory: either what `weaksignal models fetch` leaves there
    /// (`e5-small-q4.bin` + `tokenizer.json`, the default model) or a Hugging
    /// Face layout (`config.json`, `model.safetensors`, `tokenizer.json`),
    /// used as is. Relative paths are resolved like `data_dir`.
    pub path: PathBuf,
    /// Download the default model when a command needs it and it is missing.
    pub auto_fetch: bool,
    /// Tokens per text, incl. the two special tokens; the rest is cut.
    pub max_seq_len: usize,
    /// Texts per forward pass.
    pub batch_size: usize,
    /// Padded tokens per forward pass (texts x longest text): long texts
    /// go in smaller batches, so the attention scores (which grow with the
    /// square of the length) stay bounded and memory stays flat.
    pub batch_tokens: usize,
    /// Documents embedded per store transaction by `weaksignal embed` (a kill loses at most these).
    pub commit_every: usize,
    /// Batches embedded in parallel, each on one core (0 = one per core).
    /// With more than one, candle's own matmul threading is turned off.
    pub workers: usize,
    /// The encoder's linear layers: `auto` (the default: int8 when the CPU
    /// has an int8 SIMD kernel, AVX2, AVX-VNNI or AVX-512 VNNI; else f32),
    /// `int8` (quantised and smoothed, with the fastest kernel the CPU runs,
    /// the scalar one if none) or `f32`. The precision is part of the model
    /// id: changing it re-embeds. int8 vectors are within a cosine of 0.999
    /// of f32's and give the same signals on the tests' corpora
    /// (BENCHMARKS.md, issue 18).
    pub precision: Precision,
}

/// Precision of the encoder's linear layers (see `crate::embed::int8`).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    #[default]
    Auto,
    F32,
    Int8,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            path: PathBuf::from("models/multilingual-e5-small"),
            auto_fetch: true,
            max_seq_len: 256,
            batch_size: 32,
            batch_tokens: 1024,
            commit_every: 256,
            workers: 0,
            precision: Precision::Auto,
        }
    }
}

/// Where taxonomy files beyond the built-in ones are (see `crate::taxonomy`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaxonomiesConfig {
    /// A directory of `*.toml` taxonomy files: each adds a taxonomy, or
    /// replaces the built-in one of the same id. A missing directory means
    /// the built-in taxonomies only. Relative paths are resolved like `data_dir`.
    pub path: PathBuf,
    /// The taxonomies every signal is tagged with (ids).
    pub tag: Vec<String>,
}

impl Default for TaxonomiesConfig {
    fn default() -> Self {
        TaxonomiesConfig {
            path: PathBuf::from("taxonomies"),
            tag: vec!["steep".into(), "sitra-megatrends-2023".into()],
        }
    }
}

/// The lexicons of the morphology (see `crate::morph`): Voikko's Finnish
/// transducer and Brill's English tagger lexicon and rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MorphologyConfig {
    /// Lexicon directory: what `weaksignal models fetch` leaves there
    /// (`voikko.kfst`, `en-lexicon.txt`, `en-context.txt`, see
    /// `models/lexicons.toml`). Relative paths are resolved like `data_dir`.
    pub path: PathBuf,
    /// Download the lexicons when a command needs them and they are missing.
    pub auto_fetch: bool,
}

impl Default for MorphologyConfig {
    fn default() -> Self {
        MorphologyConfig {
            path: PathBuf::from("models/lexicons"),
            auto_fetch: true,
        }
    }
}

/// Time windows: the unit in which topics are clustered and trends counted.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    Day,
    Week,
    Month,
}

/// Topic finding (see `crate::topics`). Similarities are mean cosines of a
/// document to a topic's documents (e5 vectors: unrelated headlines sit
/// around 0.80, 99% of random pairs below 0.87), so thresholds are high.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TopicsConfig {
    /// Default window (`--window` overrides it).
    pub window: Window,
    /// A document joins an existing topic when its mean cosine to the topic's documents reaches this.
    pub join_threshold: f32,
    /// Unassigned documents at least this similar on average to each other found a new topic.
    pub new_topic_threshold: f32,
    /// Documents that fit no topic at `join_threshold` and found none still join the
    /// closest topic active in their window at this lower cosine (fewer outliers).
    pub attach_threshold: f32,
    /// Two topics whose documents reach this mean cross cosine are merged (the younger into the older).
    pub merge_threshold: f32,
    /// A topic's documents of one window that fall into two groups less similar
    /// than this (mean cross cosine) split off the group further from the topic.
    pub split_threshold: f32,
    /// Documents a new topic needs (a weak signal may be 3 documents).
    pub min_topic_docs: usize,
    /// A topic without documents for this many windows no longer takes new ones.
    pub idle_windows: i64,
    /// Weight of a topic's past documents per window of age in its centroid (drift).
    pub centroid_decay: f32,
    /// Most documents (with their vectors) one clustering pass holds in
    /// memory, about 3 KB each. A longer stretch without a checkpoint (the
    /// first run on a big store, `--from-scratch`) is clustered in parts,
    /// each saving a checkpoint the next starts from. The results are the
    /// same; only memory and a little time change.
    pub max_loaded_documents: usize,
}

impl Default for TopicsConfig {
    fn default() -> Self {
        TopicsConfig {
            window: Window::Week,
            join_threshold: 0.85,
            new_topic_threshold: 0.86,
            attach_threshold: 0.84,
            merge_threshold: 0.88,
            split_threshold: 0.80,
            min_topic_docs: 3,
            idle_windows: 12,
            centroid_decay: 0.8,
            max_loaded_documents: 250_000,
        }
    }
}

/// Trend formulas and signal classes (see `crate::trends` and `crate::signals`).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignalsConfig {
    /// Windows that count as "now" (recent rate).
    pub recent_windows: usize,
    /// Windows before them that form the baseline rate.
    pub baseline_windows: usize,
    /// Windows of history in timelines and Yoon's DoV/DoD.
    pub history_windows: usize,
    /// Pseudo-count added to recent and baseline rates, so 1 -> 3 documents is growth 2, not infinity.
    pub smoothing: f64,
    /// Yoon (2012) time weight: a window `k` windows back weighs `1 - time_weight * k`.
    pub time_weight: f64,
    /// Fewer recent documents than this make a growing topic `noise`.
    pub min_docs: usize,
    /// A growing topic whose Poisson burst score (-log10 p) is below this is `noise`.
    pub min_burst: f64,
    /// `weak`: growth at least this (or new), recent visibility below `strong_visibility`.
    pub weak_growth: f64,
    /// `emerging`: growth at least this in the current and the previous window, visibility rising.
    pub emerging_growth: f64,
    /// `emerging`: recent visibility at least this (share of all documents).
    pub emerging_visibility: f64,
    /// `strong`: recent visibility at least this and growth at least `strong_growth`.
    pub strong_visibility: f64,
    pub strong_growth: f64,
    /// `strong` also needs the topic to be active for at least this many windows...
    pub strong_min_age: usize,
    /// ...and this many recent documents (a thin week makes 3 documents 10%).
    pub strong_min_docs: usize,
    /// ...and an established baseline of at least this many documents per
    /// window: a quiet topic that erupts is a sudden emergence, not a strong trend.
    pub strong_min_baseline: f64,
    /// `fading`: growth at most this, with at least `min_docs` baseline documents per window.
    pub fading_growth: f64,
    /// Term-level signals only for terms in at least this many recent documents.
    pub term_min_docs: usize,
    /// Example documents per signal.
    pub examples: usize,
    /// `weak` and `emerging` need their rise to be significant at this false
    /// discovery rate (Benjamini-Hochberg over every key with recent documents).
    pub fdr: f64,
    /// A recent window holding fewer documents than this share of the median
    /// window is `thin`: visibility is then measured against the median.
    pub thin_window: f64,
    /// A rise that repeats one of the same calendar weeks (within
    /// `recurring_days`) of one of the last `recurring_years` years is `recurring`.
    pub recurring_years: u32,
    pub recurring_days: u32,
    /// The learned ranking needs at least this many labelled weak flags;
    /// with fewer, weak signals are ranked by their score.
    pub rank_min_flags: usize,
    /// A signal marked irrelevant stays hidden until its growth passes this
    /// multiple of the growth it had when it was marked.
    pub resurface_growth: f64,
    /// What is *home*, for signals that are already abroad and not yet here.
    pub home: HomeConfig,
}

/// Home media: documents in these languages or from these sources are home,
/// every other document is abroad (see `crate::signals::abroad`). Both lists
/// empty turn the abroad-first signals off.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HomeConfig {
    /// ISO 639-1 codes of home documents.
    pub languages: Vec<String>,
    /// Source names (as `sources` lists them) whose documents are home.
    pub sources: Vec<String>,
    /// A topic growing abroad is `abroad_first` while it has at most this
    /// many home documents in the look-back (a stray mention does not make it
    /// arrived); it has arrived home when it has more.
    pub max_docs: usize,
    /// ...and when its abroad documents come from at least this many
    /// sources, or are in at least this many languages: one foreign outlet's
    /// recurring segment is not "already happening elsewhere".
    pub min_abroad_spread: usize,
    /// What reports call home ("arrived in Finland after 23 days").
    pub name: String,
}

impl Default for HomeConfig {
    fn default() -> Self {
        HomeConfig {
            languages: vec!["fi".into()],
            sources: Vec::new(),
            max_docs: 2,
            min_abroad_spread: 2,
            name: "Finland".into(),
        }
    }
}

impl SignalsConfig {
    /// Trailing windows an analysis looks at: the history, and at least one
    /// window before the recent ones.
    pub fn history(&self) -> usize {
        self.history_windows.max(self.recent_windows + 1)
    }
}

impl Default for SignalsConfig {
    fn default() -> Self {
        SignalsConfig {
            recent_windows: 1,
            baseline_windows: 8,
            history_windows: 26,
            smoothing: 1.0,
            time_weight: 0.025,
            min_docs: 3,
            min_burst: 2.0,
            weak_growth: 2.5,
            emerging_growth: 1.5,
            emerging_visibility: 0.01,
            strong_visibility: 0.05,
            strong_growth: 1.5,
            strong_min_age: 4,
            strong_min_docs: 10,
            strong_min_baseline: 1.0,
            fading_growth: 0.34,
            term_min_docs: 3,
            examples: 3,
            fdr: 0.05,
            thin_window: 0.5,
            recurring_years: 3,
            recurring_days: 21,
            rank_min_flags: 100,
            resurface_growth: 2.0,
            home: HomeConfig::default(),
        }
    }
}

impl Config {
    /// Loads `path`. A missing file is an error only when `required` (the user named it).
    /// Without a configuration file the model and the lexicons live in the
    /// user's cache (`$XDG_CACHE_HOME/weaksignal/models`, else
    /// `~/.cache/weaksignal/models`), so that running the binary from
    /// another directory does not fetch them again into `./models/`.
    fn with_models_in_user_cache(mut self) -> Config {
        let Some(cache) = user_model_cache() else {
            return self;
        };
        for path in [&mut self.model.path, &mut self.morphology.path] {
            if path.is_relative() {
                if let Some(name) = path.file_name() {
                    *path = cache.join(name);
                }
            }
        }
        self
    }

    pub fn load(path: &Path, required: bool) -> Result<Config> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                return Ok(Config::default().with_models_in_user_cache());
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        let mut config = Config::parse(&text).map_err(|message| Error::Config {
            path: path.to_path_buf(),
            message,
        })?;
        // Paths in the file are relative to the file.
        if let Some(base) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            let rebase = |p: &mut PathBuf| {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            };
            rebase(&mut config.data_dir);
            rebase(&mut config.model.path);
            rebase(&mut config.morphology.path);
            rebase(&mut config.taxonomies.path);
            for channel in &mut config.alerts.channels {
                if let ChannelConfig::Email {
                    ca_file: Some(ca), ..
                } = channel
                {
                    rebase(ca);
                }
            }
        }
        Ok(config)
    }

    /// Parses and validates configuration text; the error names the key and line.
    pub fn parse(text: &str) -> std::result::Result<Config, String> {
        let config: Config =
            toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        self.validate_numbers()?;
        let import = &self.import;
        if import.batch_size == 0 {
            return Err("import.batch_size must be at least 1".into());
        }
        if import.max_text_bytes == 0 || import.max_title_bytes == 0 {
            return Err("import.max_text_bytes and import.max_title_bytes must be positive".into());
        }
        if import.max_record_bytes < import.max_text_bytes {
            return Err("import.max_record_bytes must be at least import.max_text_bytes".into());
        }
        let mut channels = std::collections::HashSet::new();
        for channel in &self.alerts.channels {
            if !channels.insert(channel.name()) {
                return Err(format!(
                    "alerts.channels: the name {:?} is used twice",
                    channel.name()
                ));
            }
            if let ChannelConfig::Webhook {
                url,
                timeout_seconds,
                tries,
                ..
            } = channel
            {
                match url::Url::parse(url) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                    _ => {
                        return Err(format!(
                            "alerts.channels {:?}: url {url:?} is not an http(s) URL",
                            channel.name()
                        ))
                    }
                }
                check_tries(channel.name(), *timeout_seconds, *tries)?;
            }
            if let ChannelConfig::Email {
                name,
                host,
                security,
                from,
                to,
                timeout_seconds,
                tries,
                ..
            } = channel
            {
                check_tries(name, *timeout_seconds, *tries)?;
                if host.trim().is_empty() {
                    return Err(format!("alerts.channels {name:?}: host is empty"));
                }
                if *security == SmtpSecurity::None && !is_loopback_host(host) {
                    return Err(format!("alerts.channels {name:?}: security = \"none\" is allowed only to a loopback host (127.0.0.1, ::1, localhost), not {host:?}: use \"starttls\" or \"tls\""));
                }
                if to.is_empty() {
                    return Err(format!("alerts.channels {name:?}: to has no recipients"));
                }
                for (field, address) in
                    std::iter::once(("from", from)).chain(to.iter().map(|a| ("to", a)))
                {
                    if let Err(e) = address.parse::<lettre::message::Mailbox>() {
                        return Err(format!("alerts.channels {name:?}: {field} {address:?} is not an e-mail address ({e})"));
                    }
                }
            }
        }
        if self.alerts.max_attempts == 0 {
            return Err("alerts.max_attempts must be at least 1".into());
        }
        for code in &self.signals.home.languages {
            if crate::lang::whatlang_for(code).is_none() {
                return Err(format!(
                    "signals.home.languages: unknown language {code:?} (use ISO 639-1 codes such as \"fi\", \"en\", \"sv\")"
                ));
            }
        }
        for code in &import.detect_languages {
            if crate::lang::whatlang_for(code).is_none() {
                return Err(format!(
                    "import.detect_languages: unknown language {code:?} (use ISO 639-1 codes such as \"fi\", \"en\", \"sv\")"
                ));
            }
        }
        let model = &self.model;
        if model.max_seq_len < 8 || model.max_seq_len > 512 {
            return Err(format!(
                "model.max_seq_len must be in 8..=512 (got {})",
                model.max_seq_len
            ));
        }
        if model.batch_size == 0 || model.commit_every == 0 {
            return Err("model.batch_size and model.commit_every must be at least 1".into());
        }
        if model.batch_tokens < model.max_seq_len {
            return Err(format!(
                "model.batch_tokens must be at least model.max_seq_len ({}) so that the longest text fits (got {})",
                model.max_seq_len, model.batch_tokens
            ));
        }
        if self.morphology.path.as_os_str().is_empty() {
            return Err("morphology.path must not be empty (default \"models/lexicons\")".into());
        }
        let t = &self.topics;
        for (name, v) in [
            ("join_threshold", t.join_threshold),
            ("new_topic_threshold", t.new_topic_threshold),
            ("attach_threshold", t.attach_threshold),
            ("merge_threshold", t.merge_threshold),
            ("split_threshold", t.split_threshold),
        ] {
            if !(-1.0..=1.0).contains(&v) {
                return Err(format!(
                    "topics.{name} must be a cosine in -1..=1 (got {v})"
                ));
            }
        }
        if t.attach_threshold > t.join_threshold {
            return Err("topics.attach_threshold must not exceed topics.join_threshold".into());
        }
        if t.min_topic_docs < 2 {
            return Err("topics.min_topic_docs must be at least 2".into());
        }
        if !(0.0..=1.0).contains(&t.centroid_decay) || t.idle_windows < 0 {
            return Err(
                "topics.centroid_decay must be in 0..=1 and topics.idle_windows >= 0".into(),
            );
        }
        let sig = &self.signals;
        if sig.recent_windows == 0 || sig.baseline_windows == 0 {
            return Err(
                "signals.recent_windows and signals.baseline_windows must be at least 1".into(),
            );
        }
        if sig.history_windows < sig.recent_windows + sig.baseline_windows {
            return Err(format!(
                "signals.history_windows ({}) must be at least recent_windows + baseline_windows ({})",
                sig.history_windows,
                sig.recent_windows + sig.baseline_windows
            ));
        }
        if sig.smoothing <= 0.0 {
            return Err("signals.smoothing must be positive (it keeps growth finite)".into());
        }
        if !(sig.fdr > 0.0 && sig.fdr <= 1.0) {
            return Err(format!("signals.fdr must be in (0, 1] (got {})", sig.fdr));
        }
        if !(0.0..=1.0).contains(&sig.thin_window) {
            return Err(format!(
                "signals.thin_window must be in 0..=1 (got {})",
                sig.thin_window
            ));
        }
        if sig.recurring_years > 3 || sig.recurring_days > 35 {
            return Err(format!(
                "signals.recurring_years must be at most 3 and signals.recurring_days at most 35 (the clustering keeps bursts of the last three years and five weeks; got {} and {})",
                sig.recurring_years, sig.recurring_days
            ));
        }
        if self.index.writer_memory_mb < 16 {
            return Err("index.writer_memory_mb must be at least 16".into());
        }
        Ok(())
    }

    /// Every floating-point setting: a finite number in its range, so that
    /// nothing downstream (a `Duration`, a rate limiter, a threshold) meets
    /// NaN, infinity or a negative time. The error names the key.
    fn validate_numbers(&self) -> std::result::Result<(), String> {
        fn check(
            key: &str,
            value: f64,
            ok: impl Fn(f64) -> bool,
            what: &str,
        ) -> std::result::Result<(), String> {
            if value.is_finite() && ok(value) {
                return Ok(());
            }
            Err(format!("{key} must be {what} (got {value})"))
        }
        let positive = |v: f64| v > 0.0;
        let non_negative = |v: f64| v >= 0.0;
        let share = |v: f64| (0.0..=1.0).contains(&v);
        let c = &self.crawler;
        // At most a day: a longer wait is a mistake, and Duration must hold it.
        let seconds = |v: f64| (0.0..=86_400.0).contains(&v);
        check(
            "crawler.min_delay_seconds",
            c.min_delay_seconds,
            seconds,
            "seconds in 0..=86400",
        )?;
        check(
            "crawler.timeout_seconds",
            c.timeout_seconds,
            |v| v > 0.0 && v <= 86_400.0,
            "seconds in (0, 86400]",
        )?;
        check(
            "crawler.retry_base_seconds",
            c.retry_base_seconds,
            seconds,
            "seconds in 0..=86400",
        )?;
        check(
            "crawler.max_crawl_delay_seconds",
            c.max_crawl_delay_seconds,
            seconds,
            "seconds in 0..=86400",
        )?;
        check(
            "crawler.robots_ttl_hours",
            c.robots_ttl_hours,
            |v| (0.0..=24.0 * 365.0).contains(&v),
            "hours in 0..=8760",
        )?;
        let t = &self.topics;
        for (key, value) in [
            ("topics.join_threshold", t.join_threshold),
            ("topics.new_topic_threshold", t.new_topic_threshold),
            ("topics.attach_threshold", t.attach_threshold),
            ("topics.merge_threshold", t.merge_threshold),
            ("topics.split_threshold", t.split_threshold),
        ] {
            check(
                key,
                f64::from(value),
                |v| (-1.0..=1.0).contains(&v),
                "a cosine in -1..=1",
            )?;
        }
        check(
            "topics.centroid_decay",
            f64::from(t.centroid_decay),
            share,
            "in 0..=1",
        )?;
        let g = &self.signals;
        check("signals.smoothing", g.smoothing, positive, "positive")?;
        check("signals.time_weight", g.time_weight, share, "in 0..=1")?;
        check("signals.min_burst", g.min_burst, non_negative, "0 or more")?;
        for (key, value) in [
            ("signals.weak_growth", g.weak_growth),
            ("signals.emerging_growth", g.emerging_growth),
            ("signals.strong_growth", g.strong_growth),
            ("signals.fading_growth", g.fading_growth),
            ("signals.strong_min_baseline", g.strong_min_baseline),
        ] {
            check(key, value, non_negative, "0 or more")?;
        }
        for (key, value) in [
            ("signals.emerging_visibility", g.emerging_visibility),
            ("signals.strong_visibility", g.strong_visibility),
            ("signals.thin_window", g.thin_window),
        ] {
            check(key, value, share, "a share in 0..=1")?;
        }
        check("signals.fdr", g.fdr, |v| v > 0.0 && v <= 1.0, "in (0, 1]")?;
        Ok(())
    }
}

/// `$XDG_CACHE_HOME/weaksignal/models` (an absolute XDG_CACHE_HOME), else
/// `$HOME/.cache/weaksignal/models`; `None` without either.
pub fn user_model_cache() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    let base = xdg.or_else(|| {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .map(|home| home.join(".cache"))
    })?;
    Some(base.join("weaksignal").join("models"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_named() {
        let err = Config::parse("[import]\nbatch_sise = 3\n").unwrap_err();
        assert!(err.contains("batch_sise"), "{err}");
        let err = Config::parse("data_dri = \"x\"\n").unwrap_err();
        assert!(err.contains("data_dri"), "{err}");
    }

    #[test]
    fn bad_numbers_are_refused_naming_the_key() {
        for (text, key) in [
            (
                "[crawler]\ntimeout_seconds = -1.0\n",
                "crawler.timeout_seconds",
            ),
            (
                "[crawler]\ntimeout_seconds = nan\n",
                "crawler.timeout_seconds",
            ),
            (
                "[crawler]\nrobots_ttl_hours = inf\n",
                "crawler.robots_ttl_hours",
            ),
            (
                "[crawler]\nretry_base_seconds = -0.5\n",
                "crawler.retry_base_seconds",
            ),
            (
                "[crawler]\nmin_delay_seconds = 1e30\n",
                "crawler.min_delay_seconds",
            ),
            (
                "[crawler]\nmax_crawl_delay_seconds = nan\n",
                "crawler.max_crawl_delay_seconds",
            ),
            ("[topics]\njoin_threshold = nan\n", "topics.join_threshold"),
            ("[signals]\nsmoothing = nan\n", "signals.smoothing"),
            ("[signals]\nweak_growth = -inf\n", "signals.weak_growth"),
            (
                "[signals]\nstrong_visibility = 2.0\n",
                "signals.strong_visibility",
            ),
        ] {
            let err = Config::parse(text).unwrap_err();
            assert!(err.contains(key), "{text:?}: {err}");
        }
        assert!(Config::parse("[crawler]\ntimeout_seconds = 0.5\nrobots_ttl_hours = 0\n").is_ok());
    }

    #[test]
    fn empty_file_gives_defaults() {
        let config = Config::parse("").unwrap();
        assert_eq!(config.import.batch_size, 50_000);
        assert_eq!(config.data_dir, PathBuf::from("data"));
        assert_eq!(config.model.max_seq_len, 256);
        let err = Config::parse("[model]\nmax_seq_len = 4\n").unwrap_err();
        assert!(err.contains("max_seq_len"), "{err}");
        let err = Config::parse("[model]\npaht = \"x\"\n").unwrap_err();
        assert!(err.contains("paht"), "{err}");
    }

    #[test]
    fn the_shipped_config_parses_and_matches_the_defaults() {
        let shipped = include_str!("../config.toml");
        let config = Config::parse(shipped).unwrap();
        let defaults = Config::default();
        assert_eq!(
            serde_json::to_value(&config.topics).unwrap(),
            serde_json::to_value(&defaults.topics).unwrap()
        );
        assert_eq!(
            serde_json::to_value(&config.signals).unwrap(),
            serde_json::to_value(&defaults.signals).unwrap()
        );
        let err = Config::parse("[signals]\nhistory_windows = 4\n").unwrap_err();
        assert!(err.contains("history_windows"), "{err}");
        let err = Config::parse("[topics]\nwindow = \"year\"\n").unwrap_err();
        assert!(err.contains("day") && err.contains("week"), "{err}");
    }

    #[test]
    fn morphology_section_has_defaults_and_is_checked() {
        let config = Config::parse("").unwrap();
        assert_eq!(config.morphology.path, PathBuf::from("models/lexicons"));
        assert!(config.morphology.auto_fetch);
        let shipped = Config::parse(include_str!("../config.toml")).unwrap();
        assert_eq!(shipped.morphology.path, config.morphology.path);
        assert_eq!(shipped.morphology.auto_fetch, config.morphology.auto_fetch);
        let err = Config::parse("[morphology]\npaht = \"x\"\n").unwrap_err();
        assert!(err.contains("paht"), "{err}");
        let err = Config::parse("[morphology]\npath = \"\"\n").unwrap_err();
        assert!(err.contains("morphology.path"), "{err}");
        // A relative path is resolved against the configuration's directory.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(&file, "[morphology]\npath = \"lex\"\nauto_fetch = false\n").unwrap();
        let config = Config::load(&file, true).unwrap();
        assert_eq!(config.morphology.path, dir.path().join("lex"));
        assert!(!config.morphology.auto_fetch);
    }

    #[test]
    fn bad_language_is_rejected() {
        let err =
            Config::parse("[import]\ndetect_languages = [\"fi\", \"klingon\"]\n").unwrap_err();
        assert!(err.contains("klingon"), "{err}");
    }
}
