//! Issue 11: what recording costs per message, by part, to keep it within 5% of the
//! milter's CPU (`benches/milter-load.sh` measures the whole in Postfix):
//! - `evaluation`: the evaluation of a judged message (with the failure-report check);
//! - `journal`: its JSON line appended to the journal (the part on the message's path);
//! - `store`: the writer's share, parsing journal lines and storing them in SQLite in
//!   batches of 500 (per message).
//!
//! Run: `cargo bench -p monban-milter --bench record_cost` (env: N=20000 messages).

use std::sync::Arc;
use std::time::Instant;

use monban::pipeline::{Envelope, VerifyConfig, verify_message};
use monban_dns::ZoneResolver;
use monban_milter::metrics::Metrics;
use monban_milter::recorder::{RecordConfig, Recorder};
use monban_store::{Evaluation, SqliteStore, StoreUrl};

fn main() {
    let n: usize = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let zone = ZoneResolver::from_file(root.join("examples/example.zone")).unwrap();
    let message = std::fs::read(root.join("examples/messages/alice-to-bob.eml")).unwrap();
    let envelope = Envelope {
        ip: Some("192.0.2.25".parse().unwrap()),
        helo: Some("mail.example.com".into()),
        mail_from: Some("alice@example.com".into()),
        rcpt_to: Vec::new(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = rt.block_on(verify_message(
        &message,
        envelope.clone(),
        VerifyConfig::default(),
        1_795_946_400,
        &zone,
    ));
    let dir = std::env::temp_dir().join(format!("monban-record-cost-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("m.db");
    let recorder = Recorder::start(
        RecordConfig {
            // A store the writer cannot open: the journal is measured alone.
            url: StoreUrl::Sqlite(dir.join("missing/dir/x.db")),
            journal: dir.join("journal"),
            max_journal_bytes: 1 << 40,
            batch: 500,
            discovery_method: "treewalk",
            failure: Some(monban_report::failure::FailureOptions {
                authserv_id: "mx.test".into(),
                redact: true,
                per_hour: 10,
            }),
        },
        Arc::new(Metrics::default()),
    )
    .unwrap();
    std::fs::write(dir.join("missing"), b"").unwrap();

    let t = Instant::now();
    let evaluations: Vec<Evaluation> = (0..n)
        .map(|_| rt.block_on(recorder.evaluation(&report, &envelope, &zone, 1_795_946_400)))
        .collect();
    let evaluation = t.elapsed() / n as u32;

    let t = Instant::now();
    for e in &evaluations {
        recorder.append(e);
    }
    let journal = t.elapsed() / n as u32;

    let lines: Vec<Vec<u8>> = evaluations
        .iter()
        .map(|e| serde_json::to_vec(e).unwrap())
        .collect();
    let store = SqliteStore::open(&db).unwrap();
    let t = Instant::now();
    for chunk in lines.chunks(500) {
        let batch: Vec<Evaluation> = chunk
            .iter()
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        store.record_now(&batch).unwrap();
    }
    let stored = t.elapsed() / n as u32;
    println!(
        "per message: evaluation {evaluation:?}, journal append {journal:?}, store (writer) {stored:?}; \
         total {:?} (n = {n})",
        evaluation + journal + stored
    );
    recorder.shutdown(std::time::Duration::ZERO);
    let _ = std::fs::remove_dir_all(&dir);
}
