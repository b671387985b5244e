-- name: client_info
-- description: One row per distinct c_info string, parsed into its parts (MSIPC version, application, OS). Join on c_info.
-- columns: c_info, msipc_version, app_name, app_version, app_arch, os_name, os_version, os_arch
CREATE OR REPLACE VIEW client_info AS
SELECT
    c_info,
    c_info_field(c_info, 'version') AS msipc_version,
    c_info_field(c_info, 'AppName') AS app_name,
    c_info_field(c_info, 'AppVersion') AS app_version,
    c_info_field(c_info, 'AppArch') AS app_arch,
    c_info_field(c_info, 'OSName') AS os_name,
    c_info_field(c_info, 'OSVersion') AS os_version,
    c_info_field(c_info, 'OSArch') AS os_arch
FROM (SELECT DISTINCT c_info FROM requests WHERE c_info IS NOT NULL);
