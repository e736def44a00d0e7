//! Start-up wiring: settings → catalogue, store, engine → router → listener.

use crate::settings::Settings;
use anyhow::Context;
use gongkai_catalog::{Catalog, Role, WorkCalendar};
use gongkai_publish::{Publisher, storage};
use gongkai_query::{Limits, QueryEngine};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Shared state of every request handler.
#[derive(Clone)]
pub struct AppState {
    /// The application: catalogue, object store, search index and every use case.
    pub publisher: Publisher,
    /// SQL engine over published versions.
    pub engine: Arc<QueryEngine>,
    /// Settings in force.
    pub settings: Arc<Settings>,
    /// Recent complete query results, by ETag.
    pub results: Arc<crate::api::results::ResultCache>,
    /// Per-client request quotas and login throttling.
    pub limiter: Arc<crate::ratelimit::Limiter>,
}

impl AppState {
    /// Opens the catalogue, the object store and the query engine.
    pub async fn open(settings: Settings) -> anyhow::Result<AppState> {
        let publisher = open_publisher(&settings).await?;
        let q = &settings.query;
        let engine = Arc::new(QueryEngine::new(
            publisher.store().clone(),
            Limits {
                max_rows: q.max_rows,
                timeout: Duration::from_secs(q.timeout_secs),
                memory_per_query: q.memory_mb << 20,
                memory_total: q.memory_total_mb << 20,
                max_concurrent: q.max_concurrent,
                queue_timeout: Duration::from_secs(q.queue_secs),
                ..Limits::default()
            },
        )?);
        let limiter = Arc::new(crate::ratelimit::Limiter::new(&settings.rate_limit));
        Ok(AppState {
            publisher,
            engine,
            limiter,
            settings: Arc::new(settings),
            results: Arc::default(),
        })
    }
}

/// Opens the catalogue and the object store the settings name, and the
/// application over them (what `serve` and every CLI command run on).
pub async fn open_publisher(settings: &Settings) -> anyhow::Result<Publisher> {
    let catalog_url = settings.catalog_url();
    if catalog_url.starts_with("sqlite:") {
        std::fs::create_dir_all(&settings.data_dir).with_context(|| {
            format!(
                "creating the data directory {}",
                settings.data_dir.display()
            )
        })?;
    }
    let catalog = Catalog::connect(&catalog_url)
        .await
        .with_context(|| format!("opening the catalogue at {}", redact_url(&catalog_url)))?;
    let store = storage::from_url(&settings.store_url())?;
    let calendar = match &settings.calendar_file {
        None => WorkCalendar::china(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the calendar {}", path.display()))?;
            WorkCalendar::from_toml(&text)
                .with_context(|| format!("parsing the calendar {}", path.display()))?
        }
    };
    Ok(Publisher::new(
        catalog,
        store,
        settings.publish_config(),
        calendar,
    ))
}

/// Hides the password of a database URL for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// A built server: bound to its address, not yet serving.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    addr: SocketAddr,
}

impl Application {
    /// Opens everything, bootstraps the admin and examples, and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let state = AppState::open(settings).await?;
        bootstrap_admin(&state).await?;
        if state.settings.load_examples && state.publisher.catalog().count_datasets().await? == 0 {
            state.publisher.load_examples().await?;
        }
        let indexed = state
            .publisher
            .rebuild_search()
            .await
            .map_err(|e| anyhow::anyhow!("building the search index: {e}"))?;
        tracing::info!(datasets = indexed, "search index built");
        let listener = TcpListener::bind(&state.settings.listen)
            .await
            .with_context(|| format!("binding {}", state.settings.listen))?;
        let addr = listener.local_addr()?;
        Ok(Application {
            listener,
            state,
            addr,
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Shared state (for tests and tools).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGINT/SIGTERM, then lets in-flight requests finish.
    ///
    /// Connections are served by hyper with a timer, so a client must send
    /// its request head within `header_timeout_secs` (slow-header clients
    /// cannot hold connections), and request bodies that stall for
    /// `body_idle_timeout_secs` are abandoned (see the router). Shutdown waits
    /// up to `shutdown_grace_secs` for requests in flight.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
        use hyper_util::server::conn::auto;
        use tower::ServiceExt;

        let router = crate::router::router(self.state.clone());
        let scheduler = tokio::spawn(self.state.publisher.clone().run_scheduler());
        let sweeper = tokio::spawn(self.state.publisher.clone().sweep_periodically());
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(
                self.state.settings.header_timeout_secs.max(1),
            ));
        builder.http2().timer(TokioTimer::new());
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let shutdown = shutdown_signal();
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, then go on.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = &mut shutdown => break,
            };
            let router = router.clone();
            let service = hyper::service::service_fn(
                move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request
                        .extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    router.clone().oneshot(request.map(axum::body::Body::new))
                },
            );
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned();
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            });
        }
        // Stop accepting (the listener is dropped), let requests in flight finish.
        drop(self.listener);
        let grace = Duration::from_secs(self.state.settings.shutdown_grace_secs);
        if tokio::time::timeout(grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("requests still running after the shutdown grace period were cut off");
        }
        scheduler.abort();
        sweeper.abort();
        self.state.publisher.catalog().close().await;
        Ok(())
    }
}

async fn bootstrap_admin(state: &AppState) -> anyhow::Result<()> {
    state
        .publisher
        .catalog()
        .ensure_user("admin", Role::Admin, "system")
        .await?;
    if let Some(token) = &state.settings.admin_token {
        state
            .publisher
            .catalog()
            .add_token(
                "admin",
                token.expose(),
                "bootstrap (GONGKAI_ADMIN_TOKEN)",
                "system",
            )
            .await?;
    } else if !state.publisher.catalog().has_admin_token().await? {
        let token = gongkai_catalog::token::generate();
        state
            .publisher
            .catalog()
            .add_token("admin", &token, "bootstrap (generated)", "system")
            .await?;
        println!("gongkai: admin token (shown once, store it now): {token}");
        println!(
            "gongkai: use it as 'Authorization: Bearer <token>'; set a web password with \
             `gongkai user password admin` (reads it from standard input)"
        );
    } else {
        println!(
            "gongkai: an admin token exists; create another with `gongkai token create --user admin`"
        );
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
