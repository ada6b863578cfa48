//! The structure rules of `docs/ARCHITECTURE.md`, held by the code:
//! - the layer table: every `crate::` reference in `src/` must go to a module
//!   the table's "may use" column allows for the module it is written in, and
//!   the table itself must have no loop. The table is read from the document,
//!   so the document and the code cannot drift;
//! - resolvers are thin: no GraphQL resolver is longer than 30 lines.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::Path,
};

/// Module -> the modules it may use; `None` for "everything".
type Table = BTreeMap<String, Option<BTreeSet<String>>>;

/// The module a backticked path names: `db/` and `db/enums.rs` are `db`,
/// `main.rs` is `main`.
fn module_of(path: &str) -> String {
    let first = path.split(['/', ':']).next().unwrap_or(path);
    first.trim_end_matches(".rs").to_string()
}

fn backticked(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

fn layer_table() -> Table {
    let doc =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ARCHITECTURE.md"))
            .expect("docs/ARCHITECTURE.md is readable");
    let mut table = Table::new();
    let mut in_table = false;
    for line in doc.lines() {
        if line.starts_with("| module | owns | may use |") {
            in_table = true;
            continue;
        }
        if !in_table || line.starts_with("|---") {
            continue;
        }
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
        let (modules, may_use) = (cells[0], cells[cells.len() - 1]);
        let allowed = (may_use.trim() != "everything")
            .then(|| backticked(may_use).into_iter().map(module_of).collect());
        for module in backticked(modules) {
            table.insert(module_of(module), allowed.clone());
        }
    }
    assert!(
        table.len() > 10,
        "the layer table was not found in the document"
    );
    table
}

/// The top-level modules a source file names through `crate::` (single paths and
/// the first level of `crate::{a::b, c}` groups), comments left out.
fn crate_references(source: &str) -> BTreeSet<String> {
    let code: String = source
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let bytes = code.as_bytes();
    let ident = |from: usize| {
        let end = code[from..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(code.len(), |n| from + n);
        code[from..end].to_string()
    };
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let start = at + "crate::".len();
        if bytes.get(start) != Some(&b'{') {
            found.insert(ident(start));
            continue;
        }
        let (mut depth, mut expecting_item) = (0, true);
        for (offset, c) in code[start..].char_indices() {
            match c {
                '{' => {
                    depth += 1;
                    expecting_item = depth == 1;
                }
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                ',' if depth == 1 => expecting_item = true,
                c if depth == 1 && expecting_item && (c.is_alphabetic() || c == '_') => {
                    found.insert(ident(start + offset));
                    expecting_item = false;
                }
                _ => {}
            }
        }
    }
    found.retain(|name| !name.is_empty());
    found
}

fn source_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            source_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_imports_against_the_layer_table() {
    let table = layer_table();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    source_files(&src, &mut files);
    let mut broken = Vec::new();
    for file in files {
        let relative = file
            .strip_prefix(&src)
            .expect("under src/")
            .to_string_lossy()
            .to_string();
        if relative == "lib.rs" {
            continue;
        }
        let module = module_of(&relative);
        let allowed = table.get(&module).unwrap_or_else(|| {
            panic!("src/{relative}: module `{module}` is missing from the layer table")
        });
        let Some(allowed) = allowed else { continue };
        for used in crate_references(&fs::read_to_string(&file).expect("a readable source file")) {
            if used != module && !allowed.contains(&used) {
                broken.push(format!(
                    "src/{relative} uses `{used}`, which `{module}` may not"
                ));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "imports against the layer table:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_layer_table_has_no_loop() {
    let table = layer_table();
    // Repeatedly remove modules whose allowed uses are all removed already; what
    // remains sits on a loop. "everything" is the top and takes no part.
    let mut remaining: BTreeMap<&String, &BTreeSet<String>> = table
        .iter()
        .filter_map(|(module, allowed)| allowed.as_ref().map(|a| (module, a)))
        .collect();
    loop {
        let settled: Vec<&String> = remaining
            .iter()
            .filter(|(_, allowed)| allowed.iter().all(|used| !remaining.contains_key(used)))
            .map(|(module, _)| *module)
            .collect();
        if settled.is_empty() {
            break;
        }
        for module in settled {
            remaining.remove(module);
        }
    }
    assert!(
        remaining.is_empty(),
        "the layer table has a loop among {:?}",
        remaining.keys()
    );
}

#[test]
fn references_are_read_from_paths_and_groups() {
    let source = "use crate::{\n    app::AppState,\n    db::{enums::Role, users::UserRow},\n    error,\n};\n\
                  // crate::graphql in a comment\nfn f() { crate::metrics::handle(); }";
    let found: Vec<String> = crate_references(source).into_iter().collect();
    assert_eq!(found, ["app", "db", "error", "metrics"]);
}

/// The longest a resolver may be, signature included.
const MAX_RESOLVER_LINES: usize = 30;

#[test]
fn no_resolver_is_longer_than_30_lines() {
    let mut files = Vec::new();
    source_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/graphql"),
        &mut files,
    );
    let mut long = Vec::new();
    for file in files {
        let source = fs::read_to_string(&file).expect("a readable source file");
        let lines: Vec<&str> = source.lines().collect();
        let mut in_object = false;
        let mut at = 0;
        while at < lines.len() {
            let line = lines[at];
            if line.starts_with("#[Object") || line.starts_with("#[Subscription") {
                in_object = true;
            } else if line.starts_with('}') {
                in_object = false;
            }
            let resolver = line
                .strip_prefix("    async fn ")
                .or(line.strip_prefix("    pub async fn "));
            if let (true, Some(signature)) = (in_object, resolver) {
                let end = (at..lines.len())
                    .find(|&end| lines[end].starts_with("    }"))
                    .unwrap_or(lines.len() - 1);
                if end + 1 - at > MAX_RESOLVER_LINES {
                    let name = signature.split(['(', '<']).next().unwrap_or(signature);
                    long.push(format!(
                        "{}: {name} ({} lines)",
                        file.display(),
                        end + 1 - at
                    ));
                }
                at = end;
            }
            at += 1;
        }
    }
    assert!(
        long.is_empty(),
        "resolvers longer than {MAX_RESOLVER_LINES} lines:\n{}",
        long.join("\n")
    );
}

/// The `admin*` fields of the schema's root types (Query, Mutation, Subscription).
fn admin_root_fields(sdl: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut in_root = false;
    for line in sdl.lines() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("type ") {
            in_root = ["QueryRoot", "MutationRoot", "SubscriptionRoot"]
                .iter()
                .any(|root| rest.starts_with(root));
        } else if trimmed == "}" {
            in_root = false;
        } else if in_root && trimmed.starts_with("admin") {
            let name: String = trimmed
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            fields.push(name);
        }
    }
    fields
}

fn snake_case(camel: &str) -> String {
    let mut out = String::new();
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Every `admin*` root field of the schema names the permission it needs: its
/// resolver carries `RoleGuard::Staff(Permission::...)` (or `AnyStaff`, for what
/// every staff member needs), and no field is guarded by a bare admin check.
#[test]
fn every_admin_field_names_its_permission() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sdl = std::fs::read_to_string(root.join("schema.graphql")).unwrap();
    let fields = admin_root_fields(&sdl);
    assert!(
        fields.len() > 60,
        "found only {} admin fields",
        fields.len()
    );
    let mut files = Vec::new();
    source_files(&root.join("src/graphql"), &mut files);
    let sources: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let mut missing = Vec::new();
    for field in &fields {
        let declaration = format!("async fn {}(", snake_case(field));
        let guarded = sources.iter().any(|source| {
            let lines: Vec<&str> = source.lines().collect();
            lines.iter().enumerate().any(|(i, line)| {
                // The attributes and doc lines since the previous item ended.
                line.contains(&declaration)
                    && lines[..i]
                        .iter()
                        .rev()
                        .take_while(|l| l.trim() != "}" && !l.trim_end().ends_with('{'))
                        .any(|l| {
                            l.contains("RoleGuard::Staff(") || l.contains("RoleGuard::AnyStaff")
                        })
            })
        });
        if !guarded {
            missing.push(field.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "admin fields without a permission: {missing:?}"
    );
    for source in &sources {
        assert!(
            !source.contains("RoleGuard::Admin"),
            "a bare admin guard is left"
        );
    }
}
