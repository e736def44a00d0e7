//! Agencies, users, passwords and tokens: who may act where.
//!
//! A role applies to the user's agency and every agency below it in the
//! hierarchy (a county government's reviewer also reviews its departments).
//! Platform admins are admins attached to no agency.

use crate::model::*;
use crate::store::{audit, clean, conflict_or, now};
use crate::{Catalog, Error, Result};
use sqlx::Row;
use sqlx::any::AnyRow;
use std::str::FromStr;

/// Shortest accepted password.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Hashes a password with Argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    use rand::RngCore;
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::Invalid {
            field: "password",
            reason: format!(
                "must have at least {MIN_PASSWORD_CHARS} characters / 密码至少 {MIN_PASSWORD_CHARS} 位"
            ),
        });
    }
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Corrupt(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Corrupt(format!("hashing a password: {e}")))
}

/// Checks a password against a stored PHC hash.
pub fn verify_password(password: &str, stored: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(stored).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Checks a user name: 1–64 characters, no whitespace or control characters.
pub fn validate_user_name(name: &str) -> Result<()> {
    let n = name.chars().count();
    if n == 0 || n > 64 || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::Invalid {
            field: "name",
            reason: format!("{name:?} must be 1–64 characters without spaces"),
        });
    }
    Ok(())
}

/// What is needed to create a user.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Agency slug (required for editors and reviewers).
    pub agency: Option<String>,
    /// Argon2 hash of the initial password, if any.
    pub password_hash: Option<String>,
}

/// A change to a user's permissions; absent fields stay.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// New role.
    #[serde(default)]
    pub role: Option<Role>,
    /// New agency slug.
    #[serde(default)]
    pub agency: Option<String>,
    /// Disable (true) or re-enable (false) the account.
    #[serde(default)]
    pub disabled: Option<bool>,
}

/// What is needed to create a token.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// Owner.
    pub user: String,
    /// Free label.
    pub label: String,
    /// What it allows.
    pub scope: Scope,
    /// `api` (scripts) or `session` (web login).
    pub kind: &'static str,
    /// Expiry (RFC 3339), if any.
    pub expires_at: Option<String>,
}

/// Longest lifetime of an API token, in days (ten years).
pub const MAX_TOKEN_DAYS: i64 = 3650;

/// The expiry (RFC 3339) of a new API token: `days` from now, or
/// `default_days` when not given (a default of 0 or less: no expiry).
/// Lifetimes above [`MAX_TOKEN_DAYS`] are cut to it; a requested lifetime
/// of zero or fewer days is refused, never turned into "no expiry".
pub fn token_expiry(days: Option<i64>, default_days: i64) -> Result<Option<String>> {
    let days = match days {
        Some(d) if d <= 0 => {
            return Err(Error::Invalid {
                field: "expires_in_days",
                reason: format!(
                    "{d} is not a lifetime: give a positive number of days (1–{MAX_TOKEN_DAYS}) / \
                     令牌有效期须为正整数天数（1–{MAX_TOKEN_DAYS}）"
                ),
            });
        }
        Some(d) => d,
        None if default_days <= 0 => return Ok(None),
        None => default_days,
    };
    Ok(Some(
        (chrono::Utc::now() + chrono::Duration::days(days.min(MAX_TOKEN_DAYS)))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    ))
}

/// Whether a stored token expiry has passed. An expiry that does not read as
/// an RFC 3339 time counts as passed: a token is never trusted longer than
/// its record says.
pub fn expired(expires_at: &str, now: chrono::DateTime<chrono::Utc>) -> bool {
    chrono::DateTime::parse_from_rfc3339(expires_at.trim()).map_or(true, |t| t <= now)
}

fn agency_from_row(r: &AnyRow) -> Result<Agency> {
    Ok(Agency {
        slug: r.try_get("slug")?,
        name: r.try_get("name")?,
        name_en: r.try_get("name_en")?,
        parent: r.try_get("parent")?,
        kind: r.try_get("kind")?,
        review_required: r.try_get::<i64, _>("review_required")? != 0,
    })
}

fn user_from_row(r: &AnyRow) -> Result<User> {
    Ok(User {
        name: r.try_get("name")?,
        role: Role::from_str(&r.try_get::<String, _>("role")?)?,
        agency: r.try_get("agency")?,
        has_password: r.try_get::<Option<String>, _>("password_hash")?.is_some(),
        disabled_at: r.try_get("disabled_at")?,
        created_at: r.try_get("created_at")?,
    })
}

fn token_from_row(r: &AnyRow) -> Result<TokenInfo> {
    let hash: String = r.try_get("token_hash")?;
    Ok(TokenInfo {
        id: r.try_get("id")?,
        user: r.try_get("name")?,
        label: r.try_get("label")?,
        scope: Scope::from_str(&r.try_get::<String, _>("scope")?)?,
        kind: r.try_get("kind")?,
        hash_prefix: hash.chars().take(8).collect(),
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

const AGENCY_SELECT: &str = "SELECT a.slug, a.name, a.name_en, p.slug AS parent, a.kind, a.review_required \
     FROM agencies a LEFT JOIN agencies p ON p.id = a.parent_id";

const USER_SELECT: &str = "SELECT u.name, u.role, a.slug AS agency, u.password_hash, u.disabled_at, u.created_at \
     FROM users u LEFT JOIN agencies a ON a.id = u.agency_id";

const TOKEN_SELECT: &str = "SELECT t.id, u.name, t.label, t.scope, t.kind, t.token_hash, t.created_at, \
     t.expires_at, t.revoked_at FROM tokens t JOIN users u ON u.id = t.user_id";

/// `slug` and every agency below it, given all agencies.
pub fn subtree(agencies: &[Agency], slug: &str) -> Vec<String> {
    let mut out = vec![slug.to_string()];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i].clone();
        for a in agencies {
            if a.parent.as_deref() == Some(parent.as_str()) && !out.contains(&a.slug) {
                out.push(a.slug.clone());
            }
        }
        i += 1;
    }
    out
}

impl Catalog {
    // ---------------------------------------------------------------- agencies

    /// Registers an agency under an optional parent.
    pub async fn add_agency(&self, new: &NewAgency, actor: &str) -> Result<Agency> {
        validate_slug(&new.slug).map_err(|_| Error::Invalid {
            field: "slug",
            reason: format!(
                "{:?} must be 1–64 characters of lowercase a-z, 0-9, '_' or '-'",
                new.slug
            ),
        })?;
        let name = clean(Some(&new.name)).ok_or(Error::Invalid {
            field: "name",
            reason: "must not be empty".into(),
        })?;
        let parent_id = match &new.parent {
            Some(p) => Some(self.agency_id(p).await?),
            None => None,
        };
        let review_required = new.review_required.unwrap_or(true);
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO agencies (slug, name, name_en, parent_id, kind, review_required, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&new.slug)
        .bind(&name)
        .bind(clean(new.name_en.as_deref()))
        .bind(parent_id)
        .bind(clean(new.kind.as_deref()))
        .bind(i64::from(review_required))
        .bind(now())
        .execute(&mut *tx)
        .await;
        inserted.map_err(|e| conflict_or(e, "agency", &new.slug))?;
        audit(
            &mut tx,
            actor,
            "agency.create",
            &format!("agency:{}", new.slug),
            serde_json::json!({"after": {"name": name, "parent": new.parent, "kind": new.kind,
                                          "review_required": review_required}}),
        )
        .await?;
        tx.commit().await?;
        self.agency(&new.slug).await
    }

    /// One agency.
    pub async fn agency(&self, slug: &str) -> Result<Agency> {
        let sql = format!("{AGENCY_SELECT} WHERE a.slug = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(slug)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("agency", slug))?;
        agency_from_row(&row)
    }

    /// All agencies, by slug.
    pub async fn agencies(&self) -> Result<Vec<Agency>> {
        let sql = format!("{AGENCY_SELECT} ORDER BY a.slug");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(agency_from_row).collect()
    }

    // ---------------------------------------------------------------- users

    /// Creates a user. Editors and reviewers need an agency.
    pub async fn add_user(&self, new: &NewUser, actor: &str) -> Result<User> {
        validate_user_name(&new.name)?;
        if new.agency.is_none() && new.role != Role::Admin {
            return Err(Error::Invalid {
                field: "agency",
                reason: format!("a {} must belong to an agency", new.role),
            });
        }
        let agency_id = match &new.agency {
            Some(a) => Some(self.agency_id(a).await?),
            None => None,
        };
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (name, role, agency_id, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&new.name)
        .bind(new.role.as_str())
        .bind(agency_id)
        .bind(&new.password_hash)
        .bind(now())
        .execute(&mut *tx)
        .await;
        inserted.map_err(|e| conflict_or(e, "user", &new.name))?;
        audit(
            &mut tx,
            actor,
            "user.create",
            &format!("user:{}", new.name),
            serde_json::json!({"after": {"role": new.role.as_str(), "agency": new.agency,
                                          "password": new.password_hash.is_some()}}),
        )
        .await?;
        tx.commit().await?;
        self.user(&new.name).await
    }

    /// One user.
    pub async fn user(&self, name: &str) -> Result<User> {
        let sql = format!("{USER_SELECT} WHERE u.name = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("user", name))?;
        user_from_row(&row)
    }

    /// All users, by name.
    pub async fn users(&self) -> Result<Vec<User>> {
        let sql = format!("{USER_SELECT} ORDER BY u.name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Changes a user's role, agency or disabled flag (audited as a permission change).
    /// Disabling revokes every token of the user.
    pub async fn update_user(&self, name: &str, patch: &UserPatch, actor: &str) -> Result<User> {
        let before = self.user(name).await?;
        let role = patch.role.unwrap_or(before.role);
        let agency = patch.agency.clone().or(before.agency.clone());
        if agency.is_none() && role != Role::Admin {
            return Err(Error::Invalid {
                field: "agency",
                reason: format!("a {role} must belong to an agency"),
            });
        }
        let agency_id = match &agency {
            Some(a) => Some(self.agency_id(a).await?),
            None => None,
        };
        let at = now();
        let disabled_at = match patch.disabled {
            Some(true) => before.disabled_at.clone().or(Some(at.clone())),
            Some(false) => None,
            None => before.disabled_at.clone(),
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE users SET role = $1, agency_id = $2, disabled_at = $3 WHERE name = $4")
            .bind(role.as_str())
            .bind(agency_id)
            .bind(&disabled_at)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if patch.disabled == Some(true) {
            sqlx::query(
                "UPDATE tokens SET revoked_at = $1 WHERE revoked_at IS NULL AND user_id = \
                 (SELECT id FROM users WHERE name = $2)",
            )
            .bind(&at)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        }
        audit(
            &mut tx,
            actor,
            "user.update",
            &format!("user:{name}"),
            serde_json::json!({
                "before": {"role": before.role.as_str(), "agency": before.agency, "disabled": before.disabled_at.is_some()},
                "after": {"role": role.as_str(), "agency": agency, "disabled": disabled_at.is_some()},
            }),
        )
        .await?;
        tx.commit().await?;
        self.user(name).await
    }

    /// Sets a user's password (already hashed with [`hash_password`]).
    pub async fn set_password(&self, name: &str, password_hash: &str, actor: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query("UPDATE users SET password_hash = $1 WHERE name = $2")
            .bind(password_hash)
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(Error::not_found("user", name));
        }
        audit(
            &mut tx,
            actor,
            "user.password",
            &format!("user:{name}"),
            serde_json::json!({"after": {"password": "changed"}}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Checks a password login. Failures (unknown user, wrong password,
    /// disabled account) are recorded in the audit log and give `None`.
    pub async fn login(&self, name: &str, password: &str, client: &str) -> Result<Option<User>> {
        let row = sqlx::query("SELECT password_hash, disabled_at FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        let (hash, disabled): (Option<String>, bool) = match &row {
            None => (None, false),
            Some(r) => (
                r.try_get("password_hash")?,
                r.try_get::<Option<String>, _>("disabled_at")?.is_some(),
            ),
        };
        let known = row.is_some();
        let password = password.to_string();
        // Argon2 takes tens of milliseconds of CPU: not on an async worker.
        let failure = tokio::task::spawn_blocking(move || {
            if !known {
                // Spend the same time as a real check, so timing does not tell
                // which user names exist.
                static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
                let dummy = DUMMY
                    .get_or_init(|| hash_password("gongkai timing equaliser").unwrap_or_default());
                let _ = verify_password(&password, dummy);
                Some("unknown user")
            } else if disabled {
                Some("account disabled")
            } else if !hash.is_some_and(|h| verify_password(&password, &h)) {
                Some("wrong password")
            } else {
                None
            }
        })
        .await
        .map_err(|e| Error::Corrupt(format!("password check failed: {e}")))?;
        let mut tx = self.pool.begin().await?;
        let (action, details) = match failure {
            Some(reason) => (
                "login.failure",
                serde_json::json!({"reason": reason, "client": client}),
            ),
            None => ("login.success", serde_json::json!({"client": client})),
        };
        // The name is the one typed in; record it but keep it short.
        let typed: String = name.chars().take(64).collect();
        audit(&mut tx, &typed, action, &format!("user:{typed}"), details).await?;
        tx.commit().await?;
        match failure {
            Some(_) => Ok(None),
            None => Ok(Some(self.user(name).await?)),
        }
    }

    // ---------------------------------------------------------------- tokens

    /// Stores a new token (by hash) and returns its id. The secret is never stored.
    pub async fn create_token(&self, new: &NewToken, token: &str, actor: &str) -> Result<i64> {
        let user_id: i64 = sqlx::query("SELECT id FROM users WHERE name = $1")
            .bind(&new.user)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("user", &new.user))?
            .try_get("id")?;
        let hash = crate::token::hash(token);
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO tokens (user_id, token_hash, label, created_at, expires_at, scope, kind) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(user_id)
        .bind(&hash)
        .bind(&new.label)
        .bind(now())
        .bind(&new.expires_at)
        .bind(new.scope.as_str())
        .bind(new.kind)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        // Web sessions are logged as logins; only API tokens are permission changes.
        if new.kind == "api" {
            audit(
                &mut tx,
                actor,
                "token.create",
                &format!("user:{}", new.user),
                serde_json::json!({"after": {"id": id, "label": new.label, "scope": new.scope.as_str(),
                                              "expires_at": new.expires_at, "hash_prefix": &hash[..8]}}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// Tokens of one user (or all users), newest first.
    pub async fn tokens(&self, user: Option<&str>) -> Result<Vec<TokenInfo>> {
        let rows = match user {
            Some(u) => {
                let sql = format!("{TOKEN_SELECT} WHERE u.name = $1 ORDER BY t.id DESC");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(u)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                let sql = format!("{TOKEN_SELECT} ORDER BY t.id DESC");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(token_from_row).collect()
    }

    /// One token by id.
    pub async fn token(&self, id: i64) -> Result<TokenInfo> {
        let sql = format!("{TOKEN_SELECT} WHERE t.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("token", id))?;
        token_from_row(&row)
    }

    /// Revokes a token (idempotent).
    pub async fn revoke_token(&self, id: i64, actor: &str) -> Result<TokenInfo> {
        let before = self.token(id).await?;
        if before.revoked_at.is_some() {
            return Ok(before);
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2")
            .bind(now())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let action = if before.kind == "session" {
            "logout"
        } else {
            "token.revoke"
        };
        audit(
            &mut tx,
            actor,
            action,
            &format!("user:{}", before.user),
            serde_json::json!({"before": {"id": id, "label": before.label, "revoked": false},
                               "after": {"revoked": true}}),
        )
        .await?;
        tx.commit().await?;
        self.token(id).await
    }

    /// Revokes the token with this secret (logout).
    pub async fn revoke_secret(&self, token: &str, actor: &str) -> Result<()> {
        let id: Option<i64> = sqlx::query("SELECT id FROM tokens WHERE token_hash = $1")
            .bind(crate::token::hash(token))
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get("id"))
            .transpose()?;
        if let Some(id) = id {
            self.revoke_token(id, actor).await?;
        }
        Ok(())
    }

    /// A user as a principal acting in their own right (the scheduler acting
    /// for the reviewer who scheduled a publication): their current role and
    /// agency, the agencies below it, full scope. `None` when the account is
    /// disabled.
    pub async fn principal(&self, name: &str) -> Result<Option<Principal>> {
        let user = self.user(name).await?;
        if user.disabled_at.is_some() {
            return Ok(None);
        }
        let within = match &user.agency {
            Some(a) => subtree(&self.agencies().await?, a),
            None => Vec::new(),
        };
        Ok(Some(Principal {
            user: user.name,
            role: user.role,
            agency: user.agency,
            within,
            scope: Scope::Write,
        }))
    }

    /// Resolves a presented bearer token to its user, if valid (not revoked,
    /// not expired, account not disabled).
    pub async fn authenticate(&self, token: &str) -> Result<Option<Principal>> {
        let row = sqlx::query(
            "SELECT u.name, u.role, a.slug AS agency, t.expires_at, t.scope, u.disabled_at FROM tokens t \
             JOIN users u ON u.id = t.user_id LEFT JOIN agencies a ON a.id = u.agency_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
        )
        .bind(crate::token::hash(token))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        if let Some(expires) = row.try_get::<Option<String>, _>("expires_at")?
            && expired(&expires, chrono::Utc::now())
        {
            return Ok(None);
        }
        if row.try_get::<Option<String>, _>("disabled_at")?.is_some() {
            return Ok(None);
        }
        let agency: Option<String> = row.try_get("agency")?;
        let within = match &agency {
            Some(a) => subtree(&self.agencies().await?, a),
            None => Vec::new(),
        };
        Ok(Some(Principal {
            user: row.try_get("name")?,
            role: Role::from_str(&row.try_get::<String, _>("role")?)?,
            agency,
            within,
            scope: Scope::from_str(&row.try_get::<String, _>("scope")?)?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_lifetimes_are_positive_and_expiry_reads_any_offset() {
        for bad in [0, -1, -5, i64::MIN] {
            assert!(token_expiry(Some(bad), 365).is_err(), "{bad}");
        }
        assert!(token_expiry(None, 0).unwrap().is_none());
        assert!(token_expiry(None, -1).unwrap().is_none());
        let now = chrono::Utc::now();
        let in_a_day = token_expiry(Some(1), 365).unwrap().unwrap();
        assert!(!expired(&in_a_day, now));
        let capped = token_expiry(Some(i64::MAX), 365).unwrap().unwrap();
        assert!(!expired(&capped, now + chrono::Duration::days(3649)));
        assert!(expired(&capped, now + chrono::Duration::days(3651)));
        let beijing = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
        let hour_ago = (now - chrono::Duration::hours(1)).with_timezone(&beijing);
        assert!(expired(&hour_ago.to_rfc3339(), now));
        let in_an_hour = (now + chrono::Duration::hours(1)).with_timezone(&beijing);
        assert!(!expired(&in_an_hour.to_rfc3339(), now));
        assert!(expired("someday", now));
        assert!(expired("", now));
    }

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(hash_password("short").is_err());
        assert_ne!(h, hash_password("correct horse battery").unwrap(), "salted");
    }

    fn agency(slug: &str, parent: Option<&str>) -> Agency {
        Agency {
            slug: slug.into(),
            name: slug.into(),
            name_en: None,
            parent: parent.map(Into::into),
            kind: None,
            review_required: true,
        }
    }

    #[test]
    fn a_role_covers_the_agency_and_everything_below() {
        let all = [
            agency("county", None),
            agency("finance", Some("county")),
            agency("budget-office", Some("finance")),
            agency("town", Some("county")),
            agency("other-county", None),
        ];
        let mut t = subtree(&all, "county");
        t.sort();
        assert_eq!(t, ["budget-office", "county", "finance", "town"]);
        assert_eq!(subtree(&all, "town"), ["town"]);
        let p = Principal {
            user: "li".into(),
            role: Role::Reviewer,
            agency: Some("finance".into()),
            within: subtree(&all, "finance"),
            scope: Scope::Write,
        };
        assert!(p.can_review(Some("budget-office")));
        assert!(!p.can_review(Some("county")));
        assert!(p.can_publish(Some("budget-office"), true));
        assert!(!p.can_publish(Some("county"), false));
        let editor = Principal {
            role: Role::Editor,
            ..p.clone()
        };
        assert!(!editor.can_publish(Some("finance"), true));
        assert!(editor.can_publish(Some("finance"), false));
        assert!(
            !p.can_edit(None),
            "platform datasets belong to platform admins"
        );
        let read_only = Principal {
            scope: Scope::Read,
            ..p.clone()
        };
        assert!(read_only.can_view(Some("finance")));
        assert!(!read_only.can_edit(Some("finance")));
    }
}
