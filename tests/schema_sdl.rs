//! The checked-in `schema.graphql` must equal the schema the server serves.

#[test]
fn checked_in_schema_matches_served_schema() {
    let served = booster::graphql::sdl();
    let checked_in =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    if served != checked_in {
        if std::env::var("UPDATE_SCHEMA").is_ok() {
            std::fs::write(
                concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"),
                &served,
            )
            .unwrap();
            return;
        }
        panic!(
            "schema.graphql is out of date: run `cargo run -- schema > schema.graphql` (or UPDATE_SCHEMA=1 cargo test --test schema_sdl)"
        );
    }
}
