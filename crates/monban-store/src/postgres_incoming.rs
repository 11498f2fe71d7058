//! Received reports in the PostgreSQL store (issue 12): one transaction per batch, rows
//! sent as arrays (UNNEST), importers on several hosts serialized by an advisory lock so
//! two copies of one report arriving at once are still told apart.

use std::collections::HashMap;

use crate::StoreError;
use crate::incoming::{
    DomainGroup, ImportOutcome, IncomingCounts, IncomingReport, IncomingSummary, ReporterGroup,
    SourceGroup, SummaryFilter,
};
use crate::postgres::PostgresStore;
use crate::sqlite_incoming::{
    DAILY_SQL, MAX_LIST, REPORT_SQL, REPORTERS_SQL, SOURCE_COUNTS_SQL, SOURCES_SQL, TLS_SQL,
    TOTALS_SQL,
};

/// The advisory lock importers take (an arbitrary key).
const IMPORT_LOCK: i64 = 0x6d6f_6e62_6169;

type Identity<'a> = (&'a str, &'a str, &'a str, &'a str, i64, i64);

fn identity(r: &IncomingReport) -> Identity<'_> {
    (
        r.kind.as_str(),
        &r.org_name,
        &r.report_id,
        &r.domain,
        r.begin,
        r.end,
    )
}

impl PostgresStore {
    pub(crate) async fn import_reports_in(
        &self,
        reports: &[IncomingReport],
        now: i64,
    ) -> Result<Vec<ImportOutcome>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| self.pg(e))?;
        let pg = |e| self.pg(e);
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&IMPORT_LOCK])
            .await
            .map_err(pg)?;
        let kinds: Vec<&str> = reports.iter().map(|r| r.kind.as_str()).collect();
        let orgs: Vec<&str> = reports.iter().map(|r| r.org_name.as_str()).collect();
        let ids: Vec<&str> = reports.iter().map(|r| r.report_id.as_str()).collect();
        let domains: Vec<&str> = reports.iter().map(|r| r.domain.as_str()).collect();
        let begins: Vec<i64> = reports.iter().map(|r| r.begin).collect();
        let ends: Vec<i64> = reports.iter().map(|r| r.end).collect();
        let existing = tx
            .query(
                "SELECT r.kind, r.org_name, r.report_id, r.domain, r.begin_time, r.end_time,
                    r.content_hash
                 FROM incoming_reports r
                 JOIN UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[],
                    $6::bigint[]) AS k(kind, org, id, domain, b, e)
                   ON r.kind = k.kind AND r.org_name = k.org AND r.report_id = k.id
                      AND r.domain = k.domain AND r.begin_time = k.b AND r.end_time = k.e",
                &[&kinds, &orgs, &ids, &domains, &begins, &ends],
            )
            .await
            .map_err(pg)?;
        let mut known: HashMap<(String, String, String, String, i64, i64), String> = HashMap::new();
        for row in &existing {
            known.insert(
                (
                    row.get(0),
                    row.get(1),
                    row.get(2),
                    row.get(3),
                    row.get(4),
                    row.get(5),
                ),
                row.get(6),
            );
        }
        let mut outcomes = Vec::with_capacity(reports.len());
        let mut new: Vec<&IncomingReport> = Vec::new();
        let mut conflicts: Vec<&IncomingReport> = Vec::new();
        for r in reports {
            let (k, o, i, d, b, e) = identity(r);
            let key = (k.into(), o.into(), i.into(), d.into(), b, e);
            match known.get(&key) {
                Some(hash) if *hash == r.content_hash => outcomes.push(ImportOutcome::Duplicate),
                Some(_) => {
                    conflicts.push(r);
                    outcomes.push(ImportOutcome::Conflict);
                }
                None => {
                    known.insert(key, r.content_hash.clone());
                    new.push(r);
                    outcomes.push(ImportOutcome::New {
                        records: (r.records.len() + r.tls_policies.len()) as u64,
                    });
                }
            }
        }
        if !new.is_empty() {
            let n = new.len() as i64;
            let row_ids: Vec<i64> = tx
                .query(
                    "SELECT nextval('incoming_reports_id_seq') FROM generate_series(1::bigint, $1::bigint)",
                    &[&n],
                )
                .await
                .map_err(pg)?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let col = |f: fn(&IncomingReport) -> &str| -> Vec<&str> {
                new.iter().map(|r| f(r)).collect()
            };
            let kinds = col(|r| r.kind.as_str());
            let orgs = col(|r| &r.org_name);
            let rids = col(|r| &r.report_id);
            let domains = col(|r| &r.domain);
            let hashes = col(|r| &r.content_hash);
            let metas = col(|r| &r.meta);
            let sources = col(|r| &r.source);
            let begins: Vec<i64> = new.iter().map(|r| r.begin).collect();
            let ends: Vec<i64> = new.iter().map(|r| r.end).collect();
            let ps: Vec<Option<&str>> = new.iter().map(|r| r.policy_p.as_deref()).collect();
            let messages: Vec<i64> = new.iter().map(|r| r.messages as i64).collect();
            let rows: Vec<i64> = new
                .iter()
                .map(|r| (r.records.len() + r.tls_policies.len()) as i64)
                .collect();
            let documents: Vec<Vec<u8>> = new
                .iter()
                .map(|r| crate::deflate_document(&r.document))
                .collect();
            tx.execute(
                "INSERT INTO incoming_reports (id, kind, org_name, report_id, domain, begin_time,
                    end_time, content_hash, policy_p, messages, records, meta, source,
                    imported_at, document)
                 SELECT i, k, o, r, d, b, e, h, p, m, n, x, s, $14, z
                 FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
                    $6::bigint[], $7::bigint[], $8::text[], $9::text[], $10::bigint[],
                    $11::bigint[], $12::text[], $13::text[], $15::bytea[])
                    AS u(i, k, o, r, d, b, e, h, p, m, n, x, s, z)",
                &[
                    &row_ids, &kinds, &orgs, &rids, &domains, &begins, &ends, &hashes, &ps,
                    &messages, &rows, &metas, &sources, &now, &documents,
                ],
            )
            .await
            .map_err(pg)?;
            self.insert_rows(&tx, &new, &row_ids).await?;
        }
        if !conflicts.is_empty() {
            let col = |f: fn(&IncomingReport) -> &str| -> Vec<&str> {
                conflicts.iter().map(|r| f(r)).collect()
            };
            let kinds = col(|r| r.kind.as_str());
            let orgs = col(|r| &r.org_name);
            let rids = col(|r| &r.report_id);
            let domains = col(|r| &r.domain);
            let hashes = col(|r| &r.content_hash);
            let docs = col(|r| &r.document);
            let sources = col(|r| &r.source);
            let begins: Vec<i64> = conflicts.iter().map(|r| r.begin).collect();
            let ends: Vec<i64> = conflicts.iter().map(|r| r.end).collect();
            tx.execute(
                "INSERT INTO incoming_conflicts (kind, org_name, report_id, domain, begin_time,
                    end_time, content_hash, document, source, imported_at)
                 SELECT k, o, r, d, b, e, h, x, s, $10
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[],
                    $6::bigint[], $7::text[], $8::text[], $9::text[]) AS u(k, o, r, d, b, e, h, x, s)
                 ON CONFLICT DO NOTHING",
                &[
                    &kinds, &orgs, &rids, &domains, &begins, &ends, &hashes, &docs, &sources,
                    &now,
                ],
            )
            .await
            .map_err(pg)?;
        }
        tx.commit().await.map_err(pg)?;
        Ok(outcomes)
    }

    async fn insert_rows(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        new: &[&IncomingReport],
        row_ids: &[i64],
    ) -> Result<(), StoreError> {
        let pg = |e| self.pg(e);
        let total: usize = new.iter().map(|r| r.records.len()).sum();
        if total > 0 {
            // COPY in binary: the server parses no SQL per row.
            use tokio_postgres::binary_copy::BinaryCopyInWriter;
            use tokio_postgres::types::{ToSql, Type};
            let sink = tx
                .copy_in(
                    "COPY incoming_records (report, source_ip, count, disposition,
                        dkim_aligned, spf_aligned, header_from, envelope_from, envelope_to,
                        dkim_domain, dkim_selector, dkim_result, dkim_any_pass, spf_domain,
                        spf_result, reasons, auth) FROM STDIN BINARY",
                )
                .await
                .map_err(pg)?;
            let types = [
                Type::INT8,
                Type::TEXT,
                Type::INT8,
                Type::TEXT,
                Type::BOOL,
                Type::BOOL,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::BOOL,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
            ];
            let writer = BinaryCopyInWriter::new(sink, &types);
            let mut writer = std::pin::pin!(writer);
            for (r, &id) in new.iter().zip(row_ids) {
                for c in &r.records {
                    let count = c.count as i64;
                    let row: [&(dyn ToSql + Sync); 17] = [
                        &id,
                        &c.source_ip,
                        &count,
                        &c.disposition,
                        &c.dkim_aligned,
                        &c.spf_aligned,
                        &c.header_from,
                        &c.envelope_from,
                        &c.envelope_to,
                        &c.dkim_domain,
                        &c.dkim_selector,
                        &c.dkim_result,
                        &c.dkim_any_pass,
                        &c.spf_domain,
                        &c.spf_result,
                        &c.reasons,
                        &c.auth,
                    ];
                    writer.as_mut().write(&row).await.map_err(pg)?;
                }
            }
            writer.finish().await.map_err(pg)?;
        }
        let policies: usize = new.iter().map(|r| r.tls_policies.len()).sum();
        if policies > 0 {
            let mut report = Vec::with_capacity(policies);
            let mut kind = Vec::with_capacity(policies);
            let mut domain = Vec::with_capacity(policies);
            let mut ok = Vec::with_capacity(policies);
            let mut failed = Vec::with_capacity(policies);
            let mut details = Vec::with_capacity(policies);
            for (r, &id) in new.iter().zip(row_ids) {
                for p in &r.tls_policies {
                    report.push(id);
                    kind.push(p.policy_type.as_str());
                    domain.push(p.policy_domain.as_str());
                    ok.push(p.successful as i64);
                    failed.push(p.failed as i64);
                    details.push(p.details.as_str());
                }
            }
            tx.execute(
                "INSERT INTO incoming_tls_policies (report, policy_type, policy_domain,
                    successful, failed, details)
                 SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bigint[],
                    $5::bigint[], $6::text[])",
                &[&report, &kind, &domain, &ok, &failed, &details],
            )
            .await
            .map_err(pg)?;
        }
        Ok(())
    }

    pub(crate) async fn incoming_summary_in(
        &self,
        filter: &SummaryFilter,
    ) -> Result<IncomingSummary, StoreError> {
        let mut client = self.client().await?;
        let pg = |e| self.pg(e);
        // The four queries read one snapshot: a report imported meanwhile (by another
        // host sharing the store) is in all of them or in none, so the totals, the
        // sources and the reporters agree.
        let client = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(pg)?;
        let since = filter.since.unwrap_or(i64::MIN);
        let until = filter.until.unwrap_or(i64::MAX);
        let domain = filter.domain.clone().unwrap_or_default();
        let mut out = IncomingSummary::default();
        for row in client
            .query(REPORTERS_SQL, &[&since, &until, &domain])
            .await
            .map_err(pg)?
        {
            out.reporters.push(ReporterGroup {
                domain: row.get(0),
                org_name: row.get(1),
                reports: row.get::<_, i64>(2) as u64,
                messages: row.get::<_, i64>(3) as u64,
                last_end: row.get(4),
                policy_p: row.get(5),
            });
        }
        let limit = crate::MAX_SUMMARY_SOURCES as i64;
        for row in client
            .query(SOURCES_SQL, &[&since, &until, &domain, &limit])
            .await
            .map_err(pg)?
        {
            out.sources.push(SourceGroup {
                domain: row.get(0),
                source_ip: row.get(1),
                header_from: row.get(2),
                disposition: row.get(3),
                dkim_aligned: row.get(4),
                spf_aligned: row.get(5),
                dkim_domain: row.get(6),
                dkim_selector: row.get(7),
                dkim_result: row.get(8),
                dkim_any_pass: row.get(9),
                spf_domain: row.get(10),
                spf_result: row.get(11),
                reasons: row.get(12),
                messages: row.get::<_, i64>(13) as u64,
            });
        }
        for row in client
            .query(TOTALS_SQL, &[&since, &until, &domain])
            .await
            .map_err(pg)?
        {
            out.totals.push(DomainGroup {
                domain: row.get(0),
                disposition: row.get(1),
                messages: row.get::<_, i64>(2) as u64,
                dmarc_pass: row.get::<_, i64>(3) as u64,
                dkim_aligned_pass: row.get::<_, i64>(4) as u64,
                spf_aligned_pass: row.get::<_, i64>(5) as u64,
            });
        }
        for row in client
            .query(SOURCE_COUNTS_SQL, &[&since, &until, &domain])
            .await
            .map_err(pg)?
        {
            out.source_counts.push((
                row.get(0),
                row.get::<_, i64>(1) as u64,
                row.get::<_, i64>(2) as u64,
            ));
        }
        client.commit().await.map_err(pg)?;
        Ok(out)
    }

    pub(crate) async fn incoming_tls_in(
        &self,
        filter: &SummaryFilter,
    ) -> Result<crate::Newest<crate::TlsPolicyStored>, StoreError> {
        let client = self.client().await?;
        let since = filter.since.unwrap_or(i64::MIN);
        let until = filter.until.unwrap_or(i64::MAX);
        let domain = filter.domain.clone().unwrap_or_default();
        // One row more than the bound: whether older rows were left out.
        let limit = crate::MAX_TLS_ROWS as i64 + 1;
        let rows = client
            .query(TLS_SQL, &[&since, &until, &domain, &limit])
            .await
            .map_err(|e| self.pg(e))?;
        let rows = rows
            .iter()
            .map(|row| crate::TlsPolicyStored {
                org_name: row.get(0),
                policy_type: row.get(1),
                policy_domain: row.get(2),
                successful: row.get::<_, i64>(3) as u64,
                failed: row.get::<_, i64>(4) as u64,
                details: row.get(5),
            })
            .collect();
        Ok(crate::Newest::of(rows, crate::MAX_TLS_ROWS))
    }

    pub(crate) async fn incoming_generation_in(&self) -> Result<i64, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT COALESCE(MAX(id), 0)::bigint FROM incoming_reports",
                &[],
            )
            .await
            .map_err(|e| self.pg(e))?;
        Ok(row.get(0))
    }

    pub(crate) async fn incoming_daily_in(
        &self,
        filter: &SummaryFilter,
    ) -> Result<crate::Newest<crate::DailyCounts>, StoreError> {
        let client = self.client().await?;
        let (since, until, domain) = crate::sqlite_incoming::bounds(filter);
        // One day more than the bound: whether older days were left out.
        let limit = crate::MAX_DAYS as i64 + 1;
        let rows = client
            .query(DAILY_SQL, &[&since, &until, &domain, &limit])
            .await
            .map_err(|e| self.pg(e))?;
        let rows = rows
            .iter()
            .map(|row| crate::DailyCounts {
                day: row.get(0),
                messages: row.get::<_, i64>(1) as u64,
                dmarc_pass: row.get::<_, i64>(2) as u64,
                none: row.get::<_, i64>(3) as u64,
                quarantine: row.get::<_, i64>(4) as u64,
                reject: row.get::<_, i64>(5) as u64,
            })
            .collect();
        Ok(crate::Newest::of(rows, crate::MAX_DAYS))
    }

    pub(crate) async fn incoming_report_list_in(
        &self,
        filter: &SummaryFilter,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<crate::ReportListEntry>, StoreError> {
        let client = self.client().await?;
        let (since, until, domain) = crate::sqlite_incoming::bounds(filter);
        let limit = limit.min(MAX_LIST) as i64;
        let offset = offset.min(i64::MAX as u64) as i64;
        let rows = client
            .query(
                &crate::sqlite_incoming::list_sql(filter.domain.is_some()),
                &[&since, &until, &domain, &limit, &offset],
            )
            .await
            .map_err(|e| self.pg(e))?;
        Ok(rows.iter().map(list_entry).collect())
    }

    pub(crate) async fn incoming_report_in(
        &self,
        id: i64,
    ) -> Result<Option<crate::StoredReport>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(REPORT_SQL, &[&id])
            .await
            .map_err(|e| self.pg(e))?;
        Ok(row.map(|row| {
            let stored: Option<Vec<u8>> = row.get(12);
            crate::StoredReport {
                entry: list_entry(&row),
                meta: row.get(10),
                source: row.get(11),
                document: stored.as_deref().and_then(crate::inflate_document),
            }
        }))
    }

    pub(crate) async fn incoming_counts_in(&self) -> Result<IncomingCounts, StoreError> {
        let client = self.client().await?;
        let pg = |e| self.pg(e);
        let mut c = IncomingCounts::default();
        for row in client
            .query(
                "SELECT kind, COUNT(*), COALESCE(SUM(records), 0)::bigint,
                    COALESCE(SUM(messages), 0)::bigint
                 FROM incoming_reports GROUP BY kind",
                &[],
            )
            .await
            .map_err(pg)?
        {
            let kind: String = row.get(0);
            let n = row.get::<_, i64>(1) as u64;
            match kind.as_str() {
                "aggregate" => {
                    c.aggregate = n;
                    c.records = row.get::<_, i64>(2) as u64;
                    c.messages = row.get::<_, i64>(3) as u64;
                }
                "tls" => c.tls = n,
                _ => c.failure = n,
            }
        }
        c.conflicts = client
            .query_one("SELECT COUNT(*) FROM incoming_conflicts", &[])
            .await
            .map_err(pg)?
            .get::<_, i64>(0) as u64;
        Ok(c)
    }
}

fn list_entry(row: &tokio_postgres::Row) -> crate::ReportListEntry {
    crate::ReportListEntry {
        id: row.get(0),
        kind: row.get(1),
        org_name: row.get(2),
        report_id: row.get(3),
        domain: row.get(4),
        begin: row.get(5),
        end: row.get(6),
        messages: row.get::<_, i64>(7) as u64,
        records: row.get::<_, i64>(8) as u64,
        has_document: row.get(9),
    }
}
