//! The embedded database's files are the owner's only (SPEC §13): a folder scaivault creates
//! for it is `0700`; the database file and its `-wal`/`-shm` are `0600`, and an existing,
//! looser file is tightened at start.

use crate::common::{StoreKind, TestApp};
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn with_suffix(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// The database file the running app uses.
fn database_file(app: &TestApp) -> PathBuf {
    let url = &app.state.config.database_url;
    PathBuf::from(url.strip_prefix("sqlite://").expect("a sqlite URL"))
}

fn assert_owner_only(file: &Path) {
    for path in [
        file.to_path_buf(),
        with_suffix(file, "-wal"),
        with_suffix(file, "-shm"),
    ] {
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_database_folder_and_files_are_owner_only() {
    let app = TestApp::spawn_with(StoreKind::Sqlite, |c| {
        let file = c.data_dir.join("nested/db/scaivault.db");
        c.database_url = format!("sqlite://{}", file.display());
    })
    .await;
    app.put_secret("files/a", json!({"k": "v"})).await;
    let file = database_file(&app);
    assert_owner_only(&file);
    let data_dir = &app.state.config.data_dir;
    for dir in [data_dir.join("nested"), data_dir.join("nested/db")] {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_loose_database_files_are_tightened() {
    let app = TestApp::spawn_with(StoreKind::Sqlite, |c| {
        let file = c.data_dir.join("old.db");
        for path in [file.clone(), with_suffix(&file, "-wal")] {
            std::fs::write(&path, b"").expect("create");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        }
        c.database_url = format!("sqlite://{}", file.display());
    })
    .await;
    app.put_secret("files/a", json!({"k": "v"})).await;
    assert_owner_only(&database_file(&app));
}
