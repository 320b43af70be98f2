-- The read cache also holds rotation schedules (the "rotation" block of a secret read):
-- changes to them notify the same channel as secrets.
CREATE TRIGGER rotation_schedule_cache_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON rotation_schedule
  FOR EACH STATEMENT EXECUTE FUNCTION scaivault_cache_notify('secrets');
