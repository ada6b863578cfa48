//! Rebuilds the crate when a migration is added or changed: `embed_migrations!`
//! reads `migrations/` at compile time, and cargo does not otherwise notice a new
//! folder there (a binary would run with the migrations of its last build).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
