-- A till's charge in one statement (docs/meal-payments.md, "Benchmark"): the same checks and
-- writes the charge action made in eight round trips — the transfer id's earlier use, the pupil
-- and the school's contract, the till's school, allergens, the daily limit, the pupil's or the
-- subsidy's debit, the supplier's credit, the transfer row — and the guardians' alert settings.
-- It runs inside the step's transaction with the step's tenant set, so row-level security
-- applies as to any statement of the step.
--
-- outcome: 'made' (posted, or declined with a reason), 'already_made' (the same id and request
-- earlier), 'conflict' (the same id with another request), 'no_pupil', 'not_a_till',
-- 'wrong_school', 'no_contract', 'above_contract'.
CREATE FUNCTION adal_meal_charge(
    p_tenant uuid,
    p_instance uuid,
    p_transfer uuid,
    p_request_hash bytea,
    p_till_user uuid,
    p_items jsonb,
    p_amount bigint,
    p_item_allergens text[],
    p_override boolean,
    p_now timestamptz,
    p_day date,
    p_shard smallint,
    p_shards smallint
) RETURNS TABLE (
    outcome text,
    reason text,
    balance bigint,
    pupil_id uuid,
    pupil_name text,
    guardians jsonb
)
LANGUAGE plpgsql AS $$
DECLARE
    earlier bytea;
    pupil record;
    till_school uuid;
    flagged text[];
    spent bigint;
    declined text;
    debit uuid;
    credit uuid;
    after bigint;
    charge_kind text;
BEGIN
    SELECT t.request_hash INTO earlier FROM transfers t WHERE t.tenant_id = p_tenant AND t.id = p_transfer;
    IF FOUND THEN
        RETURN QUERY SELECT CASE WHEN earlier = p_request_hash THEN 'already_made' ELSE 'conflict' END,
            NULL::text, NULL::bigint, NULL::uuid, NULL::text, NULL::jsonb;
        RETURN;
    END IF;
    SELECT p.id, p.name, p.school_id, p.account_id, p.daily_limit, p.free_meal_category, p.allergens,
           s.supplier_bin, s.price_per_meal
    INTO pupil
    FROM pupils p JOIN meal_schools s ON s.tenant_id = p.tenant_id AND s.id = p.school_id
    WHERE p.tenant_id = p_tenant AND p.instance_id = p_instance;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'no_pupil', NULL::text, NULL::bigint, NULL::uuid, NULL::text, NULL::jsonb;
        RETURN;
    END IF;
    SELECT m.school_id INTO till_school FROM meal_tills m WHERE m.tenant_id = p_tenant AND m.user_id = p_till_user;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_a_till', NULL::text, NULL::bigint, pupil.id, pupil.name, NULL::jsonb;
        RETURN;
    END IF;
    IF till_school <> pupil.school_id THEN
        RETURN QUERY SELECT 'wrong_school', NULL::text, NULL::bigint, pupil.id, pupil.name, NULL::jsonb;
        RETURN;
    END IF;
    IF pupil.price_per_meal IS NULL OR pupil.supplier_bin IS NULL THEN
        RETURN QUERY SELECT 'no_contract', NULL::text, NULL::bigint, pupil.id, pupil.name, NULL::jsonb;
        RETURN;
    END IF;
    IF p_amount > pupil.price_per_meal THEN
        RETURN QUERY SELECT 'above_contract',
            format('the meal costs %s tiyn, above the contract price of %s', p_amount, pupil.price_per_meal),
            NULL::bigint, pupil.id, pupil.name, NULL::jsonb;
        RETURN;
    END IF;

    SELECT array_agg(a ORDER BY a) INTO flagged
    FROM (SELECT DISTINCT lower(x) AS a FROM unnest(p_item_allergens) AS x) items
    WHERE a = ANY (pupil.allergens);
    IF flagged IS NOT NULL AND NOT p_override THEN
        declined := format('contains %s, flagged for this pupil', array_to_string(flagged, ', '));
    END IF;
    IF declined IS NULL THEN
        -- The pupil's meals of the day, found by the pupil's index over the day's hours in
        -- Kazakhstan (local_day is that day of created_at). A condition on local_day would let the
        -- cached generic plan read the day's index of the whole city instead and filter it.
        SELECT coalesce(sum(t.amount), 0)::bigint INTO spent FROM transfers t
        WHERE t.tenant_id = p_tenant AND t.pupil_id = pupil.id
          AND t.created_at >= (p_day::text || ' 00:00:00+05')::timestamptz
          AND t.created_at < (p_day::text || ' 00:00:00+05')::timestamptz + interval '1 day'
          AND t.status = 'posted' AND t.kind IN ('charge', 'subsidised_charge');
        IF spent + p_amount > pupil.daily_limit THEN
            declined := format('over the daily limit of %s tiyn (%s spent today)', pupil.daily_limit, spent);
        END IF;
    END IF;

    charge_kind := CASE WHEN pupil.free_meal_category IS NULL THEN 'charge' ELSE 'subsidised_charge' END;
    IF declined IS NULL THEN
        IF pupil.free_meal_category IS NOT NULL THEN
            debit := adal_ledger_move_shared(p_tenant, 'subsidy', '', -p_amount, p_shard, p_shards);
        ELSE
            UPDATE ledger_accounts a SET balance = a.balance - p_amount
            WHERE a.tenant_id = p_tenant AND a.id = pupil.account_id AND a.balance >= p_amount
            RETURNING a.id, a.balance INTO debit, after;
            IF debit IS NULL THEN
                declined := 'insufficient balance';
            END IF;
        END IF;
        IF declined IS NULL THEN
            credit := adal_ledger_move_shared(p_tenant, 'supplier', pupil.supplier_bin, p_amount, p_shard, p_shards);
        END IF;
    END IF;

    INSERT INTO transfers (tenant_id, id, kind, status, debit_account, credit_account, amount, pupil_id,
        school_id, items, reason, refers_to, request_hash, created_at, local_day)
    VALUES (p_tenant, p_transfer, charge_kind, CASE WHEN declined IS NULL THEN 'posted' ELSE 'declined' END,
        CASE WHEN declined IS NULL THEN debit END, CASE WHEN declined IS NULL THEN credit END, p_amount,
        pupil.id, pupil.school_id, p_items, declined, NULL, p_request_hash, p_now, p_day);

    RETURN QUERY SELECT 'made', declined, after, pupil.id, pupil.name,
        CASE WHEN after IS NULL THEN NULL ELSE (
            SELECT coalesce(jsonb_agg(jsonb_build_array(g.user_id, g.low_balance_alert, g.auto_threshold,
                g.auto_amount)), '[]'::jsonb)
            FROM guardians g WHERE g.tenant_id = p_tenant AND g.pupil_id = pupil.id) END;
END;
$$;

-- Adds p_amount (negative to take) to shard p_shard of a shared account, making its p_shards
-- rows on first use; the shard row's id. Ledger.moveShared (top-ups, refunds) calls it too.
CREATE FUNCTION adal_ledger_move_shared(
    p_tenant uuid,
    p_kind text,
    p_owner text,
    p_amount bigint,
    p_shard smallint,
    p_shards smallint
) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    moved uuid;
BEGIN
    UPDATE ledger_accounts SET balance = balance + p_amount
    WHERE tenant_id = p_tenant AND kind = p_kind AND owner = p_owner AND shard = p_shard
    RETURNING id INTO moved;
    IF moved IS NULL THEN
        INSERT INTO ledger_accounts (tenant_id, id, kind, owner, shard)
        SELECT p_tenant, gen_random_uuid(), p_kind, p_owner, s FROM generate_series(0, p_shards - 1) AS s
        ON CONFLICT (tenant_id, kind, owner, shard) DO NOTHING;
        UPDATE ledger_accounts SET balance = balance + p_amount
        WHERE tenant_id = p_tenant AND kind = p_kind AND owner = p_owner AND shard = p_shard
        RETURNING id INTO moved;
    END IF;
    IF moved IS NULL THEN
        RAISE EXCEPTION 'ledger account % % could not be opened', p_kind, p_owner;
    END IF;
    RETURN moved;
END;
$$;
