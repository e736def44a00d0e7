//! The sandboxed execution engine.

use crate::{Error, Result};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::common::TableReference;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::GreedyMemoryPool;
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use futures::StreamExt;
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

/// Limits applied to every query.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most rows a query returns; more are cut and the result flagged truncated.
    pub max_rows: usize,
    /// Wall-clock limit from planning to last row.
    pub timeout: Duration,
    /// Memory one query may hold.
    pub memory_per_query: usize,
    /// Queries running at once (more are refused with [`Error::Busy`]).
    pub max_concurrent: usize,
    /// Threads of the query pool.
    pub threads: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_rows: 1_000_000,
            timeout: Duration::from_secs(30),
            memory_per_query: 512 << 20,
            max_concurrent: 8,
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
            .enable_all()
            .build()
            .map_err(|e| Error::Internal(format!("starting the query thread pool: {e}")))?;
        Ok(QueryEngine {
            registry,
            caches,
            schemas: Mutex::new(HashMap::new()),
            runtime: QueryRuntime(Some(runtime)),
            permits: Arc::new(Semaphore::new(limits.max_concurrent.max(1))),
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
            .with_memory_pool(Arc::new(GreedyMemoryPool::new(
                self.limits.memory_per_query,
            )))
            .with_disk_manager_builder(
                DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
            )
            .build_arc()?)
    }

    /// A sandboxed session with the given published tables registered.
    async fn session(self: &Arc<Self>, tables: &[PublishedTable]) -> Result<SessionContext> {
        let mut config = SessionConfig::new()
            .with_information_schema(true)
            .with_default_catalog_and_schema("gongkai", "public");
        config
            .options_mut()
            .set("datafusion.sql_parser.recursion_limit", "64")?;
        let ctx = SessionContext::new_with_config_rt(config, self.runtime_env()?);
        ctx.deregister_udtf("generate_series");
        ctx.deregister_udtf("range");
        let options =
            ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        for t in tables {
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
                .with_listing_options(options.clone())
                .with_schema(schema);
            let table = Arc::new(ListingTable::try_new(config)?);
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

    /// Plans and starts a query; returns once the first batch (or the end) is
    /// ready, so planning and early errors can still become an HTTP status.
    pub async fn execute(
        self: &Arc<Self>,
        sql: &str,
        tables: Vec<PublishedTable>,
    ) -> Result<QueryStream> {
        let permit = self
            .permits
            .clone()
            .try_acquire_owned()
            .map_err(|_| Error::Busy)?;
        let limits = self.limits.clone();
        self.run(
            sql,
            tables,
            Some(permit),
            Some(limits.max_rows),
            Some(limits.timeout),
        )
        .await
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
        self.run("SELECT * FROM data", vec![table], None, None, None)
            .await
    }

    async fn run(
        self: &Arc<Self>,
        sql: &str,
        tables: Vec<PublishedTable>,
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
        max_rows: Option<usize>,
        timeout: Option<Duration>,
    ) -> Result<QueryStream> {
        let (schema_tx, schema_rx) = oneshot::channel::<Result<SchemaRef>>();
        let (batch_tx, batch_rx) = mpsc::channel::<Result<RecordBatch>>(4);
        let truncated = Arc::new(AtomicBool::new(false));
        let engine = self.clone();
        let sql = sql.to_string();
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
                let options = SQLOptions::new()
                    .with_allow_ddl(false)
                    .with_allow_dml(false)
                    .with_allow_statements(false);
                let df = ctx.sql_with_options(&sql, options).await?;
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
