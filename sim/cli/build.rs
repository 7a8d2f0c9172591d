//! The commit the `beanworld` binary is built from, for `beanworld --version`: `BEANWORLD_COMMIT`
//! is git's short hash of `HEAD`, or "unknown commit" outside a git checkout (a source archive).

use std::process::Command;

/// What `git ARGS` prints, trimmed, if it runs and succeeds.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok().filter(|o| o.status.success())?;
    let text = String::from_utf8(out.stdout).ok()?;
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]);
    println!("cargo:rustc-env=BEANWORLD_COMMIT={}", commit.as_deref().unwrap_or("unknown commit"));
    // Built again when HEAD moves: a commit, a checkout, a new branch tip (the branches' folder
    // is watched whole: a ref packed away reappears as a new file there). Only paths that exist:
    // cargo runs a build script every time for one that does not.
    let mut watched = Vec::new();
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        watched.push(format!("{dir}/HEAD"));
        if let Some(common) = git(&["rev-parse", "--git-common-dir"]) {
            // Relative to this package's folder, where the script runs, unless absolute.
            let common = std::path::Path::new(&common);
            let common = if common.is_absolute() {
                common.to_path_buf()
            } else {
                std::env::current_dir().unwrap_or_default().join(common)
            };
            for part in ["refs/heads", "packed-refs"] {
                watched.push(common.join(part).display().to_string());
            }
        }
    }
    for path in watched.iter().filter(|p| std::path::Path::new(p).exists()) {
        println!("cargo:rerun-if-changed={path}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
