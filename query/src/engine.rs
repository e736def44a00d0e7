//! The sandboxed execution engine.

use crate::rows::{self, RowPage, RowQuery};
use crate::{Error, Result};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::common::TableReference;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::TableProvider;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use datafusion::sql::parser::Statement;
use futures::StreamExt;
use futures::future::BoxFuture;
use gongkai_catalog::PublishedTable;
use object_store::ObjectStore;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, oneshot};
use url::Url;

/// URL under which the public object store is registered with DataFusion.
const STORE_URL: &str = "gongkai://store/";

/// Functions whose result differs between runs of the same query: such
/// results are neither cached nor given an ETag.
const VOLATILE: &[&str] = &[
    "random(",
    "uuid(",
    "now(",
    "current_date",
    "current_time",
    "today(",
    "clock_",
];

/// Most operators (`+`, `AND`, `::`, `UNION` …) one query may hold. A chain
/// such as `1+1+…+1` parses into an expression tree as deep as it is long,
/// which planning then walks recursively; the parser's nesting limit does not
/// see such chains, so they are bounded here, before parsing.
const MAX_OPERATORS: usize = 2_000;

/// Counts operator tokens in `sql` (the tokenizer is iterative: no deep recursion).
fn operator_count(sql: &str) -> Result<usize> {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::keywords::Keyword;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    let tokens = Tokenizer::new(&GenericDialect {}, sql)
        .tokenize()
        .map_err(|e| Error::Syntax {
            message: e.to_string(),
            position: None,
        })?;
    Ok(tokens
        .iter()
        .filter(|t| match t {
            Token::Word(w) => matches!(
                w.keyword,
                Keyword::AND
                    | Keyword::OR
                    | Keyword::NOT
                    | Keyword::LIKE
                    | Keyword::ILIKE
                    | Keyword::IS
                    | Keyword::BETWEEN
                    | Keyword::WHEN
                    | Keyword::UNION
                    | Keyword::INTERSECT
                    | Keyword::EXCEPT
                    | Keyword::JOIN
            ),
            Token::EOF
            | Token::Whitespace(_)
            | Token::Comma
            | Token::LParen
            | Token::RParen
            | Token::Period
            | Token::SemiColon
            | Token::Number(..)
            | Token::Char(_)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::NationalStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::UnicodeStringLiteral(_)
            | Token::HexStringLiteral(_) => false,
            _ => true,
        })
        .count())
}

/// Builds the DataFrame of one request inside its sandboxed session.
type Job = Box<dyn FnOnce(SessionContext) -> BoxFuture<'static, Result<DataFrame>> + Send>;

/// A parsed SQL query and the tables it names.
pub struct Prepared {
    statement: Statement,
    tables: Vec<String>,
    catalog_views: bool,
    deterministic: bool,
}

impl Prepared {
    /// Table names the query reads (e.g. `budget-2024`, `budget-2024@v1`), sorted.
    pub fn tables(&self) -> &[String] {
        &self.tables
    }

    /// Whether it reads `information_schema` (and so sees every table).
    pub fn reads_catalog_views(&self) -> bool {
        self.catalog_views
    }

    /// Whether the same tables always give the same result (no `random()`, `now()`…).
    pub fn is_deterministic(&self) -> bool {
        self.deterministic
    }
}

/// Limits applied to every query.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most rows a query returns; more are cut and the result flagged truncated.
    pub max_rows: usize,
    /// Wall-clock limit from planning to last row.
    pub timeout: Duration,
    /// Memory one query may hold.
    pub memory_per_query: usize,
    /// Memory all running queries together may hold.
    pub memory_total: usize,
    /// Queries running at once; more wait up to `queue_timeout`, then are
    /// refused with [`Error::Busy`].
    pub max_concurrent: usize,
    /// How long a query waits for a free slot.
    pub queue_timeout: Duration,
    /// Threads of the query pool.
    pub threads: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_rows: 1_000_000,
            timeout: Duration::from_secs(30),
            memory_per_query: 512 << 20,
            memory_total: 2048 << 20,
            max_concurrent: 8,
            queue_timeout: Duration::from_secs(5),
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

/// A dedicated Tokio runtime for query execution. Dropped without blocking.
struct QueryRuntime(Option<tokio::runtime::Runtime>);

impl Drop for QueryRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Runs SQL over published datasets.
pub struct QueryEngine {
    registry: Arc<DefaultObjectStoreRegistry>,
    caches: CacheManagerConfig,
    schemas: Mutex<HashMap<String, SchemaRef>>,
    runtime: QueryRuntime,
    permits: Arc<Semaphore>,
    budget: Arc<crate::pool::Budget>,
    limits: Limits,
}

/// A running query: its schema, then its batches as they are produced.
pub struct QueryStream {
    /// Result schema.
    pub schema: SchemaRef,
    batches: mpsc::Receiver<Result<RecordBatch>>,
    truncated: Arc<AtomicBool>,
}

impl QueryStream {
    /// Next batch; `None` at the end.
    pub async fn next(&mut self) -> Option<Result<RecordBatch>> {
        self.batches.recv().await
    }

    /// Polls the next batch (for adapting into a `Stream`).
    pub fn poll_next(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<RecordBatch>>> {
        self.batches.poll_recv(cx)
    }

    /// The shared truncation flag, set when a limit cuts the result.
    pub fn truncated_flag(&self) -> Arc<AtomicBool> {
        self.truncated.clone()
    }

    /// Whether a limit cut the result (valid once the stream has ended).
    pub fn truncated(&self) -> bool {
        self.truncated.load(Ordering::Acquire)
    }

    /// Collects every batch (for small results and tests).
    pub async fn collect(mut self) -> Result<(Vec<RecordBatch>, bool)> {
        let mut out = Vec::new();
        while let Some(b) = self.next().await {
            out.push(b?);
        }
        Ok((out, self.truncated()))
    }
}

impl QueryEngine {
    /// Builds the engine over the public object store.
    pub fn new(store: Arc<dyn ObjectStore>, limits: Limits) -> Result<Self> {
        let registry = Arc::new(DefaultObjectStoreRegistry::new());
        let url = Url::parse(STORE_URL).map_err(|e| Error::Internal(e.to_string()))?;
        registry.register_store(&url, store);
        // Build once to obtain caches shared by every per-query runtime:
        // published files are immutable, so footers and statistics stay valid.
        let base = RuntimeEnvBuilder::new().build()?;
        let cm = &base.cache_manager;
        let caches = CacheManagerConfig::default()
            .with_file_statistics_cache(cm.get_file_statistic_cache())
            .with_list_files_cache(cm.get_list_files_cache())
            .with_file_metadata_cache(Some(cm.get_file_metadata_cache()));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(limits.threads.max(1))
            .thread_name("gongkai-query")
            // Planning recurses over the query tree; give it room beyond the 2 MiB default.
            .thread_stack_size(16 << 20)
            .enable_all()
            .build()
            .map_err(|e| Error::Internal(format!("starting the query thread pool: {e}")))?;
        Ok(QueryEngine {
            registry,
            caches,
            schemas: Mutex::new(HashMap::new()),
            runtime: QueryRuntime(Some(runtime)),
            permits: Arc::new(Semaphore::new(limits.max_concurrent.max(1))),
            budget: crate::pool::Budget::new(limits.memory_total.max(limits.memory_per_query)),
            limits,
        })
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn runtime_env(&self) -> Result<Arc<RuntimeEnv>> {
        Ok(RuntimeEnvBuilder::new()
            .with_object_store_registry(self.registry.clone())
            .with_cache_manager(self.caches.clone())
            .with_memory_pool(Arc::new(crate::pool::QueryPool::new(
                self.limits.memory_per_query,
                self.budget.clone(),
            )))
            .with_disk_manager_builder(
                DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
            )
            .build_arc()?)
    }

    /// The session settings every query runs with.
    fn config() -> Result<SessionConfig> {
        let mut config = SessionConfig::new()
            .with_information_schema(true)
            .with_default_catalog_and_schema("gongkai", "public");
        let options = config.options_mut();
        options.set("datafusion.sql_parser.recursion_limit", "64")?;
        options.set("datafusion.sql_parser.collect_spans", "true")?;
        // Plain Utf8 strings, as in the data dictionary and for every Arrow client.
        options.set(
            "datafusion.execution.parquet.schema_force_view_types",
            "false",
        )?;
        Ok(config)
    }

    /// Parses `sql` and finds the tables it names, without planning or running it.
    pub fn prepare(&self, sql: &str) -> Result<Prepared> {
        let operators = operator_count(sql)?;
        if operators > MAX_OPERATORS {
            return Err(Error::plan(format!(
                "the query has {operators} operators; at most {MAX_OPERATORS} are allowed"
            )));
        }
        let state = SessionStateBuilder::new()
            .with_config(Self::config()?)
            .build();
        let dialect = state.config().options().sql_parser.dialect;
        let statement = state.sql_to_statement(sql, &dialect)?;
        let mut tables = Vec::new();
        let mut catalog_views = false;
        for r in state.resolve_table_references(&statement)? {
            match r.schema() {
                Some("information_schema") => catalog_views = true,
                None | Some("public") => tables.push(r.table().to_string()),
                Some(_) => tables.push(r.to_string()),
            }
        }
        let head = sql.trim_start().to_ascii_lowercase();
        if head.starts_with("show") || head.starts_with("describe") || head.starts_with("desc ") {
            catalog_views = true;
        }
        tables.sort();
        tables.dedup();
        let lower = sql.to_ascii_lowercase();
        let deterministic = !VOLATILE.iter().any(|f| lower.contains(f));
        Ok(Prepared {
            statement,
            tables,
            catalog_views,
            deterministic,
        })
    }

    /// The schema of a published table (cached: published files never change).
    pub async fn schema_of(self: &Arc<Self>, table: &PublishedTable) -> Result<SchemaRef> {
        if let Some(s) = self
            .schemas
            .lock()
            .ok()
            .and_then(|m| m.get(&table.key).cloned())
        {
            return Ok(s);
        }
        let ctx = SessionContext::new_with_config_rt(Self::config()?, self.runtime_env()?);
        Ok(self.listing_table(&ctx, table).await?.schema())
    }

    async fn listing_table(
        &self,
        ctx: &SessionContext,
        t: &PublishedTable,
    ) -> Result<Arc<ListingTable>> {
        let options = ListingOptions::new(Arc::new(
            ParquetFormat::default()
                .with_force_view_types(false)
                // Keep field metadata: original header paths and units.
                .with_skip_metadata(false),
        ))
        .with_file_extension(".parquet");
        let url = ListingTableUrl::parse(format!("{STORE_URL}{}", t.key))?;
        let cached = self
            .schemas
            .lock()
            .ok()
            .and_then(|m| m.get(&t.key).cloned());
        let schema = match cached {
            Some(s) => s,
            None => {
                let s = options.infer_schema(&ctx.state(), &url).await?;
                if let Ok(mut m) = self.schemas.lock() {
                    m.insert(t.key.clone(), s.clone());
                }
                s
            }
        };
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(schema);
        Ok(Arc::new(ListingTable::try_new(config)?))
    }

    /// A sandboxed session with the given published tables registered.
    async fn session(self: &Arc<Self>, tables: &[PublishedTable]) -> Result<SessionContext> {
        let ctx = SessionContext::new_with_config_rt(Self::config()?, self.runtime_env()?);
        crate::sandbox::restrict_functions(&ctx, self.limits.memory_per_query);
        for t in tables {
            let table = self.listing_table(&ctx, t).await?;
            ctx.register_table(
                TableReference::bare(format!("{}@v{}", t.slug, t.version)),
                table.clone(),
            )?;
            if t.is_latest {
                ctx.register_table(TableReference::bare(t.slug.clone()), table)?;
            }
        }
        Ok(ctx)
    }

    /// Plans and starts a prepared query over the published `tables` (only
    /// those it names are registered, unless it reads `information_schema`);
    /// returns once planning is done, so planning errors become an HTTP status.
    pub async fn execute(
        self: &Arc<Self>,
        prepared: Prepared,
        tables: Vec<PublishedTable>,
    ) -> Result<QueryStream> {
        let permit = self.permit().await?;
        let tables = if prepared.catalog_views {
            tables
        } else {
            tables
                .into_iter()
                .filter(|t| {
                    let pinned = format!("{}@v{}", t.slug, t.version);
                    prepared
                        .tables
                        .iter()
                        .any(|n| *n == pinned || (t.is_latest && *n == t.slug))
                })
                .collect()
        };
        let statement = prepared.statement;
        let job: Job = Box::new(move |ctx: SessionContext| {
            Box::pin(async move {
                let state = ctx.state();
                let plan = state.statement_to_plan(statement).await?;
                SQLOptions::new()
                    .with_allow_ddl(false)
                    .with_allow_dml(false)
                    .with_allow_statements(false)
                    .verify_plan(&plan)?;
                Ok(ctx.execute_logical_plan(plan).await?)
            })
        });
        let limits = self.limits.clone();
        self.run(
            job,
            tables,
            Some(permit),
            Some(limits.max_rows),
            Some(limits.timeout),
        )
        .await
    }

    /// Parses and runs `sql` in one step (for tests and tools).
    pub async fn execute_sql(
        self: &Arc<Self>,
        sql: &str,
        tables: Vec<PublishedTable>,
    ) -> Result<QueryStream> {
        let prepared = self.prepare(sql)?;
        self.execute(prepared, tables).await
    }

    async fn permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit> {
        let wait = self.permits.clone().acquire_owned();
        match tokio::time::timeout(self.limits.queue_timeout, wait).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(Error::Busy),
        }
    }

    /// One page of the row API over `table`, under the same limits as SQL.
    pub async fn rows(self: &Arc<Self>, table: PublishedTable, query: RowQuery) -> Result<RowPage> {
        let limits = self.limits.clone();
        let name = table.slug.clone();
        let q = query.clone();
        let job: Job = Box::new(move |ctx: SessionContext| {
            Box::pin(async move {
                let df = ctx.table(TableReference::bare(name)).await?;
                rows::page_frame(df, &q)
            })
        });
        let page_table = PublishedTable {
            is_latest: true,
            ..table.clone()
        };
        let stream = self
            .run(
                job,
                vec![page_table.clone()],
                Some(self.permit().await?),
                None,
                Some(limits.timeout),
            )
            .await?;
        let schema = stream.schema.clone();
        let (batches, _) = stream.collect().await?;
        let batch = arrow::compute::concat_batches(&schema, &batches)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let total = if query.count {
            let name = table.slug.clone();
            let q = query.clone();
            let job: Job = Box::new(move |ctx: SessionContext| {
                Box::pin(async move {
                    let df = ctx.table(TableReference::bare(name)).await?;
                    let schema = df.schema().as_arrow().clone();
                    let df = match rows::predicate(&schema, &q)? {
                        Some(p) => df.filter(p)?,
                        None => df,
                    };
                    Ok(df.aggregate(
                        vec![],
                        vec![datafusion::functions_aggregate::count::count_all()],
                    )?)
                })
            });
            let stream = self
                .run(
                    job,
                    vec![page_table],
                    Some(self.permit().await?),
                    None,
                    Some(limits.timeout),
                )
                .await?;
            let (batches, _) = stream.collect().await?;
            let n = batches
                .first()
                .and_then(|b| {
                    b.column(0)
                        .as_any()
                        .downcast_ref::<arrow::array::Int64Array>()
                })
                .filter(|a| !a.is_empty())
                .map(|a| a.value(0));
            Some(n.unwrap_or(0).max(0) as u64)
        } else {
            None
        };
        rows::finish_page(batch, &query, table.version, total)
    }

    /// Streams a whole stored Parquet file (for downloads): no row cap and no
    /// deadline, since the client's pace sets the duration; dropping the stream
    /// stops the read.
    pub async fn scan(self: &Arc<Self>, key: &str) -> Result<QueryStream> {
        let table = PublishedTable {
            slug: "data".into(),
            dataset_id: 0,
            version: 0,
            is_latest: true,
            key: key.to_string(),
        };
        let job: Job =
            Box::new(|ctx: SessionContext| Box::pin(async move { Ok(ctx.table("data").await?) }));
        self.run(job, vec![table], None, None, None).await
    }

    async fn run(
        self: &Arc<Self>,
        job: Job,
        tables: Vec<PublishedTable>,
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
        max_rows: Option<usize>,
        timeout: Option<Duration>,
    ) -> Result<QueryStream> {
        let (schema_tx, schema_rx) = oneshot::channel::<Result<SchemaRef>>();
        let (batch_tx, batch_rx) = mpsc::channel::<Result<RecordBatch>>(4);
        let truncated = Arc::new(AtomicBool::new(false));
        let engine = self.clone();
        let flag = truncated.clone();
        let handle = self
            .runtime
            .0
            .as_ref()
            .ok_or_else(|| Error::Internal("query pool is shut down".into()))?
            .handle()
            .clone();
        // No timeout means "no deadline": a far-future instant keeps one code path.
        let seconds = timeout.map_or(0, |t| t.as_secs());
        let deadline = tokio::time::Instant::now()
            + timeout.unwrap_or(Duration::from_secs(100 * 365 * 86_400));
        let max_rows = max_rows.unwrap_or(usize::MAX);
        handle.spawn(async move {
            let _permit = permit;
            let timeout = Error::Timeout { seconds };
            let planned = tokio::time::timeout_at(deadline, async {
                let ctx = engine.session(&tables).await?;
                let df = job(ctx).await?;
                Ok::<_, Error>(df.execute_stream().await?)
            })
            .await;
            let mut stream = match planned {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    let _ = schema_tx.send(Err(e));
                    return;
                }
                Err(_) => {
                    let _ = schema_tx.send(Err(timeout));
                    return;
                }
            };
            if schema_tx.send(Ok(stream.schema())).is_err() {
                return;
            }
            let mut rows = 0usize;
            loop {
                let next = match tokio::time::timeout_at(deadline, stream.next()).await {
                    Err(_) => {
                        let _ = batch_tx.send(Err(Error::Timeout { seconds })).await;
                        break;
                    }
                    Ok(None) => break,
                    Ok(Some(n)) => n,
                };
                let batch = match next {
                    Ok(b) => b,
                    Err(e) => {
                        let _ = batch_tx.send(Err(e.into())).await;
                        break;
                    }
                };
                let room = max_rows - rows;
                let batch = if batch.num_rows() > room {
                    flag.store(true, Ordering::Release);
                    batch.slice(0, room)
                } else {
                    batch
                };
                rows += batch.num_rows();
                if batch.num_rows() > 0 && batch_tx.send(Ok(batch)).await.is_err() {
                    break; // client went away: dropping the stream cancels the plan
                }
                if flag.load(Ordering::Acquire) {
                    break;
                }
            }
        });
        let schema = schema_rx
            .await
            .map_err(|_| Error::Internal("query task ended unexpectedly".into()))??;
        Ok(QueryStream {
            schema,
            batches: batch_rx,
            truncated,
        })
    }
}
