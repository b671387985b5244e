-- name: c_info_field
-- description: c_info_field(c_info, name): one `name=value` part of a c_info string (version, AppName, AppVersion, AppArch, OSName, OSVersion, OSArch), NULL when absent or empty.
CREATE OR REPLACE MACRO c_info_field(c_info, name) AS
    nullif(regexp_extract(c_info, '(?:^|;)' || name || '=([^;]*)', 1), '')
