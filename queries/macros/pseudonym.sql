-- name: pseudonym
-- description: value, or with pseudonymize its keyed pseudonym 'anon-' + 16 hex digits of HMAC-SHA256(key, value); key_inner and key_outer are the key's padded halves, bound by the report (pipeline/report/pseudonym.py), never stored. NULL stays NULL.
CREATE OR REPLACE MACRO pseudonym(value, pseudonymize, key_inner, key_outer) AS
    CASE WHEN pseudonymize AND value IS NOT NULL
         THEN 'anon-' || left(sha256(CAST(key_outer AS BLOB)
                  || unhex(sha256(CAST(key_inner AS BLOB) || encode(value)))), 16)
         ELSE value END
