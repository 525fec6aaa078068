-- Today's menu (docs/meal-payments.md, "Today's menu"): a school's canteen sets the items it
-- serves on a day, each with its price and allergens, and a till charges for those items.
--
-- A charge's allergens were what the till named with its items, so a flagged pupil was kept
-- from a dish only if the person at the till typed its allergen. Now the school's office (or the
-- akimat) lists a day's items once, and on a day with a menu every item of a charge must be on
-- it — its name in any case, at the menu's price — or the charge is refused as "not on the menu
-- for <day> at that price: <items>" (nothing is written, as for a price above the contract); the
-- menu's allergens of the items count as if the till had named them. A day without a menu
-- charges as before.
--
-- adal_meal_charges as in 0023, with the menu's check and its allergens in its first query; the
-- flagged allergens are now read only for a pupil with any flagged (most have none) and no staff
-- override.
CREATE TABLE meal_menu_items (
    tenant_id uuid NOT NULL,
    school_id uuid NOT NULL,
    day date NOT NULL,
    position smallint NOT NULL CHECK (position BETWEEN 1 AND 20),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    price bigint NOT NULL CHECK (price > 0),
    -- Lower case, as pupils' allergens are stored.
    allergens text[] NOT NULL CHECK (cardinality(allergens) <= 20),
    set_by uuid NOT NULL,
    set_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, school_id, day, position),
    FOREIGN KEY (tenant_id, school_id) REFERENCES meal_schools (tenant_id, id)
);
SELECT adal_isolate_tenant_table('meal_menu_items');
-- A till's item is matched by its name in any case: one line per name and day.
CREATE UNIQUE INDEX meal_menu_items_by_name ON meal_menu_items (tenant_id, school_id, day, lower(name));

CREATE OR REPLACE FUNCTION adal_meal_charges(
    p_tenant uuid,
    p_instances uuid[],
    p_transfers uuid[],
    p_request_hashes bytea[],
    p_tills uuid[],
    p_items text[],
    p_amounts bigint[],
    p_allergens text[],
    p_overrides boolean[],
    p_times timestamptz[],
    p_days date[],
    p_today date,
    p_shard smallint,
    p_shards smallint
) RETURNS TABLE (
    n integer,
    outcome text,
    reason text,
    balance bigint,
    pupil_id uuid,
    pupil_name text,
    guardians jsonb,
    kind text,
    status text,
    created_at timestamptz,
    school text,
    items text,
    account_balance bigint
)
LANGUAGE plpgsql
-- Its statements' plans are made once per connection: with custom plans (PostgreSQL's default
-- for the first runs, and for good when a generic plan looks dearer) each call planned its
-- statements again, which cost more than running them.
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    size integer := coalesce(cardinality(p_instances), 0);
    c record;
    outcomes text[] := array_fill(NULL::text, ARRAY[size]);
    reasons text[] := array_fill(NULL::text, ARRAY[size]);
    balances bigint[] := array_fill(NULL::bigint, ARRAY[size]);
    pupils uuid[] := array_fill(NULL::uuid, ARRAY[size]);
    names text[] := array_fill(NULL::text, ARRAY[size]);
    schools uuid[] := array_fill(NULL::uuid, ARRAY[size]);
    school_names text[] := array_fill(NULL::text, ARRAY[size]);
    -- Each pupil's balance as read, before the batch's debits.
    read_balances bigint[] := array_fill(NULL::bigint, ARRAY[size]);
    kinds text[] := array_fill(NULL::text, ARRAY[size]);
    suppliers text[] := array_fill(NULL::text, ARRAY[size]);
    debits uuid[] := array_fill(NULL::uuid, ARRAY[size]);
    credits uuid[] := array_fill(NULL::uuid, ARRAY[size]);
    settings jsonb[] := array_fill(NULL::jsonb, ARRAY[size]);
    -- When each charge's meal was served, and its day in Kazakhstan.
    times timestamptz[] := array_fill(NULL::timestamptz, ARRAY[size]);
    days date[] := array_fill(NULL::date, ARRAY[size]);
    -- The pupils' accounts to debit, and the charge each debit is for.
    accounts uuid[] := '{}';
    account_amounts bigint[] := '{}';
    account_charges integer[] := '{}';
    debited uuid[];
    debited_balances bigint[];
    subsidy_total bigint := 0;
    subsidy_shard uuid;
    supplier record;
    shard uuid;
    pos integer;
BEGIN
    IF cardinality(p_transfers) <> size OR cardinality(p_request_hashes) <> size OR cardinality(p_tills) <> size
        OR cardinality(p_items) <> size OR cardinality(p_amounts) <> size OR cardinality(p_allergens) <> size
        OR cardinality(p_overrides) <> size OR cardinality(p_times) <> size OR cardinality(p_days) <> size THEN
        RAISE EXCEPTION 'adal_meal_charges: the lists differ in length';
    END IF;

    -- Everything the checks need, one row per charge. Every lookup is a LATERAL probe with
    -- LIMIT, so the cached generic plan stays index probes whatever it guesses of the batch size.
    FOR c IN
        SELECT r.n::integer AS n, r.served, r.day, r.amount, r.override, r.request_hash, e.request_hash AS earlier,
               p.id AS pupil, p.name, p.school_id, p.account_id, p.daily_limit, p.free_meal_category,
               p.supplier_bin, p.price_per_meal, p.school_name, p.account_balance, m.school_id AS till_school,
               coalesce(d.spent, 0) AS spent, coalesce(mh.has_menu, false) AS has_menu, om.off_menu, fl.flagged
        FROM unnest(p_instances, p_transfers, p_request_hashes, p_tills, p_amounts, p_allergens, p_overrides,
                p_times, p_days, p_items)
            WITH ORDINALITY AS r (instance, transfer, request_hash, till, amount, allergens, override, served, day,
                items, n)
        LEFT JOIN LATERAL (
            SELECT t.request_hash FROM transfers t WHERE t.tenant_id = p_tenant AND t.id = r.transfer LIMIT 1
        ) e ON true
        LEFT JOIN LATERAL (
            SELECT q.id, q.name, q.school_id, q.account_id, q.daily_limit, q.free_meal_category, q.allergens,
                   s.supplier_bin, s.price_per_meal, s.name AS school_name, a.balance AS account_balance
            FROM pupils q JOIN meal_schools s ON s.tenant_id = q.tenant_id AND s.id = q.school_id
            JOIN ledger_accounts a ON a.tenant_id = q.tenant_id AND a.id = q.account_id
            WHERE q.tenant_id = p_tenant AND q.instance_id = r.instance LIMIT 1
        ) p ON true
        LEFT JOIN LATERAL (
            SELECT t.school_id FROM meal_tills t WHERE t.tenant_id = p_tenant AND t.user_id = r.till LIMIT 1
        ) m ON true
        -- Whether the pupil's school set a menu for the charge's day; with one, the items not on
        -- it under their name (in any case) at their price. A condition on the outer row alone
        -- is a one-time filter: without a menu the items are not read.
        LEFT JOIN LATERAL (
            SELECT true AS has_menu FROM meal_menu_items mm
            WHERE mm.tenant_id = p_tenant AND mm.school_id = p.school_id AND mm.day = r.day LIMIT 1
        ) mh ON true
        LEFT JOIN LATERAL (
            SELECT string_agg(i.name, ', ' ORDER BY i.ord) AS off_menu
            FROM ROWS FROM (jsonb_to_recordset(r.items::jsonb) AS (name text, price bigint))
                WITH ORDINALITY AS i (name, price, ord)
            WHERE mh.has_menu AND NOT EXISTS (
                SELECT FROM meal_menu_items mm
                WHERE mm.tenant_id = p_tenant AND mm.school_id = p.school_id AND mm.day = r.day
                  AND lower(mm.name) = lower(i.name) AND mm.price = i.price)
        ) om ON true
        -- The pupil's flagged allergens among those the till named and, with a menu, those the
        -- menu lists for the items: read only for a pupil with any flagged and no staff override.
        LEFT JOIN LATERAL (
            SELECT array_agg(DISTINCT named.a ORDER BY named.a) AS flagged FROM (
                SELECT lower(x) AS a FROM jsonb_array_elements_text(r.allergens::jsonb) AS x
                UNION ALL
                SELECT unnest(mm.allergens)
                FROM jsonb_to_recordset(r.items::jsonb) AS i (name text)
                JOIN meal_menu_items mm ON mm.tenant_id = p_tenant AND mm.school_id = p.school_id
                    AND mm.day = r.day AND lower(mm.name) = lower(i.name)
                WHERE mh.has_menu
            ) named
            WHERE cardinality(p.allergens) > 0 AND NOT r.override AND named.a = ANY (p.allergens)
        ) fl ON true
        -- The pupil's meals of the charge's day, by the pupil's index over the day's hours in
        -- Kazakhstan (as in 0013: a condition on local_day would let a generic plan read the
        -- city's day).
        CROSS JOIN LATERAL (SELECT (r.day::text || ' 00:00:00+05')::timestamptz AS day_start) h
        LEFT JOIN LATERAL (
            SELECT sum(t.amount)::bigint AS spent FROM transfers t
            WHERE t.tenant_id = p_tenant AND t.pupil_id = p.id
              AND t.created_at >= h.day_start AND t.created_at < h.day_start + interval '1 day'
              AND t.status = 'posted' AND t.kind IN ('charge', 'subsidised_charge')
        ) d ON true
        ORDER BY r.n
    LOOP
        IF c.earlier IS NOT NULL THEN
            outcomes[c.n] := CASE WHEN c.earlier = c.request_hash THEN 'already_made' ELSE 'conflict' END;
            CONTINUE;
        END IF;
        IF c.pupil IS NULL THEN
            outcomes[c.n] := 'no_pupil';
            CONTINUE;
        END IF;
        IF c.pupil = ANY (pupils) THEN
            RAISE EXCEPTION 'adal_meal_charges: pupil % is charged twice in one batch', c.pupil;
        END IF;
        pupils[c.n] := c.pupil;
        names[c.n] := c.name;
        IF c.till_school IS NULL THEN
            outcomes[c.n] := 'not_a_till';
            CONTINUE;
        END IF;
        IF c.till_school <> c.school_id THEN
            outcomes[c.n] := 'wrong_school';
            CONTINUE;
        END IF;
        IF c.price_per_meal IS NULL OR c.supplier_bin IS NULL THEN
            outcomes[c.n] := 'no_contract';
            CONTINUE;
        END IF;
        IF c.off_menu IS NOT NULL THEN
            outcomes[c.n] := 'not_on_menu';
            reasons[c.n] := format('not on the menu for %s at that price: %s', to_char(c.day, 'YYYY-MM-DD'),
                c.off_menu);
            CONTINUE;
        END IF;
        IF c.amount > c.price_per_meal THEN
            outcomes[c.n] := 'above_contract';
            reasons[c.n] := format('the meal costs %s tiyn, above the contract price of %s', c.amount,
                c.price_per_meal);
            CONTINUE;
        END IF;
        outcomes[c.n] := 'made';
        times[c.n] := c.served;
        days[c.n] := c.day;
        schools[c.n] := c.school_id;
        school_names[c.n] := c.school_name;
        read_balances[c.n] := c.account_balance;
        suppliers[c.n] := c.supplier_bin;
        kinds[c.n] := CASE WHEN c.free_meal_category IS NULL THEN 'charge' ELSE 'subsidised_charge' END;
        IF c.flagged IS NOT NULL THEN
            reasons[c.n] := format('contains %s, flagged for this pupil', array_to_string(c.flagged, ', '));
        ELSIF c.spent + c.amount > c.daily_limit THEN
            reasons[c.n] := CASE WHEN c.day = p_today
                THEN format('over the daily limit of %s tiyn (%s spent today)', c.daily_limit, c.spent)
                ELSE format('over the daily limit of %s tiyn (%s spent on %s)', c.daily_limit, c.spent,
                    to_char(c.day, 'YYYY-MM-DD'))
            END;
        ELSIF c.free_meal_category IS NOT NULL THEN
            subsidy_total := subsidy_total + c.amount;
        ELSE
            accounts := accounts || c.account_id;
            account_amounts := account_amounts || c.amount;
            account_charges := account_charges || c.n;
        END IF;
    END LOOP;

    -- The pupils' debits, each only if the balance covers it (no read-then-write race). The
    -- accounts are found by `= ANY`, an index probe whatever the generic plan guesses.
    WITH moved AS (
        UPDATE ledger_accounts a SET balance = a.balance - account_amounts[array_position(accounts, a.id)]
        WHERE a.tenant_id = p_tenant AND a.id = ANY (accounts)
          AND a.balance >= account_amounts[array_position(accounts, a.id)]
        RETURNING a.id, a.balance
    )
    SELECT coalesce(array_agg(moved.id), '{}'), coalesce(array_agg(moved.balance), '{}')
    INTO debited, debited_balances FROM moved;
    FOR i IN 1..coalesce(cardinality(accounts), 0) LOOP
        pos := array_position(debited, accounts[i]);
        IF pos IS NULL THEN
            reasons[account_charges[i]] := 'insufficient balance';
        ELSE
            debits[account_charges[i]] := accounts[i];
            balances[account_charges[i]] := debited_balances[pos];
        END IF;
    END LOOP;

    -- The subsidy's and the suppliers' shards, once each for the batch's total.
    IF subsidy_total > 0 THEN
        subsidy_shard := adal_ledger_move_shared(p_tenant, 'subsidy', '', -subsidy_total, p_shard, p_shards);
    END IF;
    FOR supplier IN
        SELECT s.bin, sum(p_amounts[s.i])::bigint AS total
        FROM unnest(suppliers) WITH ORDINALITY AS s (bin, i)
        WHERE s.bin IS NOT NULL AND reasons[s.i] IS NULL
        GROUP BY s.bin ORDER BY s.bin
    LOOP
        shard := adal_ledger_move_shared(p_tenant, 'supplier', supplier.bin, supplier.total, p_shard, p_shards);
        FOR i IN 1..size LOOP
            IF suppliers[i] = supplier.bin AND reasons[i] IS NULL THEN
                credits[i] := shard;
                IF kinds[i] = 'subsidised_charge' THEN debits[i] := subsidy_shard; END IF;
            END IF;
        END LOOP;
    END LOOP;

    INSERT INTO transfers (tenant_id, id, kind, status, debit_account, credit_account, amount, pupil_id,
        school_id, items, reason, refers_to, request_hash, created_at, local_day)
    SELECT p_tenant, p_transfers[i], kinds[i], CASE WHEN reasons[i] IS NULL THEN 'posted' ELSE 'declined' END,
        debits[i], credits[i], p_amounts[i], pupils[i], schools[i], p_items[i]::jsonb, reasons[i], NULL,
        p_request_hashes[i], times[i], days[i]
    FROM generate_subscripts(outcomes, 1) AS i
    WHERE outcomes[i] = 'made'
    ORDER BY i;

    -- The guardians' alert settings of the pupils whose own money paid.
    FOR c IN
        SELECT g.pupil_id, jsonb_agg(jsonb_build_array(g.user_id, g.low_balance_alert, g.auto_threshold,
            g.auto_amount)) AS list
        FROM guardians g
        WHERE g.tenant_id = p_tenant AND g.pupil_id = ANY (pupils)
        GROUP BY g.pupil_id
    LOOP
        pos := array_position(pupils, c.pupil_id);
        settings[pos] := c.list;
    END LOOP;
    FOR i IN 1..size LOOP
        IF balances[i] IS NOT NULL THEN
            settings[i] := coalesce(settings[i], '[]'::jsonb);
        ELSE
            settings[i] := NULL;
        END IF;
    END LOOP;

    RETURN QUERY
    SELECT i::integer, outcomes[i], reasons[i], balances[i], pupils[i], names[i], settings[i], kinds[i],
        CASE WHEN outcomes[i] = 'made' THEN CASE WHEN reasons[i] IS NULL THEN 'posted' ELSE 'declined' END END,
        times[i], school_names[i],
        CASE WHEN outcomes[i] = 'made' THEN p_items[i]::jsonb::text END, coalesce(balances[i], read_balances[i])
    FROM generate_subscripts(outcomes, 1) AS i ORDER BY i;
END;
$$;
