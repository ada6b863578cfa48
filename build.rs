//! Rebuilds the crate when a migration is added or changed: `embed_migrations!`
//! reads `migrations/` at compile time, and cargo does not otherwise notice a new
//! folder there (a binary would run with the migrations of its last build).
//!
//! It also hands the build a fingerprint of exactly the migrations it embeds
//! (`BOOSTER_MIGRATIONS_HASH`): the tests name their template database after it,
//! so a template is never built by a binary whose embedded migrations differ from
//! the files on disk (as happens when a migration is edited during a build).

use std::{
    hash::{DefaultHasher, Hasher},
    path::{Path, PathBuf},
};

fn files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read migrations") {
        let path = entry.expect("a migrations entry").path();
        if path.is_dir() {
            files(&path, found);
        } else {
            println!("cargo:rerun-if-changed={}", path.display());
            found.push(path);
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    let root = Path::new("migrations");
    let mut found = Vec::new();
    files(root, &mut found);
    found.sort();
    // A cache key, not a security boundary: the standard hasher is enough.
    let mut hasher = DefaultHasher::new();
    for path in found {
        let contents = std::fs::read(&path).expect("read a migration");
        let relative = path.strip_prefix(root).expect("inside migrations");
        hasher.write(relative.to_string_lossy().as_bytes());
        hasher.write_usize(contents.len());
        hasher.write(&contents);
    }
    println!(
        "cargo:rustc-env=BOOSTER_MIGRATIONS_HASH={:016x}",
        hasher.finish()
    );
}
