-- id: key-log-mismatch
-- title: RMS and Key Vault disagree about an hour's tenant-key calls
-- severity: medium
-- description: A settled UTC hour (view keyvault_reconciliation: both logs cover it and have had keyvault.arrival_minutes to arrive) in which, for one pair of operations (KeyVaultDecryptRequest-KeyDecrypt, KeyVaultSignDigest-KeySign, KeyVaultGetKeyInfoRequest-KeyGet), one log holds at least min_calls calls and the other fewer than max_share of as many: RMS used the key and Key Vault shows none or far fewer calls by the RMS identities (its log lost, the diagnostic setting off), or Key Vault shows calls by RMS that the RMS log does not (RMS's log missing). Consecutive such hours are one finding (entity tenant-key). Evidence is the Key Vault records of those hours (keyvault_events.record_id) and the RMS key calls (requests.row_id), at most evidence_limit of each. Judged over all settled hours whenever an ingest stored something since the last run.
-- lookback_days: 0
-- lookahead_days: 0
-- judge: on-arrival
-- needs: keyvault_events
-- scenario: key-log-mismatch
-- param: min_calls INTEGER = 5 | the busier log needs at least this many calls in the hour
-- param: max_share DOUBLE = 0.5 | the other log below this share of the busier one is a mismatch
-- param: evidence_limit INTEGER = 200 | evidence records kept of each log per finding
-- param: rms_appids LIST | from the settings: the appids whose key use is RMS's
-- param: tenant_keys LIST | from the settings (read by the view; bound so a change re-judges)
-- param: arrival_minutes INTEGER | from the settings (read by the view; bound so a change re-judges)
-- columns: entity, first_ts, last_ts, summary, evidence_row_ids, window_start
WITH bad AS (
    SELECT window_start, window_end, operation, rms_request_type, rms_calls, kv_calls
    FROM keyvault_reconciliation
    WHERE grain = 'hour' AND settled
      -- the view reads these two settings from the warehouse; named here so that detect
      -- binds them and a change of either re-judges the rule
      AND len($tenant_keys) >= 0 AND $arrival_minutes >= 0
      AND greatest(rms_calls, kv_calls) >= $min_calls
      AND least(rms_calls, kv_calls) < $max_share * greatest(rms_calls, kv_calls)
),
hours AS (
    SELECT window_start, any_value(window_end) AS window_end,
           sum(rms_calls) AS rms_calls, sum(kv_calls) AS kv_calls,
           string_agg(format('{} {} vs {} {}', rms_calls, rms_request_type, kv_calls, operation),
                      ', ' ORDER BY operation) AS detail
    FROM bad GROUP BY window_start
),
marked AS (
    SELECT *, coalesce(window_start <> lag(window_end) OVER (ORDER BY window_start), true)
              AS starts_episode
    FROM hours
),
episodes AS (
    SELECT *, sum(starts_episode::INTEGER) OVER (ORDER BY window_start) AS episode FROM marked
),
spans AS (
    SELECT episode, min(window_start) AS first_hour, max(window_end) AS end_hour,
           count(*) AS hours, sum(rms_calls) AS rms_calls, sum(kv_calls) AS kv_calls,
           string_agg(strftime(window_start, '%H:00 ') || detail, '; ' ORDER BY window_start)
               AS detail
    FROM episodes GROUP BY episode
),
kv_evidence AS (
    SELECT s.episode, list(k.record_id ORDER BY k.ts, k.record_id)[1:$evidence_limit] AS ids
    FROM spans s
    JOIN keyvault_events k ON k.ts >= s.first_hour AND k.ts < s.end_hour
    JOIN bad b ON k.ts >= b.window_start AND k.ts < b.window_end AND k.operation = b.operation
    WHERE list_contains(list_transform($rms_appids, lambda a: lower(a)),
                        lower(coalesce(k.appid, '')))
    GROUP BY s.episode
),
rms_evidence AS (
    SELECT s.episode, list(r.row_id ORDER BY r.ts, r.row_id)[1:$evidence_limit] AS ids
    FROM spans s
    JOIN requests r ON r.ts >= s.first_hour AND r.ts < s.end_hour
    JOIN bad b ON r.ts >= b.window_start AND r.ts < b.window_end
              AND r.request_type = b.rms_request_type
    GROUP BY s.episode
)
SELECT
    'tenant-key' AS entity,
    s.first_hour AS first_ts,
    s.end_hour - INTERVAL 1 MICROSECOND AS last_ts,
    format('{} hour(s) from {} UTC where the logs disagree: RMS {} key call(s), Key Vault {} by RMS ({})',
           s.hours, strftime(s.first_hour, '%Y-%m-%d %H:00'), s.rms_calls, s.kv_calls, s.detail) AS summary,
    list_concat(coalesce(k.ids, []), coalesce(r.ids, [])) AS evidence_row_ids,
    s.first_hour AS window_start
FROM spans s
LEFT JOIN kv_evidence k USING (episode)
LEFT JOIN rms_evidence r USING (episode)
