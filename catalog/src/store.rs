//! The metadata store: one query layer over SQLite or PostgreSQL.

use crate::model::*;
use crate::{Error, Result};
use sqlx::any::{AnyPoolOptions, AnyRow};
// Dynamic SQL below only splices in constant column lists and fixed filters,
// never caller input (which is always bound as a parameter).
use sqlx::{AnyPool, AssertSqlSafe, Row};
use std::str::FromStr;

/// Which database holds the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// Handle to the catalogue. Cheap to clone.
#[derive(Clone)]
pub struct Catalog {
    pub(crate) pool: AnyPool,
    backend: Backend,
}

/// What ingest hands over to record a new draft version.
#[derive(Debug, Clone)]
pub struct NewVersion {
    /// File name as uploaded.
    pub original_name: String,
    /// Private key of the raw upload.
    pub raw_key: String,
    /// Private key of the draft Parquet.
    pub draft_key: String,
    /// Data rows.
    pub rows: i64,
    /// Parquet size.
    pub bytes: i64,
    /// Parquet SHA-256 (hex).
    pub sha256: String,
    /// Data dictionary.
    pub columns: Vec<Column>,
    /// Ingest report.
    pub report: serde_json::Value,
    /// Uploader.
    pub created_by: String,
}

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(crate) const DATASET_COLUMNS: &str = "d.id, d.slug, d.title, d.description, a.slug AS agency, d.status, \
     d.latest_version, d.created_at, d.updated_at, d.published_at, d.disclosure, d.disclosure_reason, \
     d.decision_date, d.withdrawn_reason, d.withdrawn_at, d.category, d.metadata_json, d.revision";

pub(crate) const VERSION_COLUMNS: &str = "dataset_id, number, status, original_name, raw_key, draft_key, \
     public_key, row_count, byte_size, sha256, columns_json, report_json, change_note, created_by, \
     created_at, published_by, published_at, submitted_by, submitted_at, reviewed_by, reviewed_at, \
     review_comment, scheduled_at, correction_notice";

pub(crate) fn dataset_from_row(row: &AnyRow) -> Result<Dataset> {
    Ok(Dataset {
        id: row.try_get("id")?,
        slug: row.try_get("slug")?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        agency: row.try_get("agency")?,
        status: DatasetStatus::from_str(&row.try_get::<String, _>("status")?)?,
        latest_version: row.try_get("latest_version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        published_at: row.try_get("published_at")?,
        disclosure: Disclosure::from_str(&row.try_get::<String, _>("disclosure")?)?,
        disclosure_reason: row.try_get("disclosure_reason")?,
        decision_date: row.try_get("decision_date")?,
        withdrawn_reason: row.try_get("withdrawn_reason")?,
        withdrawn_at: row.try_get("withdrawn_at")?,
        category: row.try_get("category")?,
        meta: serde_json::from_str(&row.try_get::<String, _>("metadata_json")?)
            .map_err(|e| Error::Corrupt(format!("dataset metadata: {e}")))?,
        revision: row.try_get("revision")?,
    })
}

pub(crate) fn version_from_row(row: &AnyRow) -> Result<Version> {
    let columns: String = row.try_get("columns_json")?;
    let report: String = row.try_get("report_json")?;
    Ok(Version {
        dataset_id: row.try_get("dataset_id")?,
        number: row.try_get("number")?,
        status: VersionStatus::from_str(&row.try_get::<String, _>("status")?)?,
        original_name: row.try_get("original_name")?,
        raw_key: row.try_get("raw_key")?,
        draft_key: row.try_get("draft_key")?,
        public_key: row.try_get("public_key")?,
        rows: row.try_get("row_count")?,
        bytes: row.try_get("byte_size")?,
        sha256: row.try_get("sha256")?,
        columns: serde_json::from_str(&columns)
            .map_err(|e| Error::Corrupt(format!("columns of a version: {e}")))?,
        report: serde_json::from_str(&report)
            .map_err(|e| Error::Corrupt(format!("report of a version: {e}")))?,
        change_note: row.try_get("change_note")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        published_by: row.try_get("published_by")?,
        published_at: row.try_get("published_at")?,
        submitted_by: row.try_get("submitted_by")?,
        submitted_at: row.try_get("submitted_at")?,
        reviewed_by: row.try_get("reviewed_by")?,
        reviewed_at: row.try_get("reviewed_at")?,
        review_comment: row.try_get("review_comment")?,
        scheduled_at: row.try_get("scheduled_at")?,
        correction_notice: row.try_get("correction_notice")?,
    })
}

/// A unique-key violation becomes [`Error::Conflict`] on `kind`/`key`; anything else stays a database error.
pub(crate) fn conflict_or(e: sqlx::Error, kind: &'static str, key: &str) -> Error {
    if is_unique_violation(&e) {
        Error::Conflict {
            kind,
            key: key.to_string(),
        }
    } else {
        e.into()
    }
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            db.is_unique_violation() || db.message().contains("UNIQUE constraint failed")
        }
        _ => false,
    }
}

impl Catalog {
    /// Opens (creating if needed) the catalogue at `url` and brings its schema up to date.
    ///
    /// `sqlite://PATH` (the file is created) or `postgres://…`/`postgresql://…`.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(Error::UnsupportedUrl(url.to_string()));
        };
        let max_connections = match backend {
            Backend::Sqlite => {
                migrate_sqlite(url).await?;
                4
            }
            Backend::Postgres => {
                migrate_postgres(url).await?;
                16
            }
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .connect(url)
            .await?;
        Ok(Catalog { pool, backend })
    }

    /// The database behind this catalogue.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes all connections.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Begins a transaction that will write: on SQLite it takes the write
    /// lock at once (`BEGIN IMMEDIATE`), so a read inside it cannot go stale
    /// before the write (a deferred transaction would fail to upgrade, or
    /// write over a change committed after its read); on PostgreSQL rows are
    /// locked by [`dataset_in`] with `FOR UPDATE`.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    // ---------------------------------------------------------------- datasets

    /// Creates a dataset in `draft` status.
    pub async fn create_dataset(&self, new: &NewDataset, actor: &str) -> Result<Dataset> {
        validate_slug(&new.slug)?;
        let title = new.title.trim();
        if title.is_empty() {
            return Err(Error::Invalid {
                field: "title",
                reason: "must not be empty".into(),
            });
        }
        let agency_id = match &new.agency {
            Some(slug) => Some(self.agency_id(slug).await?),
            None => None,
        };
        let disclosure = new.disclosure.unwrap_or(Disclosure::Public);
        let reason = clean(new.disclosure_reason.as_deref());
        check_disclosure(disclosure, reason.as_deref())?;
        let decision_date = check_date(new.decision_date.as_deref())?;
        let category = check_category(new.category.as_deref())?;
        let meta = new.meta.clone().checked()?;
        let meta_json = serde_json::to_string(&meta).map_err(|e| Error::Corrupt(e.to_string()))?;
        let at = now();
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO datasets (slug, title, description, agency_id, status, created_at, updated_at, \
             disclosure, disclosure_reason, decision_date, category, metadata_json) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&new.slug)
        .bind(title)
        .bind(&new.description)
        .bind(agency_id)
        .bind(DatasetStatus::Draft.as_str())
        .bind(&at)
        .bind(&at)
        .bind(disclosure.as_str())
        .bind(&reason)
        .bind(&decision_date)
        .bind(&category)
        .bind(&meta_json)
        .execute(&mut *tx)
        .await;
        inserted.map_err(|e| conflict_or(e, "dataset", &new.slug))?;
        audit(
            &mut tx,
            actor,
            "dataset.create",
            &format!("dataset:{}", new.slug),
            serde_json::json!({"after": {"slug": new.slug, "title": title, "agency": new.agency,
                "disclosure": disclosure.as_str(), "disclosure_reason": reason, "decision_date": decision_date}}),
        )
        .await?;
        tx.commit().await?;
        self.dataset(&new.slug).await
    }

    /// A dataset by its internal id.
    pub async fn dataset_by_id(&self, id: i64) -> Result<Dataset> {
        let sql = format!(
            "SELECT {DATASET_COLUMNS} FROM datasets d LEFT JOIN agencies a ON a.id = d.agency_id \
             WHERE d.id = $1"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("dataset", id))?;
        dataset_from_row(&row)
    }

    /// Looks a dataset up by slug, whatever its status.
    pub async fn dataset(&self, slug: &str) -> Result<Dataset> {
        let sql = format!(
            "SELECT {DATASET_COLUMNS} FROM datasets d LEFT JOIN agencies a ON a.id = d.agency_id \
             WHERE d.slug = $1"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(slug)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("dataset", slug))?;
        dataset_from_row(&row)
    }

    /// Lists datasets, newest first. `public_only` hides drafts (datasets never published).
    pub async fn list_datasets(
        &self,
        public_only: bool,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Dataset>, i64)> {
        let filter = if public_only {
            "WHERE d.status <> 'draft' AND d.disclosure <> 'not_public'"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {DATASET_COLUMNS} FROM datasets d LEFT JOIN agencies a ON a.id = d.agency_id \
             {filter} ORDER BY d.updated_at DESC, d.id DESC LIMIT $1 OFFSET $2"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        let datasets = rows.iter().map(dataset_from_row).collect::<Result<_>>()?;
        let count_sql = format!("SELECT COUNT(*) AS n FROM datasets d {filter}");
        let total: i64 = sqlx::query(AssertSqlSafe(count_sql))
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        Ok((datasets, total))
    }

    /// Number of datasets of any status.
    pub async fn count_datasets(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM datasets")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }

    // ---------------------------------------------------------------- versions

    /// Records an ingested upload as the next draft version of a dataset.
    pub async fn create_version(&self, dataset: &Dataset, new: NewVersion) -> Result<Version> {
        let columns = serde_json::to_string(&new.columns)
            .map_err(|e| Error::Corrupt(format!("columns: {e}")))?;
        let report = serde_json::to_string(&new.report)
            .map_err(|e| Error::Corrupt(format!("report: {e}")))?;
        // Two uploads may race for the same number; the UNIQUE constraint decides.
        for _ in 0..5 {
            let mut tx = self.pool.begin().await?;
            let next: i64 = sqlx::query(
                "SELECT COALESCE(MAX(number), 0) + 1 AS n FROM versions WHERE dataset_id = $1",
            )
            .bind(dataset.id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
            let inserted = sqlx::query(
                "INSERT INTO versions (dataset_id, number, status, original_name, raw_key, draft_key, \
                 row_count, byte_size, sha256, columns_json, report_json, created_by, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(dataset.id)
            .bind(next)
            .bind(VersionStatus::Draft.as_str())
            .bind(&new.original_name)
            .bind(&new.raw_key)
            .bind(&new.draft_key)
            .bind(new.rows)
            .bind(new.bytes)
            .bind(&new.sha256)
            .bind(&columns)
            .bind(&report)
            .bind(&new.created_by)
            .bind(now())
            .execute(&mut *tx)
            .await;
            match inserted {
                Err(e) if is_unique_violation(&e) => continue,
                Err(e) => return Err(e.into()),
                Ok(_) => {}
            }
            audit(
                &mut tx,
                &new.created_by,
                "version.create",
                &format!("dataset:{}@v{next}", dataset.slug),
                serde_json::json!({"after": {"status": "draft", "rows": new.rows, "file": new.original_name}}),
            )
            .await?;
            tx.commit().await?;
            return self.version(dataset.id, next).await;
        }
        Err(Error::State(format!(
            "could not allocate a version number for {} (too many concurrent uploads)",
            dataset.slug
        )))
    }

    /// One version of a dataset, whatever its status.
    pub async fn version(&self, dataset_id: i64, number: i64) -> Result<Version> {
        let sql =
            format!("SELECT {VERSION_COLUMNS} FROM versions WHERE dataset_id = $1 AND number = $2");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(dataset_id)
            .bind(number)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("version", format!("{dataset_id}/v{number}")))?;
        version_from_row(&row)
    }

    /// All versions of a dataset, oldest first.
    pub async fn versions(&self, dataset_id: i64) -> Result<Vec<Version>> {
        let sql =
            format!("SELECT {VERSION_COLUMNS} FROM versions WHERE dataset_id = $1 ORDER BY number");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(dataset_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(version_from_row).collect()
    }

    /// Makes a version the dataset's public version.
    ///
    /// The caller has already written the public object at `public_key`; this
    /// commit is what makes it visible. The previous public version becomes
    /// `superseded`. The workflow rules of [`Catalog::check_publishable`] are
    /// checked again inside the transaction.
    pub async fn publish_version(
        &self,
        dataset: &Dataset,
        number: i64,
        public_key: &str,
        actor: &str,
    ) -> Result<Version> {
        let at = now();
        let review_required = self.review_required(dataset).await?;
        let mut tx = self.begin_write().await?;
        let version = version_in(&mut tx, dataset, number).await?;
        // Re-read the dataset inside the transaction (it may have been
        // withdrawn meanwhile), locked so a withdrawal cannot slip between
        // this check and the commit.
        let current = dataset_in(&mut tx, self.backend, dataset.id).await?;
        crate::workflow::check_publishable(&current, &version, review_required)?;
        sqlx::query("UPDATE versions SET status = 'superseded' WHERE dataset_id = $1 AND status = 'published'")
            .bind(dataset.id)
            .execute(&mut *tx)
            .await?;
        let changed = sqlx::query(
            "UPDATE versions SET status = 'published', public_key = $1, published_by = $2, published_at = $3, \
             scheduled_at = NULL WHERE dataset_id = $4 AND number = $5 AND status = $6",
        )
        .bind(public_key)
        .bind(actor)
        .bind(&at)
        .bind(dataset.id)
        .bind(number)
        .bind(version.status.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed != 1 {
            return Err(changed_meanwhile(dataset, number));
        }
        // Publishing a correction reinstates a withdrawn dataset.
        let changed = sqlx::query(
            "UPDATE datasets SET status = 'published', latest_version = $1, updated_at = $2, \
             published_at = COALESCE(published_at, $3), withdrawn_reason = NULL, withdrawn_at = NULL, \
             withdrawn_by = NULL, revision = revision + 1 WHERE id = $4 AND revision = $5",
        )
        .bind(number)
        .bind(&at)
        .bind(&at)
        .bind(dataset.id)
        .bind(current.revision)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed != 1 {
            return Err(changed_meanwhile(dataset, number));
        }
        audit(
            &mut tx,
            actor,
            "version.publish",
            &format!("dataset:{}@v{number}", dataset.slug),
            serde_json::json!({
                "before": {"status": version.status.as_str(), "dataset_status": current.status.as_str(),
                           "latest_version": current.latest_version, "revision": current.revision},
                "after": {"status": "published", "dataset_status": "published", "latest_version": number,
                          "revision": current.revision + 1},
                "correction_notice": version.correction_notice,
            }),
        )
        .await?;
        tx.commit().await?;
        self.version(dataset.id, number).await
    }

    /// Whether publishing in the dataset's agency needs a second person's approval.
    /// Datasets without an agency (platform datasets) always need it.
    pub async fn review_required(&self, dataset: &Dataset) -> Result<bool> {
        let Some(agency) = &dataset.agency else {
            return Ok(true);
        };
        let flag: i64 = sqlx::query("SELECT review_required FROM agencies WHERE slug = $1")
            .bind(agency)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get("review_required"))
            .transpose()?
            .unwrap_or(1);
        Ok(flag != 0)
    }

    /// Forgets the raw upload of a version (after retention deleted the object).
    pub async fn clear_raw_key(&self, dataset_id: i64, number: i64) -> Result<()> {
        sqlx::query("UPDATE versions SET raw_key = NULL WHERE dataset_id = $1 AND number = $2")
            .bind(dataset_id)
            .bind(number)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets the draft Parquet of a published version (after it was copied to its public key).
    pub async fn clear_draft_key(&self, dataset_id: i64, number: i64) -> Result<()> {
        sqlx::query("UPDATE versions SET draft_key = NULL WHERE dataset_id = $1 AND number = $2")
            .bind(dataset_id)
            .bind(number)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every public version the SQL engine may read, with the latest flagged.
    pub async fn published_tables(&self) -> Result<Vec<PublishedTable>> {
        let rows = sqlx::query(
            "SELECT d.slug, d.id AS dataset_id, v.number, d.latest_version, v.public_key \
             FROM versions v JOIN datasets d ON d.id = v.dataset_id \
             WHERE d.status = 'published' AND d.disclosure = 'public' \
             AND v.status IN ('published', 'superseded') \
             AND v.public_key IS NOT NULL ORDER BY d.slug, v.number",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let version: i64 = r.try_get("number")?;
                let latest: Option<i64> = r.try_get("latest_version")?;
                Ok(PublishedTable {
                    slug: r.try_get("slug")?,
                    dataset_id: r.try_get("dataset_id")?,
                    version,
                    is_latest: latest == Some(version),
                    key: r.try_get("public_key")?,
                })
            })
            .collect()
    }

    /// Every object key the catalogue references (raw, draft and public), for the sweeper.
    pub async fn referenced_keys(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT raw_key, draft_key, public_key FROM versions")
            .fetch_all(&self.pool)
            .await?;
        let mut keys = Vec::new();
        for r in rows {
            for col in ["raw_key", "draft_key", "public_key"] {
                if let Some(k) = r.try_get::<Option<String>, _>(col)? {
                    keys.push(k);
                }
            }
        }
        Ok(keys)
    }

    // ---------------------------------------------------------------- agencies

    pub(crate) async fn agency_id(&self, slug: &str) -> Result<i64> {
        sqlx::query("SELECT id FROM agencies WHERE slug = $1")
            .bind(slug)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("agency", slug))?
            .try_get("id")
            .map_err(Into::into)
    }

    // ---------------------------------------------------------------- users & tokens

    /// Creates the user if missing (keeping an existing user's role) and returns its id.
    pub async fn ensure_user(&self, name: &str, role: Role, actor: &str) -> Result<i64> {
        if let Some(row) = sqlx::query("SELECT id FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
        {
            return Ok(row.try_get("id")?);
        }
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO users (name, role, created_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(name)
        .bind(role.as_str())
        .bind(now())
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        audit(
            &mut tx,
            actor,
            "user.create",
            &format!("user:{name}"),
            serde_json::json!({"after": {"role": role.as_str()}}),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Stores a token (by hash) for a user. The secret itself is never stored.
    pub async fn add_token(&self, user: &str, token: &str, label: &str, actor: &str) -> Result<()> {
        let user_id: i64 = sqlx::query("SELECT id FROM users WHERE name = $1")
            .bind(user)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("user", user))?
            .try_get("id")?;
        let hash = crate::token::hash(token);
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO tokens (user_id, token_hash, label, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(user_id)
        .bind(&hash)
        .bind(label)
        .bind(now())
        .execute(&mut *tx)
        .await;
        match inserted {
            // The same secret registered again (e.g. GONGKAI_ADMIN_TOKEN at every start).
            Err(e) if is_unique_violation(&e) => return Ok(()),
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        audit(
            &mut tx,
            actor,
            "token.create",
            &format!("user:{user}"),
            serde_json::json!({"after": {"label": label, "hash_prefix": &hash[..8]}}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether any token exists for any admin user.
    pub async fn has_admin_token(&self) -> Result<bool> {
        let n: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM tokens t JOIN users u ON u.id = t.user_id \
             WHERE u.role = 'admin' AND t.revoked_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        Ok(n > 0)
    }

    // ---------------------------------------------------------------- audit

    /// The audit log, oldest first.
    pub async fn audit_events(&self, limit: i64, after_id: i64) -> Result<Vec<AuditEvent>> {
        let rows = sqlx::query(
            "SELECT id, at, actor, action, subject, details FROM audit_events \
             WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let details: String = r.try_get("details")?;
                Ok(AuditEvent {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    subject: r.try_get("subject")?,
                    details: serde_json::from_str(&details)
                        .map_err(|e| Error::Corrupt(format!("audit details: {e}")))?,
                })
            })
            .collect()
    }
}

/// Appends an audit event inside the caller's transaction.
pub(crate) async fn audit(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    actor: &str,
    action: &str,
    subject: &str,
    details: serde_json::Value,
) -> Result<()> {
    sqlx::query("INSERT INTO audit_events (at, actor, action, subject, details) VALUES ($1, $2, $3, $4, $5)")
        .bind(now())
        .bind(actor)
        .bind(action)
        .bind(subject)
        .bind(details.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Reads a dataset inside the caller's transaction, locking its row until the
/// transaction ends (PostgreSQL `FOR UPDATE`; on SQLite the transaction
/// already holds the write lock, see [`Catalog::begin_write`]).
pub(crate) async fn dataset_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    id: i64,
) -> Result<Dataset> {
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE OF d",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "SELECT {DATASET_COLUMNS} FROM datasets d LEFT JOIN agencies a ON a.id = d.agency_id \
         WHERE d.id = $1{lock}"
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| dataset_from_row(&r))
        .transpose()?
        .ok_or_else(|| Error::not_found("dataset", id))
}

/// Reads a version inside the caller's transaction.
pub(crate) async fn version_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    dataset: &Dataset,
    number: i64,
) -> Result<Version> {
    let sql =
        format!("SELECT {VERSION_COLUMNS} FROM versions WHERE dataset_id = $1 AND number = $2");
    sqlx::query(AssertSqlSafe(sql))
        .bind(dataset.id)
        .bind(number)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| version_from_row(&r))
        .transpose()?
        .ok_or_else(|| Error::not_found("version", format!("{}@v{number}", dataset.slug)))
}

/// A guarded update found the version in another state than it just read.
pub(crate) fn changed_meanwhile(dataset: &Dataset, number: i64) -> Error {
    Error::State(format!(
        "version {number} of {} changed meanwhile; reload and try again",
        dataset.slug
    ))
}

/// Trims optional text; blank becomes None.
pub(crate) fn clean(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `not_public` needs a reason (it is reviewed); `on_request` may carry one.
pub(crate) fn check_disclosure(d: Disclosure, reason: Option<&str>) -> Result<()> {
    if d == Disclosure::NotPublic && reason.is_none() {
        return Err(Error::Invalid {
            field: "disclosure_reason",
            reason: "不予公开 (not_public) needs the legal reason / 需说明不予公开的理由".into(),
        });
    }
    Ok(())
}

/// Checks an optional category (default `other`).
pub(crate) fn check_category(c: Option<&str>) -> Result<String> {
    let c = clean(c).unwrap_or_else(|| "other".into());
    if CATEGORIES.contains(&c.as_str()) {
        Ok(c)
    } else {
        Err(Error::Invalid {
            field: "category",
            reason: format!("{c:?} is not one of {}", CATEGORIES.join(", ")),
        })
    }
}

/// Checks an optional `YYYY-MM-DD` date.
pub(crate) fn check_date(date: Option<&str>) -> Result<Option<String>> {
    match clean(date) {
        None => Ok(None),
        Some(d) => {
            use chrono::Datelike;
            match chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d") {
                Ok(day) if (1949..=2100).contains(&day.year()) && d.len() == 10 => {
                    Ok(Some(day.format("%Y-%m-%d").to_string()))
                }
                _ => Err(Error::Invalid {
                    field: "decision_date",
                    reason: format!("{d:?} is not a date in the form YYYY-MM-DD (1949–2100)"),
                }),
            }
        }
    }
}

async fn migrate_sqlite(url: &str) -> Result<()> {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
    pool.close().await;
    Ok(())
}

async fn migrate_postgres(url: &str) -> Result<()> {
    use sqlx::postgres::PgPoolOptions;
    let pool = PgPoolOptions::new().max_connections(1).connect(url).await?;
    sqlx::migrate!("./migrations/postgres").run(&pool).await?;
    pool.close().await;
    Ok(())
}
