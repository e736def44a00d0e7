//! Who may see and do what: the one place the rules are joined for a caller.
//!
//! The dataset's own rules are the catalogue's ([`Dataset::is_listed`]: not
//! a draft, not 不予公开; [`Dataset::serves_data`]: published and 主动公开),
//! the role rules the principal's (`can_view`, `can_edit`, `can_review`,
//! `can_publish` over the agency hierarchy). Every surface asks here: the
//! JSON API, the pages, CKAN, the feeds, search and SQL.

use crate::{Error, Result};
use gongkai_catalog::{Dataset, DatasetStatus, Disclosure, Principal, Version};

/// Whether the public sees the dataset in catalogues, search and feeds.
pub fn listed(d: &Dataset) -> bool {
    d.is_listed()
}

/// Whether the dataset's data is served to the public.
pub fn serves_data(d: &Dataset) -> bool {
    d.serves_data()
}

/// Whether the caller is staff of the dataset's agency (or of an agency
/// above it): they see its drafts, review details and whole reports.
pub fn staff(d: &Dataset, caller: Option<&Principal>) -> bool {
    caller.is_some_and(|p| p.can_view(d.agency.as_deref()))
}

/// Whether the caller sees the dataset at all.
pub fn may_see(d: &Dataset, caller: Option<&Principal>) -> bool {
    listed(d) || staff(d, caller)
}

/// Whether the caller sees the version: a public one whenever they see
/// the dataset, others only as staff.
pub fn may_see_version(d: &Dataset, v: &Version, caller: Option<&Principal>) -> bool {
    may_see(d, caller) && (v.status.is_public() || staff(d, caller))
}

/// Whether the caller may edit the dataset (upload, describe, submit).
pub fn may_edit(d: &Dataset, p: &Principal) -> bool {
    p.can_edit(d.agency.as_deref())
}

/// Whether the caller may review the dataset's versions (approve, reject,
/// loosen redaction, withdraw, classify as 不予公开).
pub fn may_review(d: &Dataset, p: &Principal) -> bool {
    p.can_review(d.agency.as_deref())
}

/// Whether the caller may publish the dataset's versions (where its agency
/// requires review, only approved ones, and only as a reviewer).
pub fn may_publish(d: &Dataset, p: &Principal, review_required: bool) -> bool {
    p.can_publish(d.agency.as_deref(), review_required)
}

/// The one answer for a dataset the caller cannot see, whether it is
/// missing or hidden (a draft, or 不予公开): the two are indistinguishable,
/// so nobody can probe which hidden slugs exist.
pub fn dataset_not_found(slug: &str) -> Error {
    Error::DatasetNotFound {
        slug: slug.to_string(),
    }
}

/// Whether the caller may have the dataset's data: withdrawn datasets serve
/// nothing; 依申请公开 data is given on request, to the public never by
/// download, to the agency's staff yes.
pub fn check_serves_data(d: &Dataset, caller: Option<&Principal>) -> Result<()> {
    if d.status == DatasetStatus::Withdrawn {
        return Err(Error::Withdrawn {
            slug: d.slug.clone(),
            reason: d.withdrawn_reason.clone(),
        });
    }
    if d.disclosure == Disclosure::OnRequest && !staff(d, caller) {
        return Err(Error::OnRequest {
            slug: d.slug.clone(),
            agency: d.agency.clone(),
        });
    }
    Ok(())
}
