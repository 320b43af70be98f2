-- The audit writer's batch sealed in the database (store::sql::audit_sealed), replacing 0015's
-- function, which inserted rows the writer had already sealed onto the head it expected. That
-- let only one batch be in flight: a second batch sealed onto the head the first would leave
-- had to be sealed again whenever the order changed, and so on down the line. Sealed here,
-- after the sealer's lock is taken and the head is read, any number of batches can be in
-- flight: each waits for the lock while the one before it flushes, with its round trip and
-- parsing already done, and chains onto whatever head it finds.
--
-- p_rows: JSON array of objects keyed by audit_log's column names (seq and hash left out).
-- p_canon: JSON array of strings, the same length: each row's canonical bytes after its seq
--   (audit::chain::canonical_tail), so that row's hash is
--   SHA-256(prev_hash ‖ "\n" ‖ "[" ‖ seq ‖ "," ‖ tail), exactly as audit::chain::row_hash.
-- p_tokens: JSON array of token ids the read cache served.
-- Returns one row: inserted = the number of rows written, with the head they left; or 0 with
-- invalid_tokens (a JSON array) when some token is revoked or gone, and nothing written.
--
-- The head: the last sealed row, else the retention anchor (meta 'audit_chain_anchor',
-- {"seq","hash"}), else genesis, as audit::chain::start_link.
DROP FUNCTION scaivault_append_audit(TEXT, TEXT, BIGINT, TEXT);

CREATE FUNCTION scaivault_append_audit_sealing(p_rows TEXT, p_canon TEXT, p_tokens TEXT)
RETURNS TABLE (inserted BIGINT, invalid_tokens TEXT, head_seq BIGINT, head_hash TEXT)
LANGUAGE plpgsql AS $$
DECLARE
    v_invalid TEXT;
    v_anchor TEXT;
    v_first BIGINT;
    v_seq BIGINT;
    v_hash TEXT;
    v_tail TEXT;
    v_hashes TEXT[] := '{}';
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
    IF v_seq IS NULL THEN
        SELECT m.value INTO v_anchor FROM meta m WHERE m.key = 'audit_chain_anchor';
        v_seq := COALESCE((v_anchor::json ->> 'seq')::BIGINT, 0);
        v_hash := COALESCE(v_anchor::json ->> 'hash', repeat('0', 64));
    END IF;
    v_first := v_seq + 1;
    FOR v_tail IN
        SELECT c.tail FROM json_array_elements_text(p_canon::json) WITH ORDINALITY AS c(tail, n)
        ORDER BY c.n
    LOOP
        v_seq := v_seq + 1;
        v_hash := encode(sha256(convert_to(v_hash || E'\n[' || v_seq::TEXT || ',' || v_tail,
            'UTF8')), 'hex');
        v_hashes := v_hashes || v_hash;
    END LOOP;
    INSERT INTO audit_log (id, tenant_id, ts, action, identity_type, identity_id, secret_path,
        version, source_ip, user_agent, success, status_code, duration_ms, request_id,
        extra_data, seq, hash)
    SELECT r.id, r.tenant_id, r.ts, r.action, r.identity_type, r.identity_id, r.secret_path,
        r.version, r.source_ip, r.user_agent, r.success, r.status_code, r.duration_ms,
        r.request_id, r.extra_data, v_first + r.ordinality - 1, v_hashes[r.ordinality]
    FROM json_populate_recordset(NULL::audit_log, p_rows::json) WITH ORDINALITY AS r
    ORDER BY r.ordinality;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    IF v_count <> cardinality(v_hashes) THEN
        RAISE EXCEPTION 'audit batch: % rows but % canonical tails', v_count, cardinality(v_hashes);
    END IF;
    RETURN QUERY SELECT v_count, NULL::TEXT, v_seq, v_hash;
END
$$;
