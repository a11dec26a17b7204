//! The module graph of `src/`: imports run one way, down the data path.
//!
//! The data path is source → schema → decode → filter → format → sink → checkpoint. Each
//! stage may import the stages before it and the leaves (modules that import no stage),
//! never a later stage, the configuration that assembles them, the pipeline that wires
//! them, or the commands. A cycle anywhere is an error. The graph is read from the source
//! text: every `crate::module` path outside test code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const DATA_PATH: [&str; 7] = [
    "source",
    "schema",
    "decode",
    "filter",
    "format",
    "sink",
    "checkpoint",
];

/// Modules every stage may use: they import no stage.
const LEAVES: [&str; 7] = [
    "private_file",
    "table",
    "position",
    "section",
    "net",
    "metrics",
    "failpoints",
];

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

/// The module names a path after `crate::` starts with: one (`a::b`), or each of a group's
/// (`{a, b::c}`).
fn first_segments(path: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let Some(group) = path.strip_prefix('{') else {
        return vec![ident(path)];
    };
    let (mut depth, mut parts, mut start) = (0, Vec::new(), 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                parts.push(&group[start..i]);
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.into_iter().map(ident).collect()
}

/// Top-level module → the top-level modules its non-test code names.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let module = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if matches!(module.as_str(), "lib" | "main")
            || relative.file_name().is_some_and(|n| n == "tests.rs")
        {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        // Test modules come last in a file.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let uses = graph.entry(module.clone()).or_default();
        for (at, _) in code.match_indices("crate::") {
            for name in first_segments(&code[at + "crate::".len()..]) {
                let name = if name == "Error" {
                    "error".into()
                } else {
                    name
                };
                if !name.is_empty() && name != module {
                    uses.insert(name);
                }
            }
        }
    }
    graph
}

#[test]
fn stages_import_only_earlier_stages_and_leaves() {
    let graph = graph();
    let mut wrong = Vec::new();
    for (n, stage) in DATA_PATH.iter().enumerate() {
        let uses = graph.get(*stage).cloned().unwrap_or_default();
        for used in uses {
            let earlier = DATA_PATH[..n].contains(&used.as_str());
            if !earlier && !LEAVES.contains(&used.as_str()) {
                wrong.push(format!("{stage} imports {used}"));
            }
        }
    }
    for leaf in LEAVES {
        for used in graph.get(leaf).cloned().unwrap_or_default() {
            if !LEAVES.contains(&used.as_str()) {
                wrong.push(format!("leaf {leaf} imports {used}"));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the data path: {wrong:?}");
}

#[test]
fn the_module_graph_has_no_cycle() {
    let graph = graph();
    // Depth-first search with the path kept, so a cycle is reported as one.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, &graph, &mut Vec::new(), &mut done) {
            panic!("import cycle: {}", cycle.join(" -> "));
        }
    }
    // The reading itself works: the graph has the stages and their known imports, and a
    // group of paths counts each of them.
    assert_eq!(first_segments("{a, b::{c, d}, e}"), ["a", "b", "e"]);
    assert!(graph["format"].contains("decode"), "{graph:?}");
    assert!(graph["pipeline"].contains("config"), "{graph:?}");
}
