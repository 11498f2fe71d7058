//! The pages in a real browser (issue 13): `monban serve` on a loopback port, with the
//! report store of parsedmarc's samples, and `node --test tests/browser/pages.test.mjs`
//! driving Debian's Chromium through playwright-core (installed by scripts/test.sh:
//! `apt-get install chromium`, `npm ci` in tests/browser). Every page renders in both
//! languages, the analyzer shows the samples right, no request leaves 127.0.0.1, the
//! pages work without JavaScript and from the keyboard, and axe-core finds no WCAG 2.2
//! AA violation. The screenshots go to target/screenshots/.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::Dir;
use common::web::Server;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_pages_in_chromium() {
    let browser = root().join("tests/browser");
    assert!(
        browser.join("node_modules/playwright-core").exists(),
        "tests/browser/node_modules is missing: scripts/test.sh installs it (npm ci)"
    );
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: scripts/test.sh installs it (apt-get install chromium)"
    );
    let dir = Dir::new("web-browser");
    let store = common::web::sample_store(&dir.0);
    let server = Server::example(&["--store", &store, "--authserv-id", "mx.receiver.example"]);
    let shots = root().join("target/screenshots");
    let out = Command::new("node")
        .args(["--test", "--test-reporter=spec", "pages.test.mjs"])
        .current_dir(&browser)
        .env("MONBAN_URL", format!("http://127.0.0.1:{}", server.port))
        .env("MONBAN_EXAMPLES", root().join("examples/messages"))
        .env("MONBAN_SCREENSHOTS", &shots)
        .output()
        .expect("node (Node.js) is needed for the browser tests");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{report}");
    println!("{report}");
    for name in [
        "start-en",
        "analyze-result-en",
        "check-example.com-en",
        "reports-en",
        "analyze-result-ja",
    ] {
        assert!(shots.join(format!("{name}.png")).exists(), "{name}.png");
    }
}
