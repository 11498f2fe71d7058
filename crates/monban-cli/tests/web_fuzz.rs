//! The JSON API fuzzed against its own OpenAPI document (issue 13): schemathesis (PyPI,
//! installed by scripts/test.sh into target/pytools) sends generated and mutated
//! requests to the real server on a loopback port, with a fixed seed and a bounded
//! number of cases: no 5xx, answers in the documented statuses, content types and
//! schemas, and requests that break the schema refused. (Schema-valid data that the
//! server still refuses on meaning, e.g. a PNG posted as a message, is not an error.)

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::Dir;
use common::web::Server;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn schemathesis_finds_nothing() {
    let tools = std::env::var_os("MONBAN_PYTOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/pytools"));
    let st = tools.join("bin/schemathesis");
    assert!(
        st.exists(),
        "{} is missing: scripts/test.sh installs it (pip install schemathesis)",
        st.display()
    );
    let dir = Dir::new("web-fuzz");
    let store = common::web::sample_store(&dir.0);
    let server = Server::example(&["--store", &store]);
    let base = format!("http://127.0.0.1:{}", server.port);
    let out = Command::new(&st)
        .args([
            "run",
            &format!("{base}/api/v1/openapi.json"),
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "-n",
            "60",
            "--seed",
            "12345",
            "--request-timeout",
            "30",
            "--no-color",
        ])
        .current_dir(&dir.0)
        .output()
        .unwrap();
    drop(server);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("passed"), "{text}");
}
