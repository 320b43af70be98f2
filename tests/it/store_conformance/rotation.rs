//! Rotation: policies (flags, active filter, unique id, detach on delete), schedules (due
//! queries, claims, the backlog), history and expiry rows.

use super::fixtures::{expiry, history, policy, put_secret, schedule, secret, HOUR, NOW, TENANT};
use crate::common::bare_store::BareStore;
use crate::common::StoreKind;
use scaivault::store::{
    HistoryRow, PolicyRow, RotationStatus, RotationTrigger, ScheduleRow, ScheduleStatus, Store,
    StoreError,
};

crate::both_stores!(
    policies_round_trip_filter_on_active_and_detach_on_delete,
    due_rotations_claims_and_backlog_follow_the_schedule,
    history_lists_newest_first_with_a_status_filter_and_cursor,
    expiry_rows_round_trip_and_are_claimed_when_due,
);

fn policy_ids(rows: &[PolicyRow]) -> Vec<&str> {
    rows.iter().map(|p| p.id.as_str()).collect()
}

async fn policies_round_trip_filter_on_active_and_detach_on_delete(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    let mut tx = s.begin().await.expect("begin");
    tx.insert_policy(&policy(TENANT, "a", true, true))
        .await
        .expect("a");
    tx.insert_policy(&policy(TENANT, "b", false, false))
        .await
        .expect("b");
    tx.insert_policy(&policy("tnt_other", "a", true, false))
        .await
        .expect("other a");
    tx.commit().await.expect("commit");

    let a = s
        .get_policy(TENANT, "rot_a")
        .await
        .expect("get")
        .expect("a");
    assert_eq!((a.is_active, a.auto_generate), (true, true));
    let b = s
        .get_policy(TENANT, "rot_b")
        .await
        .expect("get")
        .expect("b");
    assert_eq!((b.is_active, b.auto_generate), (false, false));
    let all = s
        .list_policies(TENANT, false, None, 10)
        .await
        .expect("list");
    assert_eq!(policy_ids(&all), ["rot_a", "rot_b"]);
    let active = s
        .list_policies(TENANT, true, None, 10)
        .await
        .expect("active");
    assert_eq!(policy_ids(&active), ["rot_a"]);
    let after = s
        .list_policies(TENANT, false, Some("rot_a"), 10)
        .await
        .expect("after");
    assert_eq!(policy_ids(&after), ["rot_b"]);

    let mut tx = s.begin().await.expect("begin");
    let dup = tx.insert_policy(&policy(TENANT, "a", false, false)).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    drop(tx);

    let mut sec = secret(TENANT, "sec_1", "app/db");
    sec.rotation_policy_id = Some("rot_a".into());
    let sec = put_secret(&*s, sec, 1).await;
    let mut tx = s.begin().await.expect("begin");
    let mut b = b.clone();
    b.is_active = true;
    b.updated_at = NOW + 1;
    tx.update_policy(&b).await.expect("update");
    let sched = schedule(&sec, "rot_a", ScheduleStatus::Scheduled, NOW + HOUR, None);
    tx.upsert_schedule(&sched).await.expect("attach");
    let of_policy = tx
        .schedules_of_policy(TENANT, "rot_a")
        .await
        .expect("schedules");
    assert_eq!(of_policy.len(), 1);
    assert_eq!(
        tx.attached_paths(TENANT, "rot_a").await.expect("paths"),
        ["app/db"]
    );
    tx.commit().await.expect("commit");
    let active = s
        .list_policies(TENANT, true, None, 10)
        .await
        .expect("active");
    assert_eq!(policy_ids(&active), ["rot_a", "rot_b"]);
    assert_eq!(s.count_attached(TENANT, "rot_a").await.expect("count"), 1);
    assert_eq!(
        s.attached_paths(TENANT, "rot_a").await.expect("paths"),
        ["app/db"]
    );

    let mut tx = s.begin().await.expect("begin");
    assert!(tx.delete_policy(TENANT, "rot_a").await.expect("delete"));
    assert!(!tx
        .delete_policy(TENANT, "rot_a")
        .await
        .expect("delete again"));
    tx.commit().await.expect("commit");
    let detached = s
        .get_secret(TENANT, "app/db")
        .await
        .expect("get")
        .expect("secret");
    assert_eq!(detached.rotation_policy_id, None);
    assert!(s.get_schedule("sec_1").await.expect("schedule").is_none());
    assert_eq!(s.count_attached(TENANT, "rot_a").await.expect("count"), 0);
    assert!(s
        .get_policy("tnt_other", "rot_a")
        .await
        .expect("get")
        .is_some());
}

async fn due_rotations_claims_and_backlog_follow_the_schedule(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    let mut rows: Vec<ScheduleRow> = Vec::new();
    let spec = [
        // (id, path, policy, status, next_rotation_at, next_event_at)
        (
            "s1",
            "a/1",
            "rot_a",
            ScheduleStatus::Scheduled,
            NOW - HOUR,
            Some(NOW - HOUR),
        ),
        (
            "s2",
            "a/2",
            "rot_a",
            ScheduleStatus::Scheduled,
            NOW + HOUR,
            Some(NOW - 10),
        ),
        (
            "s3",
            "a/3",
            "rot_b",
            ScheduleStatus::Pending,
            NOW - 2 * HOUR,
            Some(NOW + HOUR),
        ),
        (
            "s4",
            "a/4",
            "rot_a",
            ScheduleStatus::Overdue,
            NOW - 3 * HOUR,
            None,
        ),
        (
            "s5",
            "a/5",
            "rot_a",
            ScheduleStatus::Scheduled,
            NOW - HOUR,
            None,
        ),
    ];
    for (id, path, pol, status, next_rot, next_ev) in spec {
        let mut sec = secret(TENANT, id, path);
        if id == "s5" {
            sec.deleted_at = Some(NOW - HOUR);
        }
        let sec = put_secret(&*s, sec, 1).await;
        rows.push(schedule(&sec, pol, status, next_rot, next_ev));
    }
    let other = put_secret(&*s, secret("tnt_other", "s6", "a/6"), 1).await;
    rows.push(schedule(
        &other,
        "rot_a",
        ScheduleStatus::Scheduled,
        NOW - HOUR,
        None,
    ));
    let mut tx = s.begin().await.expect("begin");
    for r in &rows {
        tx.upsert_schedule(r).await.expect("schedule");
    }
    tx.upsert_expiry(&expiry("s1", Some(NOW - 5 * HOUR), false))
        .await
        .expect("expiry");
    tx.commit().await.expect("commit");

    let due = |until: i64, pol: Option<&'static str>| {
        let st = &s;
        async move {
            st.due_rotations(TENANT, until, pol)
                .await
                .expect("due")
                .into_iter()
                .map(|(r, path)| (path, r.status))
                .collect::<Vec<_>>()
        }
    };
    let p = |path: &str, st: ScheduleStatus| (path.to_string(), st);
    assert_eq!(
        due(NOW, None).await,
        [
            p("a/4", ScheduleStatus::Overdue),
            p("a/3", ScheduleStatus::Pending),
            p("a/1", ScheduleStatus::Scheduled)
        ]
    );
    let later = due(NOW + 2 * HOUR, None).await;
    let later: Vec<&str> = later.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(later, ["a/4", "a/3", "a/1", "a/2"]);
    assert_eq!(
        due(NOW + 2 * HOUR, Some("rot_b")).await,
        [p("a/3", ScheduleStatus::Pending)]
    );

    let mut tx = s.begin().await.expect("begin");
    let claimed = tx.claim_due_schedules(NOW, 10).await.expect("claim");
    let claimed: Vec<&str> = claimed.iter().map(|r| r.secret_id.as_str()).collect();
    assert_eq!(claimed, ["s1", "s2"]);
    let first = tx.claim_due_schedules(NOW, 1).await.expect("claim one");
    assert_eq!(
        first
            .iter()
            .map(|r| r.secret_id.as_str())
            .collect::<Vec<_>>(),
        ["s1"]
    );
    tx.commit().await.expect("commit");

    let backlog = s.scheduler_backlog(NOW).await.expect("backlog");
    assert_eq!(
        backlog.rotations_due, 4,
        "s1, s3, s4 and the other tenant's s6"
    );
    assert_eq!(backlog.oldest_due_event_at, Some(NOW - 5 * HOUR));

    let mut changed = rows[2].clone();
    changed.status = ScheduleStatus::Overdue;
    changed.history_id = Some("rh_1".into());
    changed.due_at = Some(NOW - 2 * HOUR);
    changed.warnings_sent = "[604800]".into();
    changed.next_event_at = None;
    let mut tx = s.begin().await.expect("begin");
    tx.upsert_schedule(&changed).await.expect("upsert");
    let locked = tx.lock_schedule("s3").await.expect("lock").expect("s3");
    assert_eq!(format!("{locked:?}"), format!("{changed:?}"));
    assert!(tx.delete_schedule("s4").await.expect("delete"));
    assert!(!tx.delete_schedule("s4").await.expect("delete again"));
    tx.commit().await.expect("commit");
    let got = s.get_schedule("s3").await.expect("get").expect("s3");
    assert_eq!(format!("{got:?}"), format!("{changed:?}"));
    assert!(s.get_schedule("s4").await.expect("get").is_none());
}

fn history_ids(rows: &[HistoryRow]) -> Vec<&str> {
    rows.iter().map(|h| h.id.as_str()).collect()
}

async fn history_lists_newest_first_with_a_status_filter_and_cursor(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    let mut done = history("rh_2", "rot_a", RotationStatus::Success);
    done.trigger = RotationTrigger::Schedule;
    done.new_version = Some(2);
    done.completed_at = Some(NOW + 5);
    let mut tx = s.begin().await.expect("begin");
    for h in [
        history("rh_1", "rot_a", RotationStatus::Pending),
        done.clone(),
        history("rh_3", "rot_a", RotationStatus::Overdue),
        history("rh_4", "rot_b", RotationStatus::Pending),
    ] {
        tx.insert_history(&h).await.expect("insert history");
    }
    tx.commit().await.expect("commit");

    let list = |status: Option<RotationStatus>, before: Option<&'static str>, limit: i64| {
        let st = &s;
        async move {
            st.list_history(TENANT, "rot_a", status, before, limit)
                .await
                .expect("history")
        }
    };
    assert_eq!(
        history_ids(&list(None, None, 10).await),
        ["rh_3", "rh_2", "rh_1"]
    );
    let pending = list(Some(RotationStatus::Pending), None, 10).await;
    assert_eq!(history_ids(&pending), ["rh_1"]);
    assert_eq!(history_ids(&list(None, Some("rh_3"), 1).await), ["rh_2"]);

    let by_event = s.history_by_due_event("evt_rh_2").await.expect("by event");
    let by_event = by_event.expect("rh_2");
    assert_eq!(format!("{by_event:?}"), format!("{done:?}"));

    let mut tx = s.begin().await.expect("begin");
    let mut h = tx.get_history("rh_1").await.expect("get").expect("rh_1");
    assert_eq!(
        (h.trigger, h.status),
        (RotationTrigger::Manual, RotationStatus::Pending)
    );
    h.status = RotationStatus::Failed;
    h.error = Some("delivery_failed: every delivery failed".into());
    h.completed_at = Some(NOW + 9);
    tx.update_history(&h).await.expect("update");
    tx.commit().await.expect("commit");
    let failed = list(Some(RotationStatus::Failed), None, 10).await;
    assert_eq!(failed.len(), 1);
    assert_eq!(format!("{:?}", failed[0]), format!("{h:?}"));
}

async fn expiry_rows_round_trip_and_are_claimed_when_due(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    let mut tx = s.begin().await.expect("begin");
    tx.upsert_expiry(&expiry("sec_1", Some(NOW - 1), false))
        .await
        .expect("e1");
    tx.upsert_expiry(&expiry("sec_2", Some(NOW + 1), true))
        .await
        .expect("e2");
    tx.upsert_expiry(&expiry("sec_3", None, true))
        .await
        .expect("e3");
    tx.commit().await.expect("commit");

    let mut tx = s.begin().await.expect("begin");
    let e2 = tx.get_expiry("sec_2").await.expect("get").expect("e2");
    assert_eq!(
        format!("{e2:?}"),
        format!("{:?}", expiry("sec_2", Some(NOW + 1), true))
    );
    let claimed = tx.claim_due_expiry(NOW, 10).await.expect("claim");
    assert_eq!(
        claimed
            .iter()
            .map(|e| e.secret_id.as_str())
            .collect::<Vec<_>>(),
        ["sec_1"]
    );
    assert!(!claimed[0].expired_sent);
    let sent = expiry("sec_1", None, true);
    tx.upsert_expiry(&sent).await.expect("sent");
    tx.delete_expiry("sec_3").await.expect("delete");
    tx.commit().await.expect("commit");

    let mut tx = s.begin().await.expect("begin");
    let e1 = tx.get_expiry("sec_1").await.expect("get").expect("e1");
    assert_eq!(format!("{e1:?}"), format!("{sent:?}"));
    assert!(tx.get_expiry("sec_3").await.expect("get").is_none());
    assert!(tx.claim_due_expiry(NOW + 1, 10).await.expect("claim").len() == 1);
    tx.commit().await.expect("commit");
}
