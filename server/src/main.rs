//! The `gongkai` command: serve, inspect, convert, token.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use gongkai_server::Application;
use gongkai_server::settings::{Overrides, Settings};
use std::path::PathBuf;

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
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token for a user and print it once.
    Create {
        /// User name.
        #[arg(long)]
        user: String,
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
        .with_writer(std::io::stderr)
        .try_init();
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Inspect { file, json, sheet } => inspect(&file, json, sheet),
        Command::Convert { file, out, sheet } => convert(&file, &out, sheet),
        Command::Serve(args) => {
            init_tracing();
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(serve(args))
        }
        Command::Token { command } => {
            init_tracing();
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(token(command))
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let o = Overrides {
        listen: args.listen,
        admin_token: args.admin_token,
        max_upload_bytes: args.max_upload_bytes,
        no_examples: args.no_examples,
        ..overrides(&args.target)
    };
    let settings = Settings::load(&o)?;
    let app = Application::build(settings).await?;
    let addr = app.local_addr();
    println!("gongkai: listening on http://{addr}");
    println!("gongkai: try  curl http://{addr}/api/v1/datasets");
    app.run_until_stopped().await
}

async fn token(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { user, target } => {
            let settings = Settings::load(&overrides(&target))?;
            let catalog = gongkai_catalog::Catalog::connect(&settings.catalog_url()).await?;
            let token = gongkai_catalog::token::generate();
            catalog
                .add_token(&user, &token, "created with gongkai token create", "cli")
                .await
                .with_context(|| format!("creating a token for {user:?}"))?;
            println!("{token}");
            Ok(())
        }
    }
}

fn read_with_progress(file: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = indicatif::ProgressBar::new(len);
    if len < 16 << 20 {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message("reading");
    let mut buf = Vec::with_capacity(len as usize);
    let mut reader = bar.wrap_read(f);
    reader.read_to_end(&mut buf)?;
    bar.finish_and_clear();
    Ok(buf)
}

fn run_ingest(
    file: &std::path::Path,
    sheet: Option<String>,
) -> anyhow::Result<gongkai_ingest::Ingested> {
    let bytes = read_with_progress(file)?;
    let spinner = indicatif::ProgressBar::new_spinner();
    if bytes.len() < 16 << 20 {
        spinner.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    spinner.set_message("detecting the table, typing columns…");
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let options = gongkai_ingest::IngestOptions {
        sheet,
        ..Default::default()
    };
    let result = gongkai_ingest::ingest_for_publication(&name, &bytes, &options);
    spinner.finish_and_clear();
    Ok(result?)
}

fn inspect(file: &std::path::Path, json: bool, sheet: Option<String>) -> anyhow::Result<()> {
    let ingested = run_ingest(file, sheet)?;
    let r = &ingested.report;
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
) -> anyhow::Result<()> {
    let ingested = run_ingest(file, sheet)?;
    let bytes = gongkai_ingest::parquet_out::to_parquet(std::slice::from_ref(&ingested.batch))?;
    std::fs::write(out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "gongkai: wrote {} rows × {} columns to {} ({} bytes)",
        ingested.batch.num_rows(),
        ingested.batch.num_columns(),
        out.display(),
        bytes.len()
    );
    Ok(())
}
