//! The Node side of the outside checks: scripts under `tests/web/` run with the
//! packages `scripts/web-test-deps.sh` installs there (graphql-http's audit suite,
//! playwright-core driving Debian's Chromium).

use std::path::Path;

/// Runs `node tests/web/<script> <args>` and returns its standard output; panics
/// with the script's output when it fails.
pub async fn run_node(script: &str, args: &[&str]) -> String {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web");
    assert!(
        web.join("node_modules").exists(),
        "tests/web/node_modules is missing: run scripts/web-test-deps.sh (scripts/test.sh does)"
    );
    let output = tokio::process::Command::new("node")
        .arg(web.join(script))
        .args(args)
        .current_dir(&web)
        .kill_on_drop(true)
        .output()
        .await
        .expect("node runs (installed by scripts/web-test-deps.sh)");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "node {script} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}
