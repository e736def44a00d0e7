//! People and agencies: password sessions, the agency hierarchy, users and
//! their roles, API tokens, publication deadlines and the audit log, each
//! with its permission check here.

use crate::views::{AgencyDetail, DeadlineReport, NewTokenView, Session};
use crate::{Error, Publisher, Result};
use gongkai_catalog::{
    Agency, AuditEvent, NewAgency, NewToken, NewUser, Principal, Role, Scope, TokenInfo, User,
    UserPatch, hash_password,
};

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Whether `p` may manage the users of `agency` (a platform admin for users
/// of no agency).
fn may_manage_users(p: &Principal, agency: Option<&str>) -> bool {
    match agency {
        Some(a) => p.can_administer(Some(a)),
        None => p.is_platform_admin() && p.scope == Scope::Write,
    }
}

/// What a new user is made of.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    /// User name.
    pub name: String,
    /// Role in the agency.
    pub role: Role,
    /// The agency (none: platform-wide).
    #[serde(default)]
    pub agency: Option<String>,
    /// A web password.
    #[serde(default)]
    pub password: Option<String>,
}

/// What a new token is made of.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTokenRequest {
    /// Whose token (default: the caller's).
    #[serde(default)]
    pub user: Option<String>,
    /// A label to recognise it by.
    #[serde(default)]
    pub label: Option<String>,
    /// `read` or `write` (never more than the caller's).
    #[serde(default)]
    pub scope: Option<Scope>,
    /// Days until it expires (1–3650; default from the settings).
    #[serde(default)]
    pub expires_in_days: Option<i64>,
}

impl Publisher {
    /// Checks a password and opens a web session: a write token that expires
    /// after `session_hours`. The failure is the same for an unknown user
    /// and a wrong password; `client` is recorded in the audit log.
    pub async fn login(&self, user: &str, password: &str, client: &str) -> Result<Session> {
        let Some(user) = self.catalog.login(user, password, client).await? else {
            return Err(Error::LoginFailed);
        };
        let token = gongkai_catalog::token::generate();
        let hours = self.config.session_hours.max(1);
        let expires = chrono::Utc::now() + chrono::Duration::hours(hours);
        self.catalog
            .create_token(
                &NewToken {
                    user: user.name.clone(),
                    label: "web session".into(),
                    scope: Scope::Write,
                    kind: "session",
                    expires_at: Some(rfc3339(expires)),
                },
                &token,
                &user.name,
            )
            .await?;
        Ok(Session {
            token,
            expires_at: rfc3339(expires),
            max_age_secs: hours * 3600,
            user,
        })
    }

    /// Revokes a presented token (logging out).
    pub async fn logout(&self, token: &str, p: &Principal) -> Result<()> {
        self.catalog.revoke_secret(token, &p.user).await?;
        Ok(())
    }

    /// The public agency hierarchy.
    pub async fn agencies(&self) -> Result<Vec<Agency>> {
        Ok(self.catalog.agencies().await?)
    }

    /// One agency with the slugs of the agencies directly below it.
    pub async fn agency_detail(&self, slug: &str) -> Result<AgencyDetail> {
        let agency = self.catalog.agency(slug).await?;
        let children = self
            .catalog
            .agencies()
            .await?
            .into_iter()
            .filter(|c| c.parent.as_deref() == Some(slug))
            .map(|c| c.slug)
            .collect();
        Ok(AgencyDetail { agency, children })
    }

    /// Registers an agency: platform admins anywhere, agency admins below
    /// their agency; only platform admins may waive review.
    pub async fn add_agency(&self, new: &NewAgency, p: &Principal) -> Result<Agency> {
        let allowed = if new.parent.is_some() {
            p.can_administer(new.parent.as_deref())
        } else {
            p.is_platform_admin() && p.scope == Scope::Write
        };
        if !allowed {
            return Err(Error::Forbidden(
                "adding an agency needs a platform admin, or an admin of the parent agency".into(),
            ));
        }
        if new.review_required == Some(false) && !p.is_platform_admin() {
            return Err(Error::Forbidden(
                "only a platform admin may let an agency publish without review".into(),
            ));
        }
        Ok(self.catalog.add_agency(new, &p.user).await?)
    }

    /// Publication deadlines of an agency and the agencies below it,
    /// overdue first (its own staff).
    pub async fn agency_deadlines(&self, slug: &str, p: &Principal) -> Result<DeadlineReport> {
        self.catalog.agency(slug).await?;
        if !p.can_view(Some(slug)) {
            return Err(Error::Forbidden(
                "deadlines are shown to the agency's own staff".into(),
            ));
        }
        let all = self.catalog.agencies().await?;
        let scope = gongkai_catalog::accounts::subtree(&all, slug);
        self.deadlines(Some(&scope)).await
    }

    /// The platform-wide overdue report (platform admins).
    pub async fn all_deadlines(&self, p: &Principal) -> Result<DeadlineReport> {
        if !p.is_platform_admin() {
            return Err(Error::Forbidden(
                "the deadline report is for platform admins".into(),
            ));
        }
        self.deadlines(None).await
    }

    async fn deadlines(&self, scope: Option<&[String]>) -> Result<DeadlineReport> {
        let beijing =
            chrono::FixedOffset::east_opt(8 * 3600).ok_or_else(|| Error::internal("time zone"))?;
        let today = chrono::Utc::now().with_timezone(&beijing).date_naive();
        let items = self.catalog.deadlines(scope, &self.calendar, today).await?;
        Ok(DeadlineReport {
            today: today.format("%Y-%m-%d").to_string(),
            working_days_allowed: gongkai_catalog::calendar::PUBLICATION_WORKING_DAYS,
            overdue: items.iter().filter(|d| d.state == "overdue").count(),
            items,
        })
    }

    /// Users the caller administers (platform admins: everyone).
    pub async fn users(&self, p: &Principal) -> Result<Vec<User>> {
        if p.role != Role::Admin {
            return Err(Error::Forbidden("listing users needs an admin".into()));
        }
        Ok(self
            .catalog
            .users()
            .await?
            .into_iter()
            .filter(|u| p.covers(u.agency.as_deref()))
            .collect())
    }

    /// Creates a user (an admin of the user's agency, or a platform admin).
    pub async fn add_user(&self, new: NewUserRequest, p: &Principal) -> Result<User> {
        if !may_manage_users(p, new.agency.as_deref()) {
            return Err(Error::Forbidden(
                "adding users needs an admin of the user's agency (or a platform admin)".into(),
            ));
        }
        let password_hash = match new.password {
            Some(pw) => Some(
                tokio::task::spawn_blocking(move || hash_password(&pw))
                    .await
                    .map_err(Error::internal)??,
            ),
            None => None,
        };
        Ok(self
            .catalog
            .add_user(
                &NewUser {
                    name: new.name,
                    role: new.role,
                    agency: new.agency,
                    password_hash,
                },
                &p.user,
            )
            .await?)
    }

    /// Changes a user's role or agency, or disables them (an admin of both
    /// the old and the new agency; never one's own).
    pub async fn update_user(&self, name: &str, patch: &UserPatch, p: &Principal) -> Result<User> {
        let before = self.catalog.user(name).await?;
        let target_agency = patch.agency.clone().or(before.agency.clone());
        if !may_manage_users(p, before.agency.as_deref())
            || !may_manage_users(p, target_agency.as_deref())
        {
            return Err(Error::Forbidden(
                "changing a user needs an admin of the user's agency (or a platform admin)".into(),
            ));
        }
        if name == p.user {
            return Err(Error::Forbidden(
                "admins cannot change their own permissions".into(),
            ));
        }
        Ok(self.catalog.update_user(name, patch, &p.user).await?)
    }

    /// The tokens of `user` (default the caller; others' only for admins
    /// over them).
    pub async fn tokens(&self, user: Option<&str>, p: &Principal) -> Result<Vec<TokenInfo>> {
        let user = user.unwrap_or(&p.user);
        if user != p.user {
            let owner = self.catalog.user(user).await?;
            if !(p.role == Role::Admin && p.covers(owner.agency.as_deref())) {
                return Err(Error::Forbidden(
                    "only admins see other users' tokens".into(),
                ));
            }
        }
        Ok(self.catalog.tokens(Some(user)).await?)
    }

    /// Creates an API token, shown once; never more than the caller's scope.
    pub async fn add_token(&self, req: NewTokenRequest, p: &Principal) -> Result<NewTokenView> {
        let user = req.user.clone().unwrap_or_else(|| p.user.clone());
        if user != p.user {
            let owner = self.catalog.user(&user).await?;
            if !may_manage_users(p, owner.agency.as_deref()) {
                return Err(Error::Forbidden(
                    "only admins create tokens for other users".into(),
                ));
            }
        }
        if p.scope == Scope::Read {
            return Err(Error::Forbidden(
                "a read-only token cannot create tokens".into(),
            ));
        }
        let scope = req.scope.unwrap_or(Scope::Write);
        let token = gongkai_catalog::token::generate();
        let expires_at =
            gongkai_catalog::token_expiry(req.expires_in_days, self.config.token_days)?;
        let id = self
            .catalog
            .create_token(
                &NewToken {
                    user: user.clone(),
                    label: req.label.unwrap_or_else(|| "API".into()),
                    scope,
                    kind: "api",
                    expires_at: expires_at.clone(),
                },
                &token,
                &p.user,
            )
            .await?;
        Ok(NewTokenView {
            id,
            user,
            token,
            scope,
            expires_at,
        })
    }

    /// Revokes a token: one's own, or as an admin over its owner (to others
    /// it does not exist).
    pub async fn revoke_token(&self, id: i64, p: &Principal) -> Result<TokenInfo> {
        let t = self.catalog.token(id).await?;
        if t.user != p.user {
            let owner = self.catalog.user(&t.user).await?;
            if !may_manage_users(p, owner.agency.as_deref()) {
                return Err(Error::not_found(format!("token {id}")));
            }
        } else if p.scope == Scope::Read {
            return Err(Error::Forbidden(
                "a read-only token cannot revoke tokens".into(),
            ));
        }
        Ok(self.catalog.revoke_token(id, &p.user).await?)
    }

    /// Up to `limit` audit events after `after` (platform admins).
    pub async fn audit_events(
        &self,
        limit: i64,
        after: i64,
        p: &Principal,
    ) -> Result<Vec<AuditEvent>> {
        if !p.is_platform_admin() {
            return Err(Error::Forbidden(
                "the audit log is for platform admins".into(),
            ));
        }
        Ok(self.catalog.audit_events(limit, after).await?)
    }
}
