-- (SQLite dialect) Indexes for the rotation queue gauge of /v1/metrics: rotations past their time and
-- rotations open (pending/overdue), so a scrape costs what is due, not the number of secrets.
CREATE INDEX rotation_schedule_due ON rotation_schedule (next_rotation_at) WHERE status = 'scheduled';
CREATE INDEX rotation_schedule_open ON rotation_schedule (status) WHERE status <> 'scheduled';
