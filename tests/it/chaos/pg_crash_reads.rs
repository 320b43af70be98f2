//! A PostgreSQL crash under a read load (`pg_ctl stop -m immediate`: no shutdown checkpoint,
//! crash recovery at the next start), on a cluster of the test's own, with the default
//! `durable` audit: every read answered 200 still has its audit row after recovery, since a
//! read is answered only once its batch's commit is flushed. (`kill -9` of scaivault itself,
//! in both durability modes, is `binary::kill_9_under_reads_keeps_every_audit_row_*`; the
//! mixed-load version of this fault is `pg_faults`.)

use super::pg_cluster::Cluster;
use crate::binary::{
    assert_every_read_audited, free_port, master_key, root_token, ReadLoad, Server,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_crash_under_reads_keeps_every_audit_row_durable() {
    let cluster = Cluster::start().await;
    let db = cluster.create_db("crash_reads").await;
    let dir = tempfile::tempdir().unwrap();
    let (key, root, port) = (master_key(), root_token(), free_port());
    let env = [
        ("SCAIVAULT_DATABASE_URL", db.as_str()),
        ("SCAIVAULT_MASTER_KEY", key.as_str()),
        ("SCAIVAULT_ROOT_TOKEN", root.as_str()),
        ("SCAIVAULT_AUDIT_DURABILITY", "durable"),
        ("RUST_LOG", "warn"),
    ];
    let srv = Server::start(dir.path(), &[], port, &env, &root).await;
    let load = ReadLoad::start(&srv, &root).await;
    load.until_answered(300).await;
    cluster.stop("immediate").await;
    // Reads meanwhile get 503s (not counted); stop them and bring the database back.
    let answered = load.stop().await;
    cluster.start_again().await;
    assert!(answered.len() >= 300, "{}", answered.len());
    assert_every_read_audited(&db, &answered).await;
    let (ok, out) = srv.stop().await;
    assert!(ok, "{out}");
}
