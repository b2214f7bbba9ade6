//! A full disk under SQLite, on a real (small, tmpfs) filesystem: writes get 503
//! `storage_full` and change nothing, reads go on, the database stays whole, and writes resume
//! once space is freed. Needs to mount a filesystem (root, as in CI); says it was skipped
//! where it cannot.

use crate::common;

use common::{Backend, TestApp};
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs of `size` mounted at a new folder, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(size: &str) -> Option<Self> {
        let dir = std::env::temp_dir().join(format!("gatehouse-small-disk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .stderr(std::process::Stdio::null())
            .status()
            .ok()?;
        if !mounted.success() {
            let _ = std::fs::remove_dir(&dir);
            return None;
        }
        Some(Self(dir))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Fills the filesystem at `dir` to the last byte; answers the filler's path.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).expect("filler");
    let chunk = vec![0u8; 64 * 1024];
    while file.write_all(&chunk).is_ok() {}
    let small = [0u8; 512];
    while file.write_all(&small).is_ok() {}
    while file.write_all(&[0u8]).is_ok() {}
    let _ = file.sync_all();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_clearly_and_they_resume_when_space_is_freed() {
    let Some(disk) = SmallDisk::mount("16m") else {
        eprintln!("skipped: this test mounts a small tmpfs, which needs root");
        return;
    };
    let data = disk.0.join("data");
    let app = TestApp::spawn_with(Backend::Sqlite, {
        let data = data.clone();
        move |c| c.data_dir = data
    })
    .await
    .expect("app on the small disk");
    let (owner, org) = app.new_org("owner@example.com", "Org").await;
    let key = app
        .create_key(&owner, org, "groups:write groups:read", "30")
        .await;
    let group = |name: &str| json!({"name": name, "scans_limit": 1});
    app.api("POST", "/api/v1/groups", Some(&key), Some(group("before")))
        .await
        .expect_status(201);

    let filler = fill(&disk.0);
    // A write needs pages the disk no longer has: refused, and said so.
    let mut refused = 0;
    for n in 0..20 {
        let name = format!("while-full-{n}");
        let resp = app
            .api("POST", "/api/v1/groups", Some(&key), Some(group(&name)))
            .await;
        match resp.status {
            201 => {}
            503 => {
                let body = resp.json();
                assert_eq!(body["code"], "storage_full", "{}", resp.body);
                assert!(resp.header("retry-after").is_some(), "{:?}", resp.headers);
                refused += 1;
            }
            other => panic!("a write on a full disk: {other} {}", resp.body),
        }
    }
    assert!(refused > 0, "no write was refused on a full disk");
    // Reads go on.
    app.api("GET", "/api/v1/groups", Some(&key), None)
        .await
        .expect_status(200);

    std::fs::remove_file(&filler).expect("free the space");
    app.api("POST", "/api/v1/groups", Some(&key), Some(group("after")))
        .await
        .expect_status(201);
    let (check,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&app.state.db.pool)
        .await
        .expect("integrity check");
    assert_eq!(check, "ok");
    // Every acknowledged group is there, and no refused one.
    let stored = app.count("SELECT COUNT(*) FROM groups").await;
    assert_eq!(stored, 2 + (20 - refused), "refused {refused} of 20");
    eprintln!("figure: on a full disk {refused} of 20 writes refused with 503 storage_full; integrity ok; writes resumed once space was freed");
    app.state.db.pool.close().await;
}
