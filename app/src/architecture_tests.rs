//! The shape of the code, as a test (docs/architecture.md has the layers and the rule): every
//! file uses files of its own layer or of layers below it, and no two files of a crate import
//! each other, however indirectly. A new upward arrow fails here, named with its two files
//! and their layers (or with the circle it closes), so it is fixed by moving the shared piece
//! down, not by growing a knot.
//!
//! The check reads the sources, not the compiler's output: each file's `use` items and paths
//! (`crate::…`, `super::…`, `self::…`, a child module's, an imported module's alias), resolved
//! to the file that defines the item, through `pub use` re-exports. Test modules
//! (`#[cfg(test)] mod …`) are left out: a test may use anything.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

/// Source text without comments, string and character literals (their contents are not code).
fn strip(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let rest = &src[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            let mut depth = 0;
            while i < b.len() {
                if src[i..].starts_with("/*") {
                    depth += 1;
                    i += 2;
                } else if src[i..].starts_with("*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if let Some(len) = raw_string_len(rest, i == 0 || !is_ident(b[i - 1])) {
            out.push_str("\"\"");
            i += len;
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            i = j + 1;
        } else if b[i] == b'\'' && char_literal_len(rest).is_some() {
            out.push_str("' '");
            i += char_literal_len(rest).unwrap_or(1);
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The length of a raw string literal (`r"…"`, `r#"…"#`, `br"…"`) at the start of `s`.
fn raw_string_len(s: &str, at_word_start: bool) -> Option<usize> {
    if !at_word_start {
        return None;
    }
    let after_b = s.strip_prefix('b').unwrap_or(s);
    let after_r = after_b.strip_prefix('r')?;
    let hashes = after_r.len() - after_r.trim_start_matches('#').len();
    let body = after_r[hashes..].strip_prefix('"')?;
    let end = format!("\"{}", "#".repeat(hashes));
    let close = body.find(&end)?;
    Some(s.len() - body.len() + close + end.len())
}

/// The length of a character literal (`'a'`, `'\n'`, `'\u{1F600}'`) at the start of `s`;
/// `None` for a lifetime.
fn char_literal_len(s: &str) -> Option<usize> {
    let mut chars = s.char_indices().skip(1);
    let (_, first) = chars.next()?;
    if first == '\\' {
        // The escaped character, then anything up to the closing quote (`\u{…}`).
        return s.get(3..)?.find('\'').map(|at| at + 4);
    }
    let (at, next) = chars.next()?;
    (next == '\'').then_some(at + 1)
}

/// The source without its `#[cfg(test)] mod name { … }` blocks.
fn without_test_modules(src: &str) -> String {
    let mut out = src.to_string();
    while let Some(at) = out.find("#[cfg(test)]") {
        let after = out[at + "#[cfg(test)]".len()..].trim_start();
        let after = after.strip_prefix("pub ").unwrap_or(after);
        let open = after
            .strip_prefix("mod ")
            .and_then(|m| m.find(['{', ';']).filter(|at| m.as_bytes()[*at] == b'{'));
        let Some(open) = open else {
            // A test-only item other than an inline module (an import, `mod x;`): drop it up
            // to its `;`.
            let start = at;
            let tail = &out[start..];
            let end = tail.find(';').map_or(tail.len(), |e| e + 1);
            out.replace_range(start..start + end, "");
            continue;
        };
        let block_start = out.len() - after.len() + "mod ".len() + open;
        let mut depth = 0;
        let mut end = out.len();
        for (i, c) in out[block_start..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = block_start + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.replace_range(at..end, "");
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    PathSep,
    Punct(char),
}

fn tokens(src: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push(Token::PathSep);
            i += 2;
        } else {
            if !c.is_whitespace() {
                out.push(Token::Punct(c));
            }
            i += 1;
        }
    }
    out
}

/// One imported name of a `use` item: the path it names and the name it is known by here
/// (`None` for a glob).
#[derive(Debug, Clone)]
struct Import {
    path: Vec<String>,
    alias: Option<String>,
}

/// Flattens a use tree starting at `tokens[*at]` under `prefix`.
fn use_tree(tokens: &[Token], at: &mut usize, prefix: &[String], out: &mut Vec<Import>) {
    let mut path = prefix.to_vec();
    loop {
        match tokens.get(*at) {
            Some(Token::Ident(name)) => {
                path.push(name.clone());
                *at += 1;
            }
            Some(Token::Punct('*')) => {
                *at += 1;
                out.push(Import { path, alias: None });
                return;
            }
            Some(Token::Punct('{')) => {
                *at += 1;
                loop {
                    match tokens.get(*at) {
                        Some(Token::Punct('}')) => {
                            *at += 1;
                            return;
                        }
                        Some(Token::Punct(',')) => *at += 1,
                        None => return,
                        _ => use_tree(tokens, at, &path, out),
                    }
                }
            }
            _ => return,
        }
        match tokens.get(*at) {
            Some(Token::PathSep) => *at += 1,
            Some(Token::Ident(kw)) if kw == "as" => {
                let alias = match tokens.get(*at + 1) {
                    Some(Token::Ident(alias)) => alias.clone(),
                    _ => String::new(),
                };
                *at += 2;
                push_named(path, Some(alias), out);
                return;
            }
            _ => {
                push_named(path, None, out);
                return;
            }
        }
    }
}

fn push_named(mut path: Vec<String>, alias: Option<String>, out: &mut Vec<Import>) {
    if path.last().is_some_and(|last| last == "self") {
        path.pop();
    }
    let alias = alias.or_else(|| path.last().cloned());
    out.push(Import { path, alias });
}

/// A file as the check sees it.
struct Unit {
    module: Vec<String>,
    tokens: Vec<Token>,
    children: BTreeSet<String>,
    /// `use` items: whether each is a re-export, what it imports, and how many inline
    /// modules (`mod name { … }`) of this file it is in.
    uses: Vec<(bool, Vec<Import>, usize)>,
    /// For each token, how many inline modules of this file it is in: `super::` there means
    /// this file's module first.
    inline_depth: Vec<usize>,
    /// Token ranges taken by `use` items (not scanned again for paths).
    use_spans: Vec<(usize, usize)>,
}

fn unit(rel: &str, src: &str) -> Unit {
    let mut module: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if matches!(
        module.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        module.pop();
    }
    let tokens = tokens(&without_test_modules(&strip(src)));
    let mut inline_depth = Vec::with_capacity(tokens.len());
    let (mut braces, mut opened_at) = (0usize, Vec::new());
    for (i, t) in tokens.iter().enumerate() {
        match t {
            Token::Punct('{') => {
                braces += 1;
                let is_mod = i >= 2
                    && tokens[i - 2] == Token::Ident("mod".into())
                    && matches!(tokens[i - 1], Token::Ident(_));
                if is_mod {
                    opened_at.push(braces);
                }
            }
            Token::Punct('}') => {
                if opened_at.last() == Some(&braces) {
                    opened_at.pop();
                }
                braces = braces.saturating_sub(1);
            }
            _ => {}
        }
        inline_depth.push(opened_at.len());
    }
    let mut children = BTreeSet::new();
    let mut uses = Vec::new();
    let mut use_spans = Vec::new();
    for i in 0..tokens.len() {
        match &tokens[i] {
            Token::Ident(kw) if kw == "mod" => {
                if let (Some(Token::Ident(name)), Some(Token::Punct(';'))) =
                    (tokens.get(i + 1), tokens.get(i + 2))
                {
                    children.insert(name.clone());
                }
            }
            Token::Ident(kw) if kw == "use" => {
                let public = match i.checked_sub(1).map(|p| &tokens[p]) {
                    Some(Token::Ident(p)) => p == "pub",
                    // `pub(crate) use`, `pub(super) use`
                    Some(Token::Punct(')')) => tokens[..i]
                        .iter()
                        .rev()
                        .position(|t| *t == Token::Punct('('))
                        .and_then(|back| i.checked_sub(back + 2))
                        .is_some_and(|p| tokens[p] == Token::Ident("pub".into())),
                    _ => false,
                };
                let mut at = i + 1;
                if tokens.get(at) == Some(&Token::PathSep) {
                    at += 1;
                }
                let mut imports = Vec::new();
                use_tree(&tokens, &mut at, &[], &mut imports);
                use_spans.push((i, at));
                uses.push((public, imports, inline_depth[i]));
            }
            _ => {}
        }
    }
    Unit {
        module,
        tokens,
        children,
        uses,
        inline_depth,
        use_spans,
    }
}

/// The import graph of one crate: which file uses which.
struct Graph {
    files: Vec<String>,
    edges: BTreeMap<usize, BTreeSet<usize>>,
}

fn graph(sources: &[(String, String)]) -> Graph {
    let units: Vec<Unit> = sources.iter().map(|(rel, src)| unit(rel, src)).collect();
    let modules: HashMap<Vec<String>, usize> = units
        .iter()
        .enumerate()
        .map(|(i, u)| (u.module.clone(), i))
        .collect();
    // The absolute module path `path` names in file `from`, inside `inline` inline modules
    // (which are part of the file: a path that stays inside them names the file itself).
    let absolute = |from: usize, path: &[String], inline: usize| -> Vec<String> {
        let here = &units[from].module;
        match path.first().map(String::as_str) {
            Some("crate") => path[1..].to_vec(),
            Some("super") => {
                let ups = path.iter().take_while(|s| *s == "super").count();
                if ups <= inline {
                    return here.clone();
                }
                let keep = here.len().saturating_sub(ups - inline);
                here[..keep].iter().chain(&path[ups..]).cloned().collect()
            }
            Some("self") if inline > 0 => here.clone(),
            Some("self") => here.iter().chain(&path[1..]).cloned().collect(),
            _ if inline > 0 => here.clone(),
            _ => here.iter().chain(path).cloned().collect(),
        }
    };
    // What each file re-exports: name → the absolute path it names.
    let reexports: Vec<HashMap<String, Vec<String>>> = (0..units.len())
        .map(|i| {
            units[i]
                .uses
                .iter()
                .filter(|(public, _, inline)| *public && *inline == 0)
                .flat_map(|(_, imports, _)| imports)
                .filter_map(|imp| Some((imp.alias.clone()?, absolute(i, &imp.path, 0))))
                .collect()
        })
        .collect();
    fn resolve(
        path: &[String],
        modules: &HashMap<Vec<String>, usize>,
        reexports: &[HashMap<String, Vec<String>>],
        depth: usize,
    ) -> Option<usize> {
        (0..=path.len()).rev().find_map(|n| {
            let file = *modules.get(&path[..n])?;
            match path[n..].split_first() {
                Some((name, rest)) if depth < 10 => match reexports[file].get(name) {
                    Some(target) if target.as_slice() != path => {
                        let target: Vec<String> = target.iter().chain(rest).cloned().collect();
                        resolve(&target, modules, reexports, depth + 1).or(Some(file))
                    }
                    _ => Some(file),
                },
                _ => Some(file),
            }
        })
    }
    let mut edges: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    for (i, u) in units.iter().enumerate() {
        let add = |path: Vec<String>, edges: &mut BTreeMap<usize, BTreeSet<usize>>| {
            if let Some(to) = resolve(&path, &modules, &reexports, 0).filter(|to| *to != i) {
                edges.entry(i).or_default().insert(to);
            }
        };
        let mut aliases: HashMap<String, Vec<String>> = HashMap::new();
        for (_, imports, inline) in &u.uses {
            for imp in imports {
                let rooted = matches!(
                    imp.path.first().map(String::as_str),
                    Some("crate" | "super" | "self")
                ) || imp.path.first().is_some_and(|p| u.children.contains(p));
                if !rooted {
                    continue; // another crate's
                }
                let path = absolute(i, &imp.path, *inline);
                // Importing a module is not yet using it: the paths through its alias are.
                match (&imp.alias, modules.contains_key(&path)) {
                    (Some(alias), true) => {
                        aliases.insert(alias.clone(), path);
                    }
                    _ => add(path, &mut edges),
                }
            }
        }
        let mut t = 0;
        while t < u.tokens.len() {
            if let Some(&(_, end)) = u.use_spans.iter().find(|(start, _)| *start == t) {
                t = end;
                continue;
            }
            let starts_path = t == 0 || u.tokens[t - 1] != Token::PathSep;
            let Token::Ident(first) = &u.tokens[t] else {
                t += 1;
                continue;
            };
            let root: Option<Vec<String>> = match first.as_str() {
                "crate" | "super" | "self" => Some(vec![first.clone()]),
                name if u.children.contains(name) => Some(vec![first.clone()]),
                name => aliases.get(name).map(|p| {
                    let mut rooted = vec!["crate".to_string()];
                    rooted.extend(p.iter().cloned());
                    rooted
                }),
            };
            let mut segs = match root {
                Some(root) if starts_path => root,
                _ => {
                    t += 1;
                    continue;
                }
            };
            let mut n = t + 1;
            while let (Some(Token::PathSep), Some(Token::Ident(next))) =
                (u.tokens.get(n), u.tokens.get(n + 1))
            {
                segs.push(next.clone());
                n += 2;
            }
            if n > t + 1 {
                let path = absolute(i, &segs, u.inline_depth[t]);
                if !modules.contains_key(&path) {
                    add(path, &mut edges);
                }
            }
            t = n;
        }
    }
    Graph {
        files: sources.iter().map(|(rel, _)| rel.clone()).collect(),
        edges,
    }
}

/// The circles of the graph (strongly connected components of more than one file), each
/// with the arrows that close it, as text.
fn circles(g: &Graph) -> Vec<String> {
    struct Tarjan<'a> {
        g: &'a Graph,
        index: HashMap<usize, usize>,
        low: HashMap<usize, usize>,
        stack: Vec<usize>,
        on_stack: BTreeSet<usize>,
        found: Vec<Vec<usize>>,
    }
    impl Tarjan<'_> {
        fn visit(&mut self, v: usize) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            let next: Vec<usize> = self
                .g
                .edges
                .get(&v)
                .into_iter()
                .flatten()
                .copied()
                .collect();
            for w in next {
                if !self.index.contains_key(&w) {
                    self.visit(w);
                    let low = self.low[&v].min(self.low[&w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(&w) {
                    let low = self.low[&v].min(self.index[&w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[&v] == self.index[&v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(&w);
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    self.found.push(component);
                }
            }
        }
    }
    let mut t = Tarjan {
        g,
        index: HashMap::new(),
        low: HashMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in 0..g.files.len() {
        if !t.index.contains_key(&v) {
            t.visit(v);
        }
    }
    t.found
        .iter()
        .map(|component| {
            let inside: BTreeSet<usize> = component.iter().copied().collect();
            let arrows: Vec<String> = inside
                .iter()
                .flat_map(|a| {
                    g.edges
                        .get(a)
                        .into_iter()
                        .flatten()
                        .filter(|b| inside.contains(b))
                        .map(move |b| format!("    {} -> {}", g.files[*a], g.files[*b]))
                })
                .collect();
            format!("a circle of {} files:\n{}", inside.len(), arrows.join("\n"))
        })
        .collect()
}

/// The app's layers (docs/architecture.md), lowest first. The first rule that matches a file
/// gives its layer: `*/name.rs` is that file name in any folder, `folder/` all under it, any
/// other rule one file. A file no rule names is a capability's (layer 7), so a new shared
/// tool that lower layers use has to be named here.
const APP_LAYERS: &[(&str, u8)] = &[
    // Each capability's typed models, its pages and its REST handlers, wherever they are.
    ("*/model.rs", 1),
    ("*/views.rs", 8),
    ("*/rest.rs", 7),
    // 1. Shared tools.
    ("domain.rs", 1),
    ("error.rs", 1),
    ("policy.rs", 1),
    ("db/", 1),
    ("crypto.rs", 1),
    ("outbound.rs", 1),
    ("mail.rs", 1),
    ("dates.rs", 1),
    ("words.rs", 1),
    ("forms.rs", 1),
    ("rest/streaming.rs", 1),
    // 2. What the state holds, and what that needs: nothing here knows the state.
    ("auth/server/hashing.rs", 2),
    ("api_keys/server/cache.rs", 2),
    ("api_keys/server/limiter.rs", 2),
    ("report_only/pending.rs", 2),
    ("domains/dns.rs", 2),
    ("members/search.rs", 2),
    ("two_factor/server/standing.rs", 2),
    // 3. The state.
    ("state.rs", 3),
    // 4. Records every capability writes or reads.
    ("audit/server.rs", 4),
    ("audit/chain.rs", 4),
    ("orgs/store.rs", 4),
    // 5. The identity core.
    ("auth/server/mod.rs", 5),
    ("auth/server/proof.rs", 5),
    ("auth/server/store.rs", 5),
    ("auth/server/password.rs", 5),
    ("auth/server/rate_limit.rs", 5),
    ("two_factor/server/factors.rs", 5),
    ("report_only/mod.rs", 5),
    // 8. Views below the pages: the session's context, shared prompts, the guard.
    ("session_context.rs", 8),
    ("auth/confirm_access.rs", 8),
    ("two_factor/fresh.rs", 8),
    ("two_factor/passkeys/browser.rs", 8),
    ("guard.rs", 8),
    // 9. Aggregators.
    ("lib.rs", 9),
    ("routes.rs", 9),
    ("layout.rs", 9),
    ("pages.rs", 9),
    ("rest/mod.rs", 9),
    ("api_keys/server/settle.rs", 9),
    // 6. Sign-in flows and factors (what the rules above did not place).
    ("auth/", 6),
    ("two_factor/", 6),
    ("sso/", 6),
    ("domains/", 6),
    ("invitations/", 6),
];

/// The server binary's layers: its settings, then logging, then the parts `startup` joins
/// (the default), then the command line, then start-up itself.
const SERVER_LAYERS: &[(&str, u8)] = &[
    ("config.rs", 1),
    ("telemetry.rs", 2),
    ("cli.rs", 4),
    ("startup.rs", 5),
    ("lib.rs", 5),
    ("main.rs", 5),
];
const APP_DEFAULT_LAYER: u8 = 7;
const SERVER_DEFAULT_LAYER: u8 = 3;

fn rule_matches(rule: &str, file: &str) -> bool {
    if let Some(name) = rule.strip_prefix("*/") {
        file == name || file.ends_with(&format!("/{name}"))
    } else if rule.ends_with('/') {
        file.starts_with(rule)
    } else {
        file == rule
    }
}

fn layer_of(rules: &[(&str, u8)], default: u8, file: &str) -> u8 {
    rules
        .iter()
        .find(|(rule, _)| rule_matches(rule, file))
        .map_or(default, |(_, layer)| *layer)
}

/// Every arrow from a file to one of a higher layer, as text.
fn upward_arrows(g: &Graph, rules: &[(&str, u8)], default: u8) -> Vec<String> {
    let layer = |i: usize| layer_of(rules, default, &g.files[i]);
    g.edges
        .iter()
        .flat_map(|(a, bs)| bs.iter().map(move |b| (*a, *b)))
        .filter(|(a, b)| layer(*a) < layer(*b))
        .map(|(a, b)| {
            format!(
                "    {} (layer {}) -> {} (layer {})",
                g.files[a],
                layer(a),
                g.files[b],
                layer(b)
            )
        })
        .collect()
}

fn sources_under(dir: &Path) -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(root).unwrap_or(&path);
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                out.push((rel.to_string_lossy().replace('\\', "/"), text));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn assert_shape(crate_src: &str, rules: &[(&str, u8)], default: u8) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(crate_src);
    let sources = sources_under(&dir);
    assert!(
        sources.len() > 10,
        "found only {} files under {}",
        sources.len(),
        dir.display()
    );
    // A rule that names no file any more (a file renamed or moved) would silently stop
    // placing it.
    for (rule, _) in rules {
        assert!(
            sources.iter().any(|(file, _)| rule_matches(rule, file)),
            "the layer rule {rule:?} matches no file under {}: update it",
            dir.display()
        );
    }
    let g = graph(&sources);
    let arrows: usize = g.edges.values().map(BTreeSet::len).sum();
    assert!(
        arrows > sources.len(),
        "only {arrows} imports read: the reader is broken"
    );
    let upward = upward_arrows(&g, rules, default);
    assert!(
        upward.is_empty(),
        "{} has arrows to a higher layer (see docs/architecture.md: move what the lower file \
         takes down to its layer, or place the file in the table in this test):\n{}",
        dir.display(),
        upward.join("\n")
    );
    let found = circles(&g);
    assert!(
        found.is_empty(),
        "{} has import circles (see docs/architecture.md: move what both sides share into a \
         module below them):\n{}",
        dir.display(),
        found.join("\n")
    );
}

#[test]
fn the_app_points_one_way() {
    assert_shape("src", APP_LAYERS, APP_DEFAULT_LAYER);
}

#[test]
fn the_server_points_one_way() {
    assert_shape("../server/src", SERVER_LAYERS, SERVER_DEFAULT_LAYER);
}

/// Transactions begin through `Db::begin`, which takes SQLite's write lock at once: one begun
/// on the pool directly can fail at its first write after a read (SQLITE_BUSY_SNAPSHOT).
#[test]
fn transactions_begin_through_the_db() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for crate_src in ["src", "../server/src"] {
        for (file, src) in sources_under(&root.join(crate_src)) {
            let code = without_test_modules(&strip(&src));
            if !file.starts_with("db/") && code.contains("pool.begin") {
                found.push(format!("    {crate_src}/{file}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "transactions begun on the pool instead of with `db.begin()`:\n{}",
        found.join("\n")
    );
}

#[test]
fn an_upward_arrow_without_a_circle_is_found() {
    // The database layer reaching up into a capability that does not use it: no circle, but
    // the arrow points up.
    let g = graph(&files(&[
        ("lib.rs", "pub mod db; pub mod members;"),
        ("db/mod.rs", "use crate::members::server::count;"),
        ("members/mod.rs", "pub mod server;"),
        ("members/server.rs", "pub fn count() {}"),
    ]));
    assert!(circles(&g).is_empty(), "{:?}", circles(&g));
    let upward = upward_arrows(&g, APP_LAYERS, APP_DEFAULT_LAYER);
    assert_eq!(
        upward,
        vec!["    db/mod.rs (layer 1) -> members/server.rs (layer 7)".to_string()]
    );
}

#[test]
fn layer_rules_match_by_file_name_folder_and_path() {
    let app = |file| layer_of(APP_LAYERS, APP_DEFAULT_LAYER, file);
    assert_eq!(app("sso/model.rs"), 1);
    assert_eq!(app("sso/views.rs"), 8);
    assert_eq!(app("sso/server.rs"), 6);
    assert_eq!(app("db/read.rs"), 1);
    assert_eq!(app("auth/server/mod.rs"), 5);
    assert_eq!(app("members/server.rs"), 7);
    // A file name is not a folder, nor a longer name.
    assert!(!rule_matches("*/model.rs", "sso/model.rs.bak"));
    assert!(!rule_matches("state.rs", "sso/state.rs"));
}

fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(p, s)| (p.to_string(), s.to_string()))
        .collect()
}

#[test]
fn a_circle_through_a_re_export_an_alias_and_a_child_is_found() {
    let g = graph(&files(&[
        ("lib.rs", "pub mod auth; pub mod orgs;"),
        // auth re-exports its session's Actor; orgs uses it through the re-export.
        ("auth/mod.rs", "pub mod session; pub use session::Actor;"),
        (
            "auth/session.rs",
            "use crate::orgs as o; fn f() { o::store::list(); }",
        ),
        ("orgs/mod.rs", "pub mod store;"),
        (
            "orgs/store.rs",
            "use crate::auth::{Actor, self}; pub fn list() {}",
        ),
    ]));
    let found = circles(&g);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("auth/session.rs -> orgs/store.rs")
            && found[0].contains("orgs/store.rs -> auth/session.rs"),
        "{}",
        found[0]
    );
}

#[test]
fn tests_comments_and_strings_are_not_imports() {
    let g = graph(&files(&[
        ("lib.rs", "pub mod a; pub mod b;"),
        (
            "a.rs",
            "use crate::b::thing; // crate::b\nconst S: &str = \"crate::b::x\";",
        ),
        (
            "b.rs",
            "pub fn thing() {} /* crate::a::y */ const R: &str = r#\"crate::a::y\"#;\n\
             mod inner { use super::thing; fn f() { super::thing(); } }\n\
             #[cfg(test)]\nmod tests { use crate::a::*; fn t() { crate::a::S; } }",
        ),
    ]));
    assert!(circles(&g).is_empty(), "{:?}", circles(&g));
    assert_eq!(g.edges.values().map(BTreeSet::len).sum::<usize>(), 1);
}
