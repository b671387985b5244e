-- name: client_info
-- description: One row per distinct c_info string, parsed into its parts (MSIPC version, application, OS). Join on c_info.
-- columns: c_info, msipc_version, app_name, app_version, app_arch, os_name, os_version, os_arch
CREATE OR REPLACE VIEW client_info AS
SELECT
    c_info,
    nullif(regexp_extract(c_info, '(?:^|;)version=([^;]*)', 1), '') AS msipc_version,
    nullif(regexp_extract(c_info, '(?:^|;)AppName=([^;]*)', 1), '') AS app_name,
    nullif(regexp_extract(c_info, '(?:^|;)AppVersion=([^;]*)', 1), '') AS app_version,
    nullif(regexp_extract(c_info, '(?:^|;)AppArch=([^;]*)', 1), '') AS app_arch,
    nullif(regexp_extract(c_info, '(?:^|;)OSName=([^;]*)', 1), '') AS os_name,
    nullif(regexp_extract(c_info, '(?:^|;)OSVersion=([^;]*)', 1), '') AS os_version,
    nullif(regexp_extract(c_info, '(?:^|;)OSArch=([^;]*)', 1), '') AS os_arch
FROM (SELECT DISTINCT c_info FROM requests WHERE c_info IS NOT NULL);
