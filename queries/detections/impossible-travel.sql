-- id: impossible-travel
-- title: One account on two distant networks within a short time
-- severity: high
-- lookback_days: baseline_days
-- lookahead_days: baseline_days
-- description: Consecutive requests of one user from two different networks (the /16 of an IPv4 address, the /48 of an IPv6 one) less than window_minutes apart, where at least one of the two networks is new for that user: not seen in the baseline_days before that day. A user's usual networks (office, home, phone) therefore do not fire; a stolen session used from elsewhere does. A user with fewer than min_history_days earlier active days in the baseline (the first days of a collection) is judged on the days after instead: a network that does not recur in the next baseline_days is new, so such a finding may go away when the network turns out to be usual. Private and link-local addresses carry no location and are ignored; so are service accounts from the settings. Hops of one user less than window_minutes apart form one finding.
-- param: window_minutes INTEGER = 60 | the most minutes between requests from the two networks
-- param: baseline_days INTEGER = 14 | days of the user's own history that make a network known
-- param: min_history_days INTEGER = 1 | earlier active days the user needs before networks are judged on the past alone
-- param: service_accounts LIST | from the settings: accounts this rule ignores
-- columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start
WITH service AS MATERIALIZED (
    SELECT user_id FROM (SELECT DISTINCT user_id FROM requests WHERE user_id IS NOT NULL)
    WHERE coalesce(list_bool_or(list_transform($service_accounts, lambda p: user_id ILIKE p)), false)
),
networks AS MATERIALIZED (
    -- The network of each distinct address (a few thousand), not of every request.
    SELECT c_ip,
           CASE WHEN regexp_matches(c_ip, '^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$')
                     AND NOT regexp_matches(c_ip,
                         '^(10\.|127\.|169\.254\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)')
                THEN regexp_extract(c_ip, '^(\d+\.\d+)\.', 1) || '.0.0/16'
                WHEN c_ip LIKE '%:%' AND NOT regexp_matches(lower(c_ip), '^(f[cd]|fe[89ab]|::1$)')
                THEN array_to_string(list_slice(string_split(lower(c_ip), ':'), 1, 3), ':')
                     || '::/48'
           END AS network
    FROM (SELECT DISTINCT c_ip FROM requests WHERE c_ip IS NOT NULL)
),
req AS (
    SELECT r.user_id, r.ts, r.row_id, r.c_ip, n.network, r.ts::DATE AS day
    FROM requests r
    JOIN networks n ON n.c_ip = r.c_ip AND n.network IS NOT NULL
    WHERE r.user_id IS NOT NULL
      AND r.user_id NOT IN (SELECT user_id FROM service)
),
user_days AS (
    SELECT user_id, day,
           count(*) OVER (PARTITION BY user_id ORDER BY day
                          RANGE BETWEEN to_days($baseline_days) PRECEDING
                                    AND to_days(1) PRECEDING) AS history_days
    FROM (SELECT DISTINCT user_id, day FROM req)
),
novelty AS (
    -- New: not used by this user in the baseline_days before. A user without that much
    -- history (the first days of a collection) is judged on the days after instead: a
    -- network that does not recur in the next baseline_days is new too.
    SELECT n.user_id, n.network, n.day,
           NOT coalesce(lag(n.day) OVER w >= n.day - $baseline_days, false)
           AND (u.history_days >= $min_history_days
                OR NOT coalesce(lead(n.day) OVER w <= n.day + $baseline_days, false)) AS novel
    FROM (SELECT DISTINCT user_id, network, day FROM req) n
    JOIN user_days u USING (user_id, day)
    WINDOW w AS (PARTITION BY n.user_id, n.network ORDER BY n.day)
),
seq AS (
    SELECT r.user_id, r.ts, r.row_id, r.c_ip, r.network, v.novel,
           lag(r.ts) OVER w AS prev_ts, lag(r.row_id) OVER w AS prev_row_id,
           lag(r.network) OVER w AS prev_network, lag(v.novel) OVER w AS prev_novel
    FROM req r
    JOIN novelty v USING (user_id, network, day)
    WINDOW w AS (PARTITION BY r.user_id ORDER BY r.ts, r.row_id)
),
hops AS (
    SELECT * FROM seq
    WHERE network <> prev_network AND ts - prev_ts <= to_minutes($window_minutes)
      AND (novel OR prev_novel)
),
hop_rows AS (
    SELECT user_id, ts, row_id FROM hops
    UNION
    SELECT user_id, prev_ts, prev_row_id FROM hops
),
marked AS (
    SELECT *, coalesce(ts - lag(ts) OVER w > to_minutes($window_minutes), true) AS starts_episode
    FROM hop_rows
    WINDOW w AS (PARTITION BY user_id ORDER BY ts, row_id)
),
episodes AS (
    SELECT user_id, episode, min(ts) AS first_ts, max(ts) AS last_ts
    FROM (SELECT *, sum(starts_episode::INTEGER) OVER (PARTITION BY user_id ORDER BY ts, row_id)
                        AS episode
          FROM marked)
    GROUP BY user_id, episode
),
evidence AS (
    -- The hops themselves, and every request from a new network during the episode.
    SELECT e.user_id, e.episode, e.first_ts, e.last_ts, s.ts, s.row_id, s.c_ip, s.network, s.novel
    FROM episodes e
    JOIN seq s ON s.user_id = e.user_id AND s.ts BETWEEN e.first_ts AND e.last_ts
    WHERE s.novel OR s.row_id IN (SELECT row_id FROM hop_rows)
)
SELECT
    user_id AS entity,
    first_ts,
    last_ts,
    format('{} used {} networks within {} minutes ({}); new for this user: {}',
           user_id, count(DISTINCT network), ceil(epoch(last_ts - first_ts) / 60)::BIGINT,
           string_agg(DISTINCT c_ip, ', ' ORDER BY c_ip),
           string_agg(DISTINCT c_ip, ', ' ORDER BY c_ip) FILTER (novel)) AS summary,
    list(row_id ORDER BY ts, row_id) AS evidence_row_ids,
    first_ts AS window_start
FROM evidence
GROUP BY user_id, episode, first_ts, last_ts
