//! Member search (name or email, any part, any case) is served by an index that the same
//! transactions keep in step: renaming, removing and re-adding a member leave search finding
//! exactly the current state, on the members list, the REST API and the group type-ahead.

use crate::common;

use common::{TestApp, PASSWORD};
use serde_json::Value;

on_both_databases!(
    search_finds_exactly_the_current_members,
    search_results_page_without_gaps_or_repeats,
    a_term_of_common_trigrams_finds_exactly_its_matches
);

/// Names found by a members-list search for `q`.
async fn found(app: &TestApp, client: &reqwest::Client, org: i64, q: &str) -> Vec<String> {
    let page = app
        .call(
            client,
            "members/list",
            &[("org_id", &org.to_string()), ("q", q)],
        )
        .await
        .expect_status(200)
        .json();
    names(&page["members"])
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|m| m["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn suggested(app: &TestApp, client: &reqwest::Client, org: i64, q: &str) -> Vec<String> {
    let list = app
        .call(
            client,
            "groups/member_suggestions",
            &[("org_id", &org.to_string()), ("q", q)],
        )
        .await
        .expect_status(200)
        .json();
    names(&list)
}

async fn search_finds_exactly_the_current_members(app: TestApp) {
    let (owner, org) = app.new_org("owner@acme.example", "Acme").await;
    let (ada, _) = app
        .add_member(&owner, org, "ada.lovelace@engines.example", "user")
        .await;
    app.call(&ada, "auth/change_name", &[("name", "Ada Lovelace")])
        .await
        .expect_status(200);
    let (grace, grace_id) = app
        .add_member(&owner, org, "grace@navy.example", "user")
        .await;
    app.call(&grace, "auth/change_name", &[("name", "Grace Hopper")])
        .await
        .expect_status(200);
    // Another organization's member never shows up here.
    let (other, other_org) = app.new_org("owner@other.example", "Other").await;
    app.add_member(&other, other_org, "ada.byron@other.example", "user")
        .await;

    // Any part of the name or the email, in any case; one or two characters match names' starts.
    assert_eq!(found(&app, &owner, org, "LOVE").await, ["Ada Lovelace"]);
    assert_eq!(found(&app, &owner, org, "navy.exa").await, ["Grace Hopper"]);
    assert_eq!(found(&app, &owner, org, "ada").await, ["Ada Lovelace"]);
    assert_eq!(found(&app, &owner, org, "gr").await, ["Grace Hopper"]);
    assert_eq!(found(&app, &owner, org, "example").await.len(), 3);
    assert!(found(&app, &owner, org, "no such person").await.is_empty());
    assert_eq!(suggested(&app, &owner, org, "hopp").await, ["Grace Hopper"]);
    let key = app.create_key(&owner, org, "members:read", "30").await;
    let rest = app
        .api("GET", "/api/v1/members?q=lovelace", Some(&key), None)
        .await
        .expect_status(200)
        .json();
    assert_eq!(names(&rest["members"]), ["Ada Lovelace"], "{rest}");

    // Renamed: found under the new name only, and listed in its new place.
    app.call(&grace, "auth/change_name", &[("name", "Admiral Hopper")])
        .await
        .expect_status(200);
    assert!(found(&app, &owner, org, "grace h").await.is_empty());
    assert_eq!(
        found(&app, &owner, org, "admiral").await,
        ["Admiral Hopper"]
    );
    assert_eq!(
        suggested(&app, &owner, org, "adm").await,
        ["Admiral Hopper"]
    );
    let all = app
        .call(&owner, "members/list", &[("org_id", &org.to_string())])
        .await
        .expect_status(200)
        .json();
    assert_eq!(
        names(&all["members"]),
        ["Ada Lovelace", "Admiral Hopper", "Owner"],
        "ordered by the current names"
    );

    // Removed: not found.
    let org_s = org.to_string();
    let grace_s = grace_id.to_string();
    app.call(
        &owner,
        "members/remove",
        &[("org_id", &org_s), ("user_id", &grace_s)],
    )
    .await
    .expect_status(200);
    assert!(found(&app, &owner, org, "hopper").await.is_empty());
    assert!(suggested(&app, &owner, org, "hopper").await.is_empty());

    // Re-added (an existing account accepts a new invitation): found again.
    let invited = app
        .invite(&owner, org, "Grace", "grace@navy.example", "user")
        .await
        .expect_status(200)
        .json();
    let token = common::token_of(&invited["link"]);
    app.sign_in(&grace, "grace@navy.example", PASSWORD)
        .await
        .expect_status(200);
    app.call(&grace, "invitations/accept", &[("token", &token)])
        .await
        .expect_status(200);
    assert_eq!(found(&app, &owner, org, "hopper").await, ["Admiral Hopper"]);
    assert_eq!(found(&app, &owner, org, "example").await.len(), 3);
}

/// Every name a REST search for `q` finds, following `next_cursor` two at a time.
async fn all_pages(app: &TestApp, key: &str, q: &str) -> Vec<String> {
    all_pages_of(app, key, q, 2).await
}

/// Every name a REST search for `q` finds, following `next_cursor` `limit` at a time.
async fn all_pages_of(app: &TestApp, key: &str, q: &str, limit: usize) -> Vec<String> {
    let q = q.replace('@', "%40");
    let mut names_found = Vec::new();
    let mut cursor = String::new();
    for _ in 0..100 {
        let path = format!("/api/v1/members?q={q}&limit={limit}{cursor}");
        let page = app
            .api("GET", &path, Some(key), None)
            .await
            .expect_status(200)
            .json();
        names_found.extend(names(&page["members"]));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return names_found,
        }
    }
    panic!("more than 100 pages for {q}: {names_found:?}");
}

async fn search_results_page_without_gaps_or_repeats(app: TestApp) {
    let (owner, org) = app.new_org("owner@acme.example", "Acme").await;
    // Names starting with "a" in mixed case, so that the name-start order ignores case.
    for (email, name) in [
        ("alan@corp.example", "alan Turing"),
        ("ada@corp.example", "Ada Lovelace"),
        ("barbara@corp.example", "Barbara Liskov"),
        ("alonzo@corp.example", "ALONZO Church"),
        ("anita@corp.example", "Anita Borg"),
    ] {
        let (member, _) = app.add_member(&owner, org, email, "user").await;
        app.call(&member, "auth/change_name", &[("name", name)])
            .await
            .expect_status(200);
    }
    let key = app.create_key(&owner, org, "members:read", "30").await;

    // Anywhere in name or email: every match once, across pages.
    let mut corp = all_pages(&app, &key, "corp.exa").await;
    corp.sort();
    assert_eq!(
        corp,
        [
            "ALONZO Church",
            "Ada Lovelace",
            "Anita Borg",
            "Barbara Liskov",
            "alan Turing"
        ]
    );
    // A name's start, one letter: in name order regardless of case.
    assert_eq!(
        all_pages(&app, &key, "A").await,
        ["Ada Lovelace", "alan Turing", "ALONZO Church", "Anita Borg"]
    );
    assert_eq!(
        all_pages(&app, &key, "al").await,
        ["alan Turing", "ALONZO Church"]
    );
}

/// 3,000 members whose emails all start `member` and end `@corpN.example`: on PostgreSQL the
/// index is given the term's rare part (the digits) and the whole term filters. Whatever part
/// is chosen, a search finds exactly the members whose name or email contains the term.
async fn a_term_of_common_trigrams_finds_exactly_its_matches(app: TestApp) {
    let (owner, org) = app.new_org("owner@acme.example", "Acme").await;
    let seed = [
        "UPDATE organizations SET seats = 10000",
        "INSERT INTO users (id, email, email_normalized, name, password_hash, created_at)
         SELECT 100000 + i, 'member' || i || '@corp' || (i % 7) || '.example',
                'member' || i || '@corp' || (i % 7) || '.example', 'Person ' || i, 'x', 0
         FROM numbers",
        "INSERT INTO memberships (org_id, user_id, role, created_at, member_name)
         SELECT $1, id, 'user', 0, name FROM users WHERE id > 100000",
    ];
    let numbers = match app.backend {
        common::Backend::Sqlite => {
            "WITH RECURSIVE numbers(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM numbers WHERE i < 3000)"
        }
        common::Backend::Postgres => "WITH numbers AS (SELECT generate_series(1, 3000) AS i)",
    };
    for sql in seed {
        let sql = if sql.contains("FROM numbers") {
            format!("{numbers} {sql}")
        } else {
            sql.to_string()
        };
        sqlx::query(&sql)
            .bind(org)
            .execute(&app.state.db.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    sqlx::query("ANALYZE")
        .execute(&app.state.db.pool)
        .await
        .expect("ANALYZE");
    if app.backend == common::Backend::Postgres {
        app.state
            .search_stats
            .refresh(&app.state.db)
            .await
            .expect("trigram sample");
        let stats = app
            .state
            .search_stats
            .current(&app.state.db)
            .expect("stats after a refresh");
        use app::members::search::Lookup;
        let lookup = stats.lookup("member1234@corp");
        assert!(
            matches!(&lookup, Lookup::Part(p) if p.contains("123")),
            "the index should get the digits of member1234@corp, not {lookup:?}"
        );
        // Every member, or one in seven: read in order.
        assert_eq!(stats.lookup("member"), Lookup::InOrder);
        assert_eq!(stats.lookup("@corp1.ex"), Lookup::InOrder);
    }
    let key = app.create_key(&owner, org, "members:read", "30").await;
    let expected = |term: &str| -> Vec<String> {
        let mut names: Vec<String> = (1..=3000)
            .filter(|i| format!("member{i}@corp{}.example person {i}", i % 7).contains(term))
            .map(|i| format!("Person {i}"))
            .collect();
        names.sort();
        names
    };
    for term in [
        "member1234@corp",
        "r123",
        "4@corp3",
        "member2999@corp",
        "0@corp0.ex",
    ] {
        let mut found = all_pages_of(&app, &key, term, 50).await;
        found.sort();
        assert_eq!(found, expected(term), "search for {term}");
        let want = expected(term).len().min(10);
        assert_eq!(
            suggested(&app, &owner, org, term).await.len(),
            want,
            "type-ahead for {term}"
        );
    }
}
