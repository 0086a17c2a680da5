//! The layers, checked on the source: no module imports another that imports it back, in any
//! crate of the workspace, and no source file outside tests grows past 800 lines.
//!
//! Crate boundaries are enforced by cargo (a dependency cycle does not build). Inside a crate
//! the compiler allows cycles, so this test reads every crate's non-test source, finds each
//! module's `crate::`, `super::` and (from the binary) `till::` paths, and lifts every
//! reference to the two sibling modules it joins: `checkout::members → store::sales` counts
//! as `checkout → store`. A module may use its own parent or children (that is nesting, not a
//! cycle); any other loop fails with the modules around it. What it cannot see: a path through
//! a parent's `pub use` counts as a use of the parent, and macros called by bare name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

/// The module a source file defines, from its path under the crate's `src`.
fn module_of(relative: &Path) -> Module {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let file = parts.pop().unwrap_or_default();
    let stem = file.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts
}

/// The source without its `#[cfg(test)]` modules (tests may reach across layers) and
/// comments.
fn without_tests(source: &str) -> String {
    let mut out = String::new();
    let mut lines = source.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]"
            && lines.peek().is_some_and(|next| {
                let next = next.trim_start();
                ["mod ", "pub mod ", "pub(crate) mod ", "pub(super) mod "]
                    .iter()
                    .any(|start| next.starts_with(start))
            })
        {
            let indent = line.len() - line.trim_start().len();
            let header = lines.next().unwrap_or_default();
            if header.trim_end().ends_with(';') {
                continue;
            }
            // Skip to the closing brace at the same indentation.
            for inner in lines.by_ref() {
                if inner.len() - inner.trim_start().len() == indent && inner.trim() == "}" {
                    break;
                }
            }
            continue;
        }
        // Comments (doc links among them) import nothing.
        if !line.trim_start().starts_with("//") {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Every path a source names from `anchor::` (`crate`, `super`, `till`), as segments; a
/// brace group yields one path per item.
fn paths_after(source: &str, anchor: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let bytes = source.as_bytes();
    let needle = format!("{anchor}::");
    let mut from = 0;
    while let Some(found) = source[from..].find(&needle) {
        let start = from + found;
        from = start + needle.len();
        let boundary = start == 0 || {
            let c = bytes[start - 1] as char;
            !(c.is_alphanumeric() || c == '_' || c == ':')
        };
        if !boundary {
            continue;
        }
        // `super::super::x` climbs twice.
        let mut prefix = vec![anchor.to_string()];
        let mut rest = &source[from..];
        while anchor == "super" && rest.starts_with("super::") {
            prefix.push("super".into());
            rest = &rest["super::".len()..];
        }
        for tail in expand(rest) {
            let mut path = prefix.clone();
            path.extend(tail);
            paths.push(path);
        }
    }
    paths
}

/// The module paths a `use` tail names: `a::b::C` or `{a::X, b::{c, d}}`.
fn expand(rest: &str) -> Vec<Vec<String>> {
    let ident: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if !ident.is_empty() {
        let after = &rest[ident.len()..];
        if let Some(deeper) = after.strip_prefix("::") {
            return expand(deeper)
                .into_iter()
                .map(|mut tail| {
                    tail.insert(0, ident.clone());
                    tail
                })
                .collect();
        }
        return vec![vec![ident]];
    }
    let Some(group) = rest.strip_prefix('{') else {
        return vec![vec![]];
    };
    let mut items = Vec::new();
    let (mut depth, mut item_start) = (0usize, 0usize);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[item_start..i]);
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[item_start..i]);
                item_start = i + 1;
            }
            _ => {}
        }
    }
    items
        .into_iter()
        .map(str::trim)
        .filter(|item| !item.is_empty() && *item != "self")
        .flat_map(expand)
        .collect()
}

/// One crate's modules and the sibling edges between them.
fn sibling_edges(root: &Path, files: &[PathBuf]) -> BTreeMap<Module, BTreeSet<Module>> {
    let modules: BTreeSet<Module> = files
        .iter()
        .map(|f| module_of(f.strip_prefix(root).unwrap()))
        .collect();
    let resolve = |path: &[String]| -> Module {
        // The longest prefix that is a module: `store::sales::Foo` → `store::sales`.
        (0..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|m| modules.contains(m))
            .unwrap_or_default()
    };
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(root).unwrap();
        // Test-only files (`ui/tests.rs`) are tests.
        if relative.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let here = module_of(relative);
        let source = without_tests(&std::fs::read_to_string(file).unwrap());
        let mut targets = Vec::new();
        for anchor in ["crate", "till"] {
            for path in paths_after(&source, anchor) {
                targets.push(resolve(&path[1..]));
            }
        }
        for path in paths_after(&source, "super") {
            let ups = path.iter().take_while(|s| *s == "super").count();
            let mut base = here.clone();
            for _ in 0..ups {
                base.pop();
            }
            base.extend(path[ups..].iter().cloned());
            targets.push(resolve(&base));
        }
        for target in targets {
            let common = here.iter().zip(&target).take_while(|(a, b)| a == b).count();
            if common == here.len() || common == target.len() {
                continue; // itself, a parent or a child
            }
            edges
                .entry(here[..=common].to_vec())
                .or_default()
                .insert(target[..=common].to_vec());
        }
    }
    edges
}

/// A cycle in `edges`, if any, as the modules around it.
fn find_cycle(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    fn visit(
        node: &Module,
        edges: &BTreeMap<Module, BTreeSet<Module>>,
        done: &mut BTreeSet<Module>,
        stack: &mut Vec<Module>,
    ) -> Option<Vec<Module>> {
        if let Some(at) = stack.iter().position(|m| m == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.clone());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, done, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.clone());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|start| visit(start, edges, &mut done, &mut Vec::new()))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for krate in ["src", "domain/src", "sync/src", "drivers/src", "hq/src"] {
        let root = workspace.join(krate);
        let mut files = Vec::new();
        rust_files(&root, &mut files);
        files.sort();
        let edges = sibling_edges(&root, &files);
        checked += edges.len();
        if let Some(cycle) = find_cycle(&edges) {
            let names: Vec<String> = cycle.iter().map(|m| m.join("::")).collect();
            panic!("import cycle in {krate}: {}", names.join(" → "));
        }
    }
    assert!(
        checked > 20,
        "only {checked} modules with imports were read"
    );
}

#[test]
fn the_cycle_finder_sees_a_loop_through_braces_and_super() {
    // Built from source text, as the real check reads it: a → b through a brace group,
    // b → a through `super::`, and c's test module (ignored) → a.
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lib.rs", "pub mod a;\npub mod b;\npub mod c;\n");
    write("a.rs", "use crate::{c, b::{X, Y}};\n");
    write("b/mod.rs", "pub mod inner;\n");
    write("b/inner.rs", "use super::super::a::Z;\n");
    write(
        "c.rs",
        "pub fn f() {}\n#[cfg(test)]\nmod tests {\n    use crate::a::Z;\n}\n",
    );
    let mut files = Vec::new();
    rust_files(dir.path(), &mut files);
    let edges = sibling_edges(dir.path(), &files);
    let cycle = find_cycle(&edges).expect("a ⇄ b");
    let names: Vec<String> = cycle.iter().map(|m| m.join("::")).collect();
    assert_eq!(names.first(), names.last());
    assert!(names.contains(&"a".to_string()) && names.contains(&"b".to_string()));
    assert!(!edges.contains_key(&vec!["c".to_string()]), "{edges:?}");
    // Without b's import back there is none.
    write("b/inner.rs", "use super::Thing;\n");
    let edges = sibling_edges(dir.path(), &files);
    assert_eq!(find_cycle(&edges), None, "{edges:?}");
}

#[test]
fn no_source_file_outside_tests_is_over_800_lines() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut long = Vec::new();
    for krate in ["src", "domain/src", "sync/src", "drivers/src", "hq/src"] {
        let mut files = Vec::new();
        rust_files(&workspace.join(krate), &mut files);
        for file in files {
            // A module's tests may be as long as they need (`tests.rs` beside the code).
            if file.file_name().is_some_and(|n| n == "tests.rs") {
                continue;
            }
            let lines = std::fs::read_to_string(&file).unwrap().lines().count();
            if lines > 800 {
                long.push(format!("{} ({lines} lines)", file.display()));
            }
        }
    }
    assert!(long.is_empty(), "split these: {}", long.join(", "));
}
