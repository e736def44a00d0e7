//! Publish a version (now, or when its scheduled time comes): the leak
//! gate reads the draft, the draft is copied to its public key, the
//! catalogue row commits, then the draft copy and (by default) the raw
//! upload are deleted and the search index is updated.

use crate::{Error, Publisher, RawRetention, policy, storage};
use gongkai_catalog::{Dataset, Version};
use object_store::ObjectStoreExt;
use object_store::path::Path;

impl Publisher {
    /// Publishes a draft: copies its Parquet to the public key, then commits.
    pub async fn publish(
        &self,
        dataset: &Dataset,
        number: i64,
        actor: &str,
    ) -> Result<Version, Error> {
        let version = self.catalog.version(dataset.id, number).await?;
        // Check the workflow before copying anything (and again at commit).
        let review_required = self.catalog.review_required(dataset).await?;
        gongkai_catalog::check_publishable(dataset, &version, review_required)?;
        let Some(draft_key) = version.draft_key.clone() else {
            return Err(Error::InvalidState(format!(
                "version {number} of {} is {}; only a draft can be published",
                dataset.slug, version.status
            )));
        };
        self.leak_gate(dataset, &version, &draft_key).await?;
        let public_key = storage::public_key(dataset.id, number);
        self.store
            .copy(
                &Path::from(draft_key.clone()),
                &Path::from(public_key.clone()),
            )
            .await?;
        let published = self
            .catalog
            .publish_version(dataset, number, &public_key, actor)
            .await?;
        // Committed: the draft copy and (by default) the raw upload are no longer needed.
        if self.store.delete(&Path::from(draft_key)).await.is_ok() {
            self.catalog.clear_draft_key(dataset.id, number).await?;
        }
        if self.config.raw_retention == RawRetention::UntilPublished
            && let Some(raw) = &version.raw_key
            && self.store.delete(&Path::from(raw.clone())).await.is_ok()
        {
            self.catalog.clear_raw_key(dataset.id, number).await?;
        }
        tracing::info!(dataset = %dataset.slug, version = number, "version published");
        self.reindex(&dataset.slug).await;
        Ok(published)
    }

    /// Publishes approved versions whose scheduled time has come, every
    /// `scheduler_interval_secs`, on behalf of the reviewer who scheduled them.
    ///
    /// When a publication fires, that reviewer is checked again, as they are
    /// now (role, agency, account), with the rule of the publish endpoint
    /// ([`gongkai_catalog::Principal::can_publish`] in the dataset's agency,
    /// agencies below one's own included): a reviewer who was moved to another
    /// agency, demoted or disabled meanwhile no longer publishes. A publication
    /// that fails is unscheduled (audited, by `scheduler`) and logged, so the
    /// agency sees it and acts instead of it being retried forever.
    pub async fn run_scheduler(self) {
        let every = self
            .config
            .scheduler_interval
            .max(std::time::Duration::from_secs(1));
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let due = match self.catalog.due_versions().await {
                Ok(due) => due,
                Err(e) => {
                    tracing::warn!(error = %e, "scheduler: listing due versions failed");
                    continue;
                }
            };
            for (slug, number, reviewer) in due {
                let result = async {
                    let dataset = self.catalog.dataset(&slug).await?;
                    // The reviewer who scheduled it must still be able to publish,
                    // by the publish endpoint's rule, with their current role and agency.
                    let review_required = self.catalog.review_required(&dataset).await?;
                    let allowed = self
                        .catalog
                        .principal(&reviewer)
                        .await?
                        .is_some_and(|p| policy::may_publish(&dataset, &p, review_required));
                    if !allowed {
                        return Err(Error::InvalidState(format!(
                            "{reviewer} may no longer publish in {}; the schedule is cancelled / \
                         定时发布的审核人已无发布权限，定时发布已取消",
                            dataset.agency.as_deref().unwrap_or("the platform")
                        )));
                    }
                    self.publish(&dataset, number, &reviewer).await
                }
                .await;
                match result {
                    Ok(_) => {
                        tracing::info!(dataset = %slug, version = number, "scheduled publication done")
                    }
                    Err(e) => {
                        tracing::warn!(dataset = %slug, version = number, error = %e, "scheduled publication failed; unscheduling it");
                        // Do not retry a failing publication forever: clear the schedule
                        // (audited) so the reviewer sees it and acts.
                        if let Ok(d) = self.catalog.dataset(&slug).await {
                            let _ = self
                                .catalog
                                .schedule_version(&d, number, None, "scheduler")
                                .await;
                        }
                    }
                }
            }
        }
    }
}
