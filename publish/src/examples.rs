//! Sample agency files shipped in `examples/`, loaded into an empty catalogue
//! so a newcomer sees data at once. They are embedded in the binary, so this
//! works from any working directory.

use crate::ingesting::Uploader;
use crate::{Error, Publisher};
use gongkai_catalog::{Approval, NewAgency, NewDataset, Submission};

/// One example dataset.
pub struct Example {
    /// Dataset slug.
    pub slug: &'static str,
    /// Title.
    pub title: &'static str,
    /// Description.
    pub description: &'static str,
    /// File name.
    pub file_name: &'static str,
    /// File content.
    pub bytes: &'static [u8],
    /// Publishing agency (one of [`AGENCIES`]).
    pub agency: &'static str,
    /// English title.
    pub title_en: &'static str,
    /// Theme codes (领域).
    pub themes: &'static [&'static str],
    /// Keywords.
    pub keywords: &'static [&'static str],
}

/// A small agency hierarchy for the examples: (slug, name, English name, parent, kind).
pub const AGENCIES: &[(&str, &str, &str, Option<&str>, &str)] = &[
    (
        "example-county",
        "示例县人民政府",
        "Example County Government",
        None,
        "county_government",
    ),
    (
        "example-county-health",
        "示例县卫生健康局",
        "Example County Health Commission",
        Some("example-county"),
        "department",
    ),
    (
        "example-county-ecology",
        "示例县生态环境分局",
        "Example County Ecology and Environment Bureau",
        Some("example-county"),
        "department",
    ),
    (
        "example-county-finance",
        "示例县财政局",
        "Example County Finance Bureau",
        Some("example-county"),
        "department",
    ),
];

/// The shipped examples.
pub const EXAMPLES: &[Example] = &[
    Example {
        slug: "budget-2024",
        title: "2024年县卫生健康局部门预算支出表",
        description: "按功能分类科目列示的部门预算支出（单位：万元），含基本支出与项目支出。GBK 编码的 CSV，带标题行、单位行、两级表头与合计行。 / Department budget expenditure by functional subject (10k yuan); a GBK CSV with title, unit line, two-level header and totals.",
        file_name: "budget_2024_gbk.csv",
        bytes: include_bytes!("../../examples/budget_2024_gbk.csv"),
        agency: "example-county-health",
        title_en: "2024 County Health Bureau department budget expenditure",
        themes: &["budget", "health"],
        keywords: &["部门预算", "基本支出", "项目支出"],
    },
    Example {
        slug: "air-quality-2024-05",
        title: "2024年5月各镇街环境空气质量状况排名",
        description: "各镇街 AQI、PM2.5、PM10 与优良天数比例。XLSX 工作簿。 / Township air quality ranking (AQI, PM2.5, PM10, share of good days); an XLSX workbook.",
        file_name: "air_quality_2024_05.xlsx",
        bytes: include_bytes!("../../examples/air_quality_2024_05.xlsx"),
        agency: "example-county-ecology",
        title_en: "Township air quality ranking, May 2024",
        themes: &["environment"],
        keywords: &["空气质量", "AQI", "PM2.5"],
    },
    Example {
        slug: "procurement-results-2024",
        title: "2024年政府采购中标结果公告汇总",
        description: "政府采购项目的中标供应商、统一社会信用代码、中标金额与公告日期。UTF-8 CSV。 / Government procurement awards: supplier, credit code, amount, notice date; a UTF-8 CSV.",
        file_name: "procurement_results_2024.csv",
        bytes: include_bytes!("../../examples/procurement_results_2024.csv"),
        agency: "example-county-finance",
        title_en: "2024 government procurement awards",
        themes: &["procurement"],
        keywords: &["政府采购", "中标", "供应商"],
    },
];

/// Creates the example agencies, then uploads, reviews and publishes every
/// example dataset through the normal workflow (uploaded by `examples`,
/// reviewed and published by `system`).
impl Publisher {
    /// Loads the example agencies and datasets (see [`EXAMPLES`]); a failing
    /// example is an error naming its file.
    pub async fn load_examples(&self) -> Result<(), Error> {
        for (slug, name, name_en, parent, kind) in AGENCIES {
            if self.catalog.agency(slug).await.is_ok() {
                continue;
            }
            self.catalog
                .add_agency(
                    &NewAgency {
                        slug: (*slug).into(),
                        name: (*name).into(),
                        name_en: Some((*name_en).into()),
                        parent: parent.map(Into::into),
                        kind: Some((*kind).into()),
                        review_required: Some(true),
                    },
                    "system",
                )
                .await?;
        }
        for ex in EXAMPLES {
            let dataset = self
                .catalog
                .create_dataset(
                    &NewDataset {
                        slug: ex.slug.into(),
                        title: ex.title.into(),
                        description: Some(ex.description.into()),
                        agency: Some(ex.agency.into()),
                        meta: gongkai_catalog::Metadata {
                            title_en: Some(ex.title_en.into()),
                            themes: ex.themes.iter().map(|t| (*t).to_string()).collect(),
                            keywords: ex.keywords.iter().map(|k| (*k).to_string()).collect(),
                            ..Default::default()
                        },
                        ..NewDataset::default()
                    },
                    "system",
                )
                .await?;
            let body = futures::stream::iter([Ok::<_, std::convert::Infallible>(
                bytes::Bytes::from_static(ex.bytes),
            )]);
            let version = self
                .upload(
                    &dataset,
                    Uploader {
                        user: "examples",
                        role: gongkai_catalog::Role::Admin,
                    },
                    ex.file_name,
                    None,
                    body,
                )
                .await
                .map_err(|e| Error::internal(format!("example {}: {e}", ex.file_name)))?;
            let note = Submission {
                change_note: Some("示例数据 / example data".into()),
                correction_notice: None,
            };
            self.catalog
                .submit_version(&dataset, version.number, &note, "examples")
                .await?;
            let approval = Approval {
                comment: Some("示例数据，已完成保密审查 / example data, reviewed".into()),
                confidentiality_reviewed: true,
                redaction_confirmed: true,
                publish_at: None,
            };
            self.catalog
                .approve_version(&dataset, version.number, &approval, "system")
                .await?;
            self.publish(&dataset, version.number, "system")
                .await
                .map_err(|e| Error::internal(format!("example {}: {e}", ex.file_name)))?;
            tracing::info!(
                slug = ex.slug,
                rows = version.rows,
                "example dataset published"
            );
        }
        Ok(())
    }
}
