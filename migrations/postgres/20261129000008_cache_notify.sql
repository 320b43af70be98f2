-- Read-cache invalidation across replicas: any committed change to the cached tables, by
-- whoever makes it, notifies channel scaivault_cache ('secrets' or 'tokens'). Replicas LISTEN
-- and drop what they cached. Statement-level, so a bulk change sends one notification, and
-- PostgreSQL folds identical notifications of one transaction into one.
CREATE FUNCTION scaivault_cache_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('scaivault_cache', TG_ARGV[0]);
  RETURN NULL;
END;
$$;

CREATE TRIGGER secrets_cache_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON secrets
  FOR EACH STATEMENT EXECUTE FUNCTION scaivault_cache_notify('secrets');
CREATE TRIGGER secret_versions_cache_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON secret_versions
  FOR EACH STATEMENT EXECUTE FUNCTION scaivault_cache_notify('secrets');
CREATE TRIGGER secret_tags_cache_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON secret_tags
  FOR EACH STATEMENT EXECUTE FUNCTION scaivault_cache_notify('secrets');
CREATE TRIGGER tokens_cache_notify AFTER UPDATE OR DELETE OR TRUNCATE ON tokens
  FOR EACH STATEMENT EXECUTE FUNCTION scaivault_cache_notify('tokens');
