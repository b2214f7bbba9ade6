//! SCIM filters (RFC 7644 §3.4.2.2) and attribute paths (§3.5.2), parsed into a tree and
//! evaluated on a resource's JSON. Listing reads candidates by index when the filter names
//! one (`userName eq`, `externalId eq`, `id eq`, ...) and evaluates the whole filter on each,
//! so a filter means the same whichever way its candidates were found.

use serde_json::Value;

/// Why a filter or path does not parse: the SCIM error's `detail` (`scimType`
/// `invalidFilter` or `invalidPath`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

/// An attribute and an optional sub-attribute, lower-cased, without a core schema prefix
/// (`name.givenName` → `name` / `givenname`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    pub attr: String,
    pub sub: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare {
        path: AttrPath,
        op: Op,
        value: Value,
    },
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `emails[type eq "work"]`: some element of the multi-valued attribute matches.
    ValuePath {
        attr: String,
        filter: Box<Filter>,
    },
}

/// A PATCH operation's `path`: `members`, `name.givenName`, `members[value eq "7"]`,
/// `emails[type eq "work"].value`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: String,
    pub filter: Option<Filter>,
    pub sub: Option<String>,
}

const CORE_PREFIXES: [&str; 2] = [
    "urn:ietf:params:scim:schemas:core:2.0:user:",
    "urn:ietf:params:scim:schemas:core:2.0:group:",
];

/// The attribute's name as resources are matched: lower case, core schema prefix removed.
/// An extension attribute keeps its schema (`urn:…:enterprise:2.0:user:department`).
pub fn attr_name(raw: &str) -> String {
    let lower = raw.to_ascii_lowercase();
    for prefix in CORE_PREFIXES {
        if let Some(rest) = lower.strip_prefix(prefix) {
            return rest.to_string();
        }
    }
    lower
}

fn split_path(raw: &str) -> AttrPath {
    let name = attr_name(raw);
    // An extension's URN has dots in its version ("2.0"): its attribute follows the last ':'.
    let (base, tail) = match name.rfind(':') {
        Some(i) => (&name[..=i], &name[i + 1..]),
        None => ("", name.as_str()),
    };
    match tail.split_once('.') {
        Some((attr, sub)) => AttrPath {
            attr: format!("{base}{attr}"),
            sub: Some(sub.to_string()),
        },
        None => AttrPath {
            attr: name.clone(),
            sub: None,
        },
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Value(Value),
    Open,
    Close,
    OpenBracket,
    CloseBracket,
}

fn lex(input: &str) -> Result<Vec<Token>, ParseError> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = input.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            '[' => {
                tokens.push(Token::OpenBracket);
                i += 1;
            }
            ']' => {
                tokens.push(Token::CloseBracket);
                i += 1;
            }
            '"' => {
                // A JSON string: find its end, honouring escapes, and let serde decode it.
                let start = i;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= chars.len() {
                    return Err(ParseError("A string in the filter is not closed.".into()));
                }
                i += 1;
                let literal: String = chars[start..i].iter().collect();
                let value: String = serde_json::from_str(&literal)
                    .map_err(|_| ParseError(format!("{literal} is not a valid string.")))?;
                tokens.push(Token::Value(Value::String(value)));
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !matches!(chars[i], '(' | ')' | '[' | ']' | '"')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn or_expr(&mut self) -> Result<Filter, ParseError> {
        let mut left = self.and_expr()?;
        while self.keyword("or") {
            self.at += 1;
            let right = self.and_expr()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Filter, ParseError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.at += 1;
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, ParseError> {
        if self.keyword("not") {
            self.at += 1;
            return Ok(Filter::Not(Box::new(self.group()?)));
        }
        if self.peek() == Some(&Token::Open) {
            return self.group();
        }
        self.attribute_expr()
    }

    fn group(&mut self) -> Result<Filter, ParseError> {
        if self.next() != Some(Token::Open) {
            return Err(ParseError("Expected \"(\" after not.".into()));
        }
        let inner = self.or_expr()?;
        if self.next() != Some(Token::Close) {
            return Err(ParseError("A \"(\" in the filter is not closed.".into()));
        }
        Ok(inner)
    }

    fn attribute_expr(&mut self) -> Result<Filter, ParseError> {
        let Some(Token::Word(raw)) = self.next() else {
            return Err(ParseError("Expected an attribute name.".into()));
        };
        if self.peek() == Some(&Token::OpenBracket) {
            self.at += 1;
            let inner = self.or_expr()?;
            if self.next() != Some(Token::CloseBracket) {
                return Err(ParseError("A \"[\" in the filter is not closed.".into()));
            }
            return Ok(Filter::ValuePath {
                attr: attr_name(&raw),
                filter: Box::new(inner),
            });
        }
        let path = split_path(&raw);
        let Some(Token::Word(op)) = self.next() else {
            return Err(ParseError(format!("Expected an operator after {raw}.")));
        };
        let op = match op.to_ascii_lowercase().as_str() {
            "pr" => return Ok(Filter::Present(path)),
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            other => return Err(ParseError(format!("{other} is not a SCIM operator."))),
        };
        let value = match self.next() {
            Some(Token::Value(value)) => value,
            Some(Token::Word(word)) => match word.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => serde_json::from_str::<serde_json::Number>(&word)
                    .map(Value::Number)
                    .map_err(|_| {
                        ParseError(format!("{word} is not a value: quote strings (\"…\")."))
                    })?,
            },
            _ => return Err(ParseError(format!("Expected a value after {raw}."))),
        };
        Ok(Filter::Compare { path, op, value })
    }
}

pub fn parse(input: &str) -> Result<Filter, ParseError> {
    let mut parser = Parser {
        tokens: lex(input)?,
        at: 0,
    };
    if parser.tokens.is_empty() {
        return Err(ParseError("The filter is empty.".into()));
    }
    let filter = parser.or_expr()?;
    if parser.at != parser.tokens.len() {
        return Err(ParseError(
            "The filter has more after its end: join expressions with and / or.".into(),
        ));
    }
    Ok(filter)
}

pub fn parse_path(input: &str) -> Result<PatchPath, ParseError> {
    let input = input.trim();
    let Some(open) = input.find('[') else {
        let path = split_path(input);
        if path.attr.is_empty() {
            return Err(ParseError("The path is empty.".into()));
        }
        return Ok(PatchPath {
            attr: path.attr,
            filter: None,
            sub: path.sub,
        });
    };
    let close = input
        .rfind(']')
        .filter(|close| *close > open)
        .ok_or_else(|| ParseError("A \"[\" in the path is not closed.".into()))?;
    let attr = attr_name(&input[..open]);
    let filter = parse(&input[open + 1..close])?;
    let rest = &input[close + 1..];
    let sub = match rest.strip_prefix('.') {
        Some(sub) if !sub.is_empty() => Some(sub.to_ascii_lowercase()),
        None if rest.is_empty() => None,
        _ => return Err(ParseError(format!("{input} is not a valid path."))),
    };
    Ok(PatchPath {
        attr,
        filter: Some(filter),
        sub,
    })
}

/// The member of `object` named `key`, compared without case (SCIM names are
/// case-insensitive).
pub fn get_ci<'a>(object: &'a Value, key: &str) -> Option<&'a Value> {
    object
        .as_object()?
        .iter()
        .find(|(k, _)| attr_name(k) == key)
        .map(|(_, v)| v)
}

/// Attributes compared exactly (RFC 7643: `caseExact`); the rest ignore case.
fn case_exact(path: &AttrPath) -> bool {
    matches!(path.attr.as_str(), "id" | "externalid") && path.sub.is_none()
        || path.sub.as_deref() == Some("$ref")
}

/// The values `path` names in `resource`: a multi-valued attribute gives one per element.
fn values<'a>(resource: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let Some(top) = get_ci(resource, &path.attr) else {
        return Vec::new();
    };
    let items: Vec<&Value> = match top {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    match &path.sub {
        None => items
            .into_iter()
            // A multi-valued attribute compared as a whole compares its primary values.
            .map(|item| get_ci(item, "value").unwrap_or(item))
            .collect(),
        Some(sub) => items
            .into_iter()
            .filter_map(|item| get_ci(item, sub))
            .collect(),
    }
}

fn compare(actual: &Value, op: Op, expected: &Value, exact: bool) -> bool {
    use std::cmp::Ordering;
    let ordering = match (actual, expected) {
        (Value::String(a), Value::String(b)) => {
            let (a, b) = if exact {
                (a.clone(), b.clone())
            } else {
                (a.to_lowercase(), b.to_lowercase())
            };
            match op {
                Op::Co => return a.contains(&b),
                Op::Sw => return a.starts_with(&b),
                Op::Ew => return a.ends_with(&b),
                _ => a.cmp(&b),
            }
        }
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        // The strings providers send for booleans ("True", "False").
        (Value::Bool(a), Value::String(b)) | (Value::String(b), Value::Bool(a)) => {
            match b.to_ascii_lowercase().as_str() {
                "true" => a.cmp(&true),
                "false" => a.cmp(&false),
                _ => return op == Op::Ne,
            }
        }
        (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
            _ => return false,
        },
        (_, Value::Null) => return op == Op::Ne,
        _ => return op == Op::Ne,
    };
    match op {
        Op::Eq => ordering == Ordering::Equal,
        Op::Ne => ordering != Ordering::Equal,
        Op::Gt => ordering == Ordering::Greater,
        Op::Ge => ordering != Ordering::Less,
        Op::Lt => ordering == Ordering::Less,
        Op::Le => ordering != Ordering::Greater,
        Op::Co | Op::Sw | Op::Ew => false,
    }
}

fn present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

impl Filter {
    pub fn matches(&self, resource: &Value) -> bool {
        match self {
            Filter::Compare { path, op, value } => {
                let found = values(resource, path);
                if *op == Op::Ne {
                    return !found
                        .iter()
                        .any(|v| compare(v, Op::Eq, value, case_exact(path)));
                }
                found
                    .iter()
                    .any(|v| compare(v, *op, value, case_exact(path)))
            }
            Filter::Present(path) => values(resource, path).into_iter().any(present),
            Filter::And(a, b) => a.matches(resource) && b.matches(resource),
            Filter::Or(a, b) => a.matches(resource) || b.matches(resource),
            Filter::Not(inner) => !inner.matches(resource),
            Filter::ValuePath { attr, filter } => match get_ci(resource, attr) {
                Some(Value::Array(items)) => items.iter().any(|item| filter.matches(item)),
                Some(item @ Value::Object(_)) => filter.matches(item),
                _ => false,
            },
        }
    }

    /// The `attr eq "value"` comparisons whose candidates an index can find, when every
    /// resource the filter matches must satisfy one of them: `None` means read them all.
    pub fn seeds(&self) -> Option<Vec<(String, String)>> {
        match self {
            Filter::Compare {
                path,
                op: Op::Eq,
                value: Value::String(value),
            } => {
                let key = match (path.attr.as_str(), path.sub.as_deref()) {
                    ("username", None) => "username",
                    ("externalid", None) => "externalid",
                    ("id", None) => "id",
                    ("displayname", None) => "displayname",
                    ("emails", None | Some("value")) => "emails",
                    ("members", None | Some("value")) => "members",
                    _ => return None,
                };
                Some(vec![(key.to_string(), value.clone())])
            }
            Filter::And(a, b) => a.seeds().or_else(|| b.seeds()),
            Filter::Or(a, b) => {
                let mut seeds = a.seeds()?;
                seeds.extend(b.seeds()?);
                Some(seeds)
            }
            Filter::ValuePath { attr, filter } if attr == "emails" || attr == "members" => {
                match filter.as_ref() {
                    Filter::Compare {
                        path,
                        op: Op::Eq,
                        value: Value::String(value),
                    } if path.attr == "value" && path.sub.is_none() => {
                        Some(vec![(attr.clone(), value.clone())])
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "id": "42",
            "externalId": "00u1abc",
            "userName": "Ada@Example.com",
            "displayName": "Ada Lovelace",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
            "active": true,
        })
    }

    #[test]
    fn filters_that_providers_send_match_what_they_name() {
        let cases = [
            ("userName eq \"ada@example.com\"", true),
            ("USERNAME EQ \"ADA@EXAMPLE.COM\"", true),
            ("userName eq \"bob@example.com\"", false),
            ("externalId eq \"00u1abc\"", true),
            ("externalId eq \"00U1ABC\"", false),
            ("emails.value eq \"ada@example.com\"", true),
            (
                "emails[type eq \"work\" and value eq \"ada@example.com\"]",
                true,
            ),
            ("emails[type eq \"home\"]", false),
            ("displayName eq \"Ada Lovelace\"", true),
            ("id eq \"42\"", true),
            ("name.familyName sw \"Love\"", true),
            ("userName ew \"example.com\" and active eq true", true),
            ("userName eq \"x@y.z\" or externalId eq \"00u1abc\"", true),
            ("not (active eq true)", false),
            ("title pr", false),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"ada@example.com\"",
                true,
            ),
            ("active eq \"True\"", true),
            ("userName ne \"ada@example.com\"", false),
        ];
        for (text, expected) in cases {
            let filter = parse(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(filter.matches(&user()), expected, "{text}");
        }
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let filter = parse("id eq \"1\" and id eq \"2\" or id eq \"42\"").expect("parses");
        assert!(filter.matches(&user()));
        let filter = parse("id eq \"42\" and (id eq \"2\" or id eq \"3\")").expect("parses");
        assert!(!filter.matches(&user()));
    }

    #[test]
    fn malformed_filters_say_what_is_wrong() {
        for text in [
            "",
            "userName",
            "userName eq",
            "userName like \"a\"",
            "userName eq ada",
            "(userName eq \"a\"",
            "userName eq \"a\" userName eq \"b\"",
            "userName eq \"unterminated",
            "emails[type eq \"work\"",
        ] {
            assert!(parse(text).is_err(), "{text:?} should not parse");
        }
    }

    #[test]
    fn seeds_come_from_indexed_equalities_only() {
        let seeds = |text: &str| parse(text).expect("parses").seeds();
        assert_eq!(
            seeds("userName eq \"a@b.co\""),
            Some(vec![("username".into(), "a@b.co".into())])
        );
        assert_eq!(
            seeds("userName eq \"a@b.co\" or externalId eq \"x\"").map(|s| s.len()),
            Some(2)
        );
        assert_eq!(seeds("userName sw \"a\""), None);
        assert_eq!(seeds("userName eq \"a@b.co\" or active eq true"), None);
        assert_eq!(
            seeds("active eq true and emails[value eq \"a@b.co\"]"),
            Some(vec![("emails".into(), "a@b.co".into())])
        );
    }

    #[test]
    fn patch_paths_of_real_providers_parse() {
        let path = parse_path("members[value eq \"2819c223\"]").expect("parses");
        assert_eq!(path.attr, "members");
        assert!(path.filter.is_some());
        let path = parse_path("emails[type eq \"work\"].value").expect("parses");
        assert_eq!(path.sub.as_deref(), Some("value"));
        let path = parse_path("name.givenName").expect("parses");
        assert_eq!(
            (path.attr.as_str(), path.sub.as_deref()),
            ("name", Some("givenname"))
        );
        let path =
            parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department")
                .expect("parses");
        assert_eq!(
            path.attr,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:department"
        );
        assert!(parse_path("members[value eq \"1\"").is_err());
    }
}
