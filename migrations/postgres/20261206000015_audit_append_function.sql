-- The audit writer's batch in one round trip (store::sql::audit_sealed): check the tokens the
-- read cache served, take the sealer's lock, and insert the rows, already sealed onto the head
-- the writer expects, only if that is still the chain's head. Before this, the same work took
-- six round trips (BEGIN, token check, lock, head, INSERT, COMMIT); on a loopback socket their
-- system calls were most of the writer's CPU.
--
-- p_rows: JSON array of objects keyed by audit_log's column names, seq and hash included.
-- p_tokens: JSON array of token ids. p_after_seq, p_after_hash: the head the rows follow.
-- Returns one row: inserted = the number of rows written; 0 with invalid_tokens (a JSON array)
-- when some token is revoked or gone; -1 with the current head (NULL when no row is sealed)
-- when the head moved. Nothing is written in the last two cases.
--
-- VOLATILE (the default): each statement takes a fresh snapshot, so the head is read after
-- the lock is held, as the sealer's own transactions do.
CREATE FUNCTION scaivault_append_audit(p_rows TEXT, p_tokens TEXT, p_after_seq BIGINT,
    p_after_hash TEXT)
RETURNS TABLE (inserted BIGINT, invalid_tokens TEXT, head_seq BIGINT, head_hash TEXT)
LANGUAGE plpgsql AS $$
DECLARE
    v_invalid TEXT;
    v_seq BIGINT;
    v_hash TEXT;
    v_count BIGINT;
BEGIN
    SELECT json_agg(t.id) INTO v_invalid
    FROM json_array_elements_text(p_tokens::json) AS t(id)
    WHERE NOT EXISTS (SELECT 1 FROM tokens WHERE tokens.id = t.id AND tokens.revoked_at IS NULL);
    IF v_invalid IS NOT NULL THEN
        RETURN QUERY SELECT 0::BIGINT, v_invalid, NULL::BIGINT, NULL::TEXT;
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(7243002);
    SELECT a.seq, a.hash INTO v_seq, v_hash FROM audit_log a
    WHERE a.seq IS NOT NULL ORDER BY a.seq DESC LIMIT 1;
    IF v_seq IS DISTINCT FROM p_after_seq OR v_hash IS DISTINCT FROM p_after_hash THEN
        RETURN QUERY SELECT -1::BIGINT, NULL::TEXT, v_seq, v_hash;
        RETURN;
    END IF;
    INSERT INTO audit_log (id, tenant_id, ts, action, identity_type, identity_id, secret_path,
        version, source_ip, user_agent, success, status_code, duration_ms, request_id,
        extra_data, seq, hash)
    SELECT r.id, r.tenant_id, r.ts, r.action, r.identity_type, r.identity_id, r.secret_path,
        r.version, r.source_ip, r.user_agent, r.success, r.status_code, r.duration_ms,
        r.request_id, r.extra_data, r.seq, r.hash
    FROM json_populate_recordset(NULL::audit_log, p_rows::json) AS r;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN QUERY SELECT v_count, NULL::TEXT, NULL::BIGINT, NULL::TEXT;
END
$$;
