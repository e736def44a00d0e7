//! The `gongkai` command: serve, inspect, convert, token.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use gongkai_server::Application;
use gongkai_server::settings::{Overrides, Settings};
use std::path::PathBuf;

/// mimalloc: ingest and queries allocate many small strings, which it
/// hands out and takes back far faster than the system allocator (built
/// without transparent huge pages: see the workspace `Cargo.toml`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "gongkai",
    version,
    about = "公开 Gongkai — 政府开放数据发布平台 / open-data publishing for government agencies"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web API (embedded SQLite + local files by default).
    Serve(ServeArgs),
    /// Show the table detected in a spreadsheet, without storing anything.
    Inspect {
        /// The spreadsheet (xlsx, xls, ods, csv, tsv).
        file: PathBuf,
        /// Print the machine-readable report.
        #[arg(long)]
        json: bool,
        /// Use this sheet instead of the detected main table.
        #[arg(long)]
        sheet: Option<String>,
        /// Kind of list, which sets the redaction defaults: social_assistance,
        /// subsidy, land_compensation, penalty or other.
        #[arg(long, default_value = "other")]
        category: String,
    },
    /// Run the ingest pipeline on a file and write Parquet locally.
    Convert {
        /// The spreadsheet.
        file: PathBuf,
        /// Output Parquet file.
        out: PathBuf,
        /// Use this sheet instead of the detected main table.
        #[arg(long)]
        sheet: Option<String>,
        /// Kind of list, which sets the redaction defaults: social_assistance,
        /// subsidy, land_compensation, penalty or other.
        #[arg(long, default_value = "other")]
        category: String,
    },
    /// Re-scan every published version with today's personal-data detectors.
    ///
    /// Exits with status 2 when something is found; `--withdraw` takes the
    /// affected datasets down (audited, with the reason shown to the public).
    Audit {
        /// Withdraw datasets in which identifiers are found.
        #[arg(long)]
        withdraw: bool,
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: StoreArgs,
    },
    /// Delete stored objects no catalogue row references (left by crashes or
    /// failed uploads), staging files of interrupted writes and, with
    /// `raw_retention = "until_published"`, raw uploads of versions that can
    /// no longer be published; `serve` also does this every six hours.
    Gc {
        /// Only report what would be deleted.
        #[arg(long)]
        dry_run: bool,
        /// Keep unreferenced objects younger than this many minutes (uploads in flight).
        #[arg(long, default_value_t = 60)]
        grace_minutes: u64,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: StoreArgs,
    },
    /// Manage agencies (机构).
    Agency {
        #[command(subcommand)]
        command: AgencyCommand,
    },
    /// Manage users and their roles.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Subcommand)]
enum AgencyCommand {
    /// Register an agency.
    Add {
        /// URL name (lowercase a-z, 0-9, '-', '_').
        slug: String,
        /// Chinese name.
        #[arg(long)]
        name: String,
        /// English name.
        #[arg(long)]
        name_en: Option<String>,
        /// Parent agency slug.
        #[arg(long)]
        parent: Option<String>,
        /// County government, department, township …
        #[arg(long)]
        kind: Option<String>,
        /// Let editors publish without a reviewer's approval.
        #[arg(long)]
        no_review: bool,
        #[command(flatten)]
        target: StoreArgs,
    },
    /// List agencies.
    List {
        #[command(flatten)]
        target: StoreArgs,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user with a role in an agency.
    Add {
        /// Login name.
        name: String,
        /// Agency slug (required for editors and reviewers; omit for platform admins).
        #[arg(long)]
        agency: Option<String>,
        /// editor, reviewer or admin.
        #[arg(long)]
        role: String,
        /// Read the web login password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        target: StoreArgs,
    },
    /// Set a user's password (read from the first line of standard input).
    Password {
        /// Login name.
        name: String,
        #[command(flatten)]
        target: StoreArgs,
    },
    /// List users.
    List {
        #[command(flatten)]
        target: StoreArgs,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token for a user and print it once.
    Create {
        /// User name.
        #[arg(long)]
        user: String,
        /// Label to recognise the token by.
        #[arg(long, default_value = "created with gongkai token create")]
        label: String,
        /// read (see drafts, change nothing) or write (everything the role allows).
        #[arg(long, default_value = "write")]
        scope: String,
        /// Days until it expires, at least 1 (default from settings: `token_days`, 365).
        #[arg(long, allow_negative_numbers = true)]
        expires_days: Option<i64>,
        #[command(flatten)]
        target: StoreArgs,
    },
    /// List a user's tokens (never the secrets).
    List {
        /// User name.
        #[arg(long)]
        user: String,
        #[command(flatten)]
        target: StoreArgs,
    },
    /// Revoke a token by id.
    Revoke {
        /// Token id (see `gongkai token list`).
        id: i64,
        #[command(flatten)]
        target: StoreArgs,
    },
}

#[derive(Args, Clone, Default)]
struct StoreArgs {
    /// Config file (TOML).
    #[arg(long, env = "GONGKAI_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory for the embedded catalogue and store.
    #[arg(long, env = "GONGKAI_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Catalogue URL: sqlite://PATH or postgres://…
    #[arg(long, env = "GONGKAI_CATALOG")]
    catalog: Option<String>,
    /// Object store URL: file:///path, s3://bucket/prefix or memory://
    #[arg(long, env = "GONGKAI_STORE")]
    store: Option<String>,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    target: StoreArgs,
    /// Address to listen on.
    #[arg(long, env = "GONGKAI_LISTEN")]
    listen: Option<String>,
    /// Bootstrap admin token (otherwise generated and printed once).
    #[arg(long, env = "GONGKAI_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Largest accepted upload, in bytes.
    #[arg(long, env = "GONGKAI_MAX_UPLOAD_BYTES")]
    max_upload_bytes: Option<u64>,
    /// Do not load the example datasets into an empty catalogue.
    #[arg(long, env = "GONGKAI_NO_EXAMPLES")]
    no_examples: bool,
    /// Seconds between checks for scheduled publications.
    #[arg(long, env = "GONGKAI_SCHEDULER_INTERVAL_SECS")]
    scheduler_interval_secs: Option<u64>,
}

fn overrides(t: &StoreArgs) -> Overrides {
    Overrides {
        config: t.config.clone(),
        data_dir: t.data_dir.clone(),
        catalog: t.catalog.clone(),
        store: t.store.clone(),
        ..Overrides::default()
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("GONGKAI_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(gongkai_server::logging::MaskedStderr)
        .try_init();
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Inspect {
            file,
            json,
            sheet,
            category,
        } => inspect(&file, json, sheet, &category),
        Command::Convert {
            file,
            out,
            sheet,
            category,
        } => convert(&file, &out, sheet, &category),
        Command::Serve(args) => {
            init_tracing();
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(serve(args))
        }
        Command::Token { command } => {
            init_tracing();
            tokio::runtime::Runtime::new()?.block_on(token(command))
        }
        Command::Audit {
            withdraw,
            json,
            target,
        } => {
            init_tracing();
            let found = tokio::runtime::Runtime::new()?.block_on(audit(withdraw, json, target))?;
            if found {
                std::process::exit(2);
            }
            Ok(())
        }
        Command::Gc {
            dry_run,
            grace_minutes,
            json,
            target,
        } => {
            init_tracing();
            tokio::runtime::Runtime::new()?.block_on(gc(dry_run, grace_minutes, json, target))
        }
        Command::Agency { command } => {
            init_tracing();
            tokio::runtime::Runtime::new()?.block_on(agency(command))
        }
        Command::User { command } => {
            init_tracing();
            tokio::runtime::Runtime::new()?.block_on(user(command))
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let o = Overrides {
        listen: args.listen,
        admin_token: args.admin_token,
        max_upload_bytes: args.max_upload_bytes,
        no_examples: args.no_examples,
        scheduler_interval_secs: args.scheduler_interval_secs,
        ..overrides(&args.target)
    };
    let settings = Settings::load(&o)?;
    let app = Application::build(settings).await?;
    let addr = app.local_addr();
    println!("gongkai: listening on http://{addr}");
    println!("gongkai: try  curl http://{addr}/api/v1/datasets");
    app.run_until_stopped().await
}

/// Opens the catalogue the settings point at (same data dir or URL as `serve`).
async fn open_catalog(target: &StoreArgs) -> anyhow::Result<(gongkai_catalog::Catalog, Settings)> {
    let settings = Settings::load(&overrides(target))?;
    let url = settings.catalog_url();
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating {}", settings.data_dir.display()))?;
    }
    let catalog = gongkai_catalog::Catalog::connect(&url)
        .await
        .with_context(|| {
            format!(
                "opening the catalogue at {}",
                gongkai_server::redact_url(&url)
            )
        })?;
    Ok((catalog, settings))
}

async fn gc(
    dry_run: bool,
    grace_minutes: u64,
    json: bool,
    target: StoreArgs,
) -> anyhow::Result<()> {
    let settings = Settings::load(&overrides(&target))?;
    let publisher = gongkai_server::open_publisher(&settings).await?;
    let grace = std::time::Duration::from_secs(grace_minutes.saturating_mul(60));
    let sweep = publisher.sweep(grace, dry_run).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&sweep)?);
    } else {
        let verb = if dry_run {
            "would be deleted"
        } else {
            "deleted"
        };
        println!(
            "gongkai gc: {} object(s), {} referenced, {} unreferenced {verb} ({} bytes), {} younger than {grace_minutes} min kept",
            sweep.objects,
            sweep.referenced,
            sweep.deleted.len(),
            sweep.deleted_bytes,
            sweep.young
        );
        println!(
            "gongkai gc: {} raw upload(s) of versions that can no longer be published {verb}",
            sweep.raw_expired.len()
        );
        for e in &sweep.raw_expired {
            println!("  {}@v{}: {}", e.dataset, e.version, e.reason);
        }
        if sweep.staging_checked {
            println!(
                "gongkai gc: {} staging file(s) of interrupted writes {verb} ({} bytes), {} younger kept",
                sweep.staging_deleted.len(),
                sweep.staging_bytes,
                sweep.staging_young
            );
        }
    }
    publisher.catalog().close().await;
    Ok(())
}

async fn audit(withdraw: bool, json: bool, target: StoreArgs) -> anyhow::Result<bool> {
    let settings = Settings::load(&overrides(&target))?;
    let publisher = gongkai_server::open_publisher(&settings).await?;
    let (scanned, findings) = publisher.audit_published(withdraw).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"scanned": scanned, "findings": findings})
            )?
        );
    } else {
        println!(
            "gongkai audit: {scanned} published version(s) scanned, {} with personal identifiers",
            findings.len()
        );
        for f in &findings {
            let first: Vec<String> = f
                .first
                .iter()
                .map(|(c, r, k)| format!("{c} row {r} ({k})"))
                .collect();
            println!(
                "  {}@v{}: {} identifier(s), e.g. {}{}",
                f.dataset,
                f.version,
                f.leaks,
                first.join(", "),
                if f.withdrawn { " — WITHDRAWN" } else { "" }
            );
        }
    }
    publisher.catalog().close().await;
    Ok(!findings.is_empty())
}

/// Reads one line (a password) from standard input.
fn password_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let pw = line.trim_end_matches(['\r', '\n']).to_string();
    anyhow::ensure!(!pw.is_empty(), "no password on standard input");
    Ok(pw)
}

async fn token(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            user,
            label,
            scope,
            expires_days,
            target,
        } => {
            let (catalog, settings) = open_catalog(&target).await?;
            let scope: gongkai_catalog::Scope = scope
                .parse()
                .map_err(|_| anyhow::anyhow!("--scope must be read or write"))?;
            let token = gongkai_catalog::token::generate();
            let expires_at = gongkai_server::token_expiry(expires_days, settings.token_days)
                .map_err(|e| anyhow::anyhow!("--expires-days: {}", e.message))?;
            catalog
                .create_token(
                    &gongkai_catalog::NewToken {
                        user: user.clone(),
                        label,
                        scope,
                        kind: "api",
                        expires_at: expires_at.clone(),
                    },
                    &token,
                    "cli",
                )
                .await
                .with_context(|| format!("creating a token for {user:?}"))?;
            println!("{token}");
            eprintln!(
                "gongkai: token for {user} ({scope}), expires {}; it is shown only once",
                expires_at.as_deref().unwrap_or("never")
            );
        }
        TokenCommand::List { user, target } => {
            let (catalog, _) = open_catalog(&target).await?;
            catalog.user(&user).await?;
            println!(
                "{:<6} {:<8} {:<8} {:<10} {:<26} {:<26} label",
                "id", "kind", "scope", "hash", "expires", "revoked"
            );
            for t in catalog.tokens(Some(&user)).await? {
                println!(
                    "{:<6} {:<8} {:<8} {:<10} {:<26} {:<26} {}",
                    t.id,
                    t.kind,
                    t.scope,
                    t.hash_prefix,
                    t.expires_at.unwrap_or_else(|| "never".into()),
                    t.revoked_at.unwrap_or_default(),
                    t.label.unwrap_or_default()
                );
            }
        }
        TokenCommand::Revoke { id, target } => {
            let (catalog, _) = open_catalog(&target).await?;
            let t = catalog.revoke_token(id, "cli").await?;
            eprintln!("gongkai: token {id} of {} revoked", t.user);
        }
    }
    Ok(())
}

async fn agency(command: AgencyCommand) -> anyhow::Result<()> {
    match command {
        AgencyCommand::Add {
            slug,
            name,
            name_en,
            parent,
            kind,
            no_review,
            target,
        } => {
            let (catalog, _) = open_catalog(&target).await?;
            let a = catalog
                .add_agency(
                    &gongkai_catalog::NewAgency {
                        slug,
                        name,
                        name_en,
                        parent,
                        kind,
                        review_required: Some(!no_review),
                    },
                    "cli",
                )
                .await?;
            println!("{}", serde_json::to_string(&a)?);
        }
        AgencyCommand::List { target } => {
            let (catalog, _) = open_catalog(&target).await?;
            for a in catalog.agencies().await? {
                println!(
                    "{:<32} {:<24} parent={} review={}",
                    a.slug,
                    a.name,
                    a.parent.unwrap_or_else(|| "-".into()),
                    if a.review_required { "required" } else { "off" }
                );
            }
        }
    }
    Ok(())
}

async fn user(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            name,
            agency,
            role,
            password_stdin,
            target,
        } => {
            let role: gongkai_catalog::Role = role
                .parse()
                .map_err(|_| anyhow::anyhow!("--role must be editor, reviewer or admin"))?;
            let password_hash = if password_stdin {
                Some(gongkai_catalog::hash_password(&password_from_stdin()?)?)
            } else {
                None
            };
            let (catalog, _) = open_catalog(&target).await?;
            let u = catalog
                .add_user(
                    &gongkai_catalog::NewUser {
                        name,
                        role,
                        agency,
                        password_hash,
                    },
                    "cli",
                )
                .await?;
            println!("{}", serde_json::to_string(&u)?);
        }
        UserCommand::Password { name, target } => {
            let hash = gongkai_catalog::hash_password(&password_from_stdin()?)?;
            let (catalog, _) = open_catalog(&target).await?;
            catalog.set_password(&name, &hash, "cli").await?;
            eprintln!("gongkai: password of {name} set");
        }
        UserCommand::List { target } => {
            let (catalog, _) = open_catalog(&target).await?;
            for u in catalog.users().await? {
                println!(
                    "{:<24} {:<9} {:<32} {}{}",
                    u.name,
                    u.role,
                    u.agency.unwrap_or_else(|| "(platform)".into()),
                    if u.has_password {
                        "password"
                    } else {
                        "token only"
                    },
                    if u.disabled_at.is_some() {
                        " DISABLED"
                    } else {
                        ""
                    }
                );
            }
        }
    }
    Ok(())
}

/// Runs the upload pipeline over a local file (streamed when it is large
/// delimited text) with a progress bar on large files; hands each redacted
/// batch (or a restart) to `on_batch` and returns the report.
fn run_ingest(
    file: &std::path::Path,
    sheet: Option<String>,
    category: &str,
    on_batch: impl FnMut(gongkai_ingest::stream::Output) -> anyhow::Result<()>,
) -> anyhow::Result<gongkai_ingest::Report> {
    let category = gongkai_ingest::privacy::Category::from_name(category).ok_or_else(|| {
        anyhow::anyhow!(
            "--category must be social_assistance, subsidy, land_compensation, penalty or other"
        )
    })?;
    let len = std::fs::metadata(file)
        .with_context(|| format!("opening {}", file.display()))?
        .len();
    let bar = indicatif::ProgressBar::new(len);
    if len < 16 << 20 {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message("reading");
    let progress = |pass: u8, done: u64, _total: u64| {
        let msg = if pass == 1 {
            "读取、定型、转换 reading, typing, converting"
        } else {
            "类型有变，再次转换 types changed after the first rows: converting again"
        };
        if bar.message() != msg {
            bar.set_message(msg);
            bar.reset();
        }
        bar.set_position(done);
    };
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let options = gongkai_ingest::IngestOptions {
        sheet,
        ..Default::default()
    };
    let policy = gongkai_ingest::privacy::RedactionPolicy {
        category,
        ..Default::default()
    };
    let result = gongkai_ingest::stream::ingest_path(
        &name,
        file,
        &options,
        &policy,
        Some(&progress),
        on_batch,
    );
    bar.finish_and_clear();
    result
}

fn inspect(
    file: &std::path::Path,
    json: bool,
    sheet: Option<String>,
    category: &str,
) -> anyhow::Result<()> {
    let report = run_ingest(file, sheet, category, |_| Ok(()))?;
    let r = &report;
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
        return Ok(());
    }
    println!(
        "文件 File: {} ({}{})",
        r.file,
        r.format,
        r.encoding
            .as_ref()
            .map(|e| format!(", {e}"))
            .unwrap_or_default()
    );
    for s in &r.sheets {
        println!();
        println!("工作表 Sheet {:?}", s.name);
        if let Some(t) = &s.title {
            println!("  标题 Title: {t}");
        }
        if let Some(u) = &s.unit {
            println!("  单位 Unit: {u}");
        }
        if let Some([a, b]) = s.header_rows {
            println!("  表头 Header rows: {}–{}", a + 1, b + 1);
        }
        println!(
            "  数据行 Data rows: {}  (blank {}, totals {}, notes {})",
            s.data_rows,
            s.blank_rows,
            s.totals.len(),
            s.footnotes.len()
        );
        println!(
            "  {:<36} {:<22} {:<18} {:<8} examples",
            "column", "header", "type", "unit"
        );
        for c in &s.columns {
            println!(
                "  {:<36} {:<22} {:<18} {:<8} {}",
                c.name,
                c.path.join("/"),
                c.data_type,
                c.unit.clone().unwrap_or_default(),
                c.examples.join(" | ")
            );
        }
    }
    if !r.privacy.is_empty() {
        println!();
        println!("个人信息 Personal information ({}):", r.privacy.len());
        for f in &r.privacy {
            println!(
                "  {:<24} {:<16} {:?} ({} cells) → {}",
                f.path.join("/"),
                f.kind.name(),
                f.action,
                f.cells,
                f.preview.join(" | ")
            );
        }
    }
    if !r.warnings.is_empty() {
        println!();
        println!("提示 Warnings ({}):", r.warnings.len());
        for w in r.warnings.iter().take(40) {
            let at = [
                w.sheet.clone(),
                w.row.map(|r| format!("row {r}")),
                w.column.clone().map(|c| format!("column {c}")),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
            println!("  [{}] {} {}", w.code, at, w.message);
        }
    }
    Ok(())
}

fn convert(
    file: &std::path::Path,
    out: &std::path::Path,
    sheet: Option<String>,
    category: &str,
) -> anyhow::Result<()> {
    let output =
        std::fs::File::create(out).with_context(|| format!("writing {}", out.display()))?;
    let mut sink = gongkai_ingest::parquet_out::ParquetSink::new(output);
    let mut columns = 0usize;
    let report = run_ingest(file, sheet, category, |output| match output {
        gongkai_ingest::stream::Output::Batch(batch) => {
            columns = batch.num_columns();
            Ok(sink.write(batch)?)
        }
        gongkai_ingest::stream::Output::Restart => Ok(sink.restart()?),
    })?;
    let rows = sink.finish()?;
    let bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "gongkai: wrote {rows} rows × {columns} columns to {} ({bytes} bytes; {} warnings, {} personal columns)",
        out.display(),
        report.warnings.len(),
        report.privacy.len()
    );
    Ok(())
}
