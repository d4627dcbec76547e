//! Watches and alerts as the CLI, the server and the batch run use them.

use std::collections::HashSet;
use std::sync::Arc;

use super::Workspace;
use crate::alerts::channel::{self, ChannelOutcome};
use crate::alerts::{self, AlertBody, Matcher, Stored, Target, Watch};
use crate::embed::{self, E5Embedder};
use crate::error::{Error, Result};
use crate::index::{SearchIndex, SearchRequest};
use crate::report::Report;
use crate::store::Store;

/// Matches watch targets against one report's recent windows.
struct ReportMatcher<'a> {
    workspace: &'a Workspace,
    store: &'a Store,
    index: Option<SearchIndex>,
    from: i64,
    to: i64,
    embedder: Option<Arc<E5Embedder>>,
}

impl Matcher for ReportMatcher<'_> {
    fn query_hits(&mut self, target: &Target) -> Result<HashSet<String>> {
        let Target::Query {
            query,
            source,
            lang,
        } = target
        else {
            return Ok(HashSet::new());
        };
        if self.index.is_none() {
            self.index = Some(SearchIndex::open_synced(
                &self.workspace.data_dir,
                self.store,
                &self.workspace.config.index,
            )?);
        }
        let index = self.index.as_ref().expect("opened");
        let request = SearchRequest {
            query: query.clone(),
            from: chrono::DateTime::from_timestamp(self.from, 0),
            to: chrono::DateTime::from_timestamp(self.to, 0),
            source: source.clone(),
            lang: lang.clone(),
            limit: 100_000,
            facets: false,
        };
        Ok(index
            .search(self.store, &request)?
            .hits
            .into_iter()
            .map(|h| h.id)
            .collect())
    }

    fn embed_concept(&mut self, text: &str) -> Result<Vec<f32>> {
        if self.embedder.is_none() {
            self.embedder = Some(Arc::new(embed::load(
                &self.workspace.config.model,
                &self.workspace.progress,
            )?));
        }
        let embedder = self.embedder.as_ref().expect("loaded");
        Ok(embedder.embed_queries(&[text])?.pop().unwrap_or_default())
    }
}

impl Workspace {
    /// Stores a new watch (or replaces one of the same name with `replace`).
    pub fn add_watch(&self, watch: &Watch, replace: bool) -> Result<()> {
        watch.validate()?;
        let store = Store::open(&self.data_dir)?;
        if matches!(watch.target, Target::Query { .. }) {
            let index = SearchIndex::open_synced(&self.data_dir, &store, &self.config.index)?;
            alerts::check_query(&index, &store, &watch.target)?;
        }
        if !store.put_watch(&watch.row()?, replace)? {
            return Err(Error::Usage(format!(
                "a watch named {:?} exists (watch rm it first, or use --replace)",
                watch.name
            )));
        }
        Ok(())
    }

    /// Removes a watch; an unknown name is an error that lists the watches.
    pub fn remove_watch(&self, name: &str) -> Result<()> {
        let store = Store::open(&self.data_dir)?;
        if store.remove_watch(name)? {
            return Ok(());
        }
        Err(unknown_watch(name, &store)?)
    }

    /// Appends an analyst's mark (see [`crate::signals::marks`]); its id.
    pub fn add_mark(&self, mark: &crate::store::MarkRow) -> Result<i64> {
        Store::open(&self.data_dir)?.add_mark(mark)
    }

    /// Every stored watch, by name.
    pub fn watches(&self) -> Result<Vec<Watch>> {
        alerts::watches(&Store::open(&self.data_dir)?)
    }

    /// The alerts `watches` fire on `report` (nothing is stored).
    pub fn evaluate_watches(
        &self,
        store: &Store,
        watches: &[Watch],
        report: &Report,
    ) -> Result<Vec<(String, String, AlertBody)>> {
        let to = crate::time::parse_bound(&report.current.as_of, true)
            .map(|d| d.timestamp())
            .unwrap_or(0);
        let recent = self.config.signals.recent_windows.max(1) as i64;
        let mut matcher = ReportMatcher {
            workspace: self,
            store,
            index: None,
            from: to + 1 - recent * report.current.window.seconds(),
            to,
            embedder: None,
        };
        alerts::evaluate(watches, report, &mut matcher, &self.config.alerts)
    }

    /// What watch `name` would fire on `report`.
    pub fn test_watch(&self, name: &str, report: &Report) -> Result<Vec<AlertBody>> {
        let store = Store::open(&self.data_dir)?;
        let watch = alerts::watches(&store)?
            .into_iter()
            .find(|w| w.name == name);
        let Some(watch) = watch else {
            return Err(unknown_watch(name, &store)?);
        };
        Ok(self
            .evaluate_watches(&store, &[watch], report)?
            .into_iter()
            .map(|(_, _, body)| body)
            .collect())
    }

    /// The run's alert stage: evaluates every watch on `report`, stores the
    /// alerts (quiet periods and reruns respected) and delivers what each
    /// channel does not have yet.
    pub fn alert(&self, report: &Report, as_of: i64) -> Result<(Stored, Vec<ChannelOutcome>)> {
        let mut store = Store::open(&self.data_dir)?;
        let watches = alerts::watches(&store)?;
        let firings = self.evaluate_watches(&store, &watches, report)?;
        let now = chrono::Utc::now().timestamp();
        let stored = alerts::store(&mut store, &watches, &firings, as_of, now)?;
        crate::failpoint::hit("alerts.stored");
        let outcomes = channel::deliver_all(&store, &self.config.alerts, &self.data_dir, now)?;
        Ok((stored, outcomes))
    }
}

fn unknown_watch(name: &str, store: &Store) -> Result<Error> {
    let names: Vec<String> = store.watches()?.into_iter().map(|w| w.name).collect();
    Ok(Error::Usage(format!(
        "no watch named {name:?} (watches: {})",
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    )))
}
