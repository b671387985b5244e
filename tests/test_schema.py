from __future__ import annotations

import pytest

from pipeline import schema


def test_the_three_field_lists_have_10_15_and_17_fields() -> None:
    assert [len(f) for f in schema.LOG_VERSIONS.values()] == [10, 15, 17]
    assert schema.FIELDS_1_1[:8] == (*schema.FIELDS_1_0[:8],)
    assert schema.FIELDS_1_1_ADMIN[-2:] == ("admin-action", "acting-as-user")


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [("AdminAction", "admin-action"), ("ActingAsUser", "acting-as-user"), ("row-id", "row-id")],
)
def test_field_aliases_map_to_canonical_names(spelling: str, canonical: str) -> None:
    assert schema.canonical_field(spelling) == canonical


def test_every_field_has_a_requests_column() -> None:
    columns = set(schema.REQUEST_COLUMN_NAMES)
    for field in schema.FIELDS_1_1_ADMIN:
        if field not in ("date", "time"):
            assert schema.column_name(field) in columns
    assert {"ts", "source_file", "source_line"} <= columns


def test_legacy_key_operation_names_map_to_current_ones() -> None:
    assert schema.canonical_request_type("Decrypt") == "KMSPDecrypt"
    assert schema.canonical_request_type("SignDigest") == "KMSPSignDigest"
    assert schema.canonical_request_type("AcquireLicense") == "AcquireLicense"
    assert schema.canonical_request_type("SomethingNew") == "SomethingNew"


def test_key_operations_carry_their_topology() -> None:
    topologies = {schema.REQUEST_TYPES_BY_NAME[n].key_topology for n in schema.KEY_OPERATIONS}
    assert topologies == {schema.Topology.BYOK_LEGACY, schema.Topology.BYOK_KEYVAULT}
    assert schema.request_type("KMSPDecrypt").key_topology == schema.Topology.BYOK_LEGACY  # type: ignore[union-attr]
    assert schema.request_type("KeyVaultSignDigest").key_topology == schema.Topology.BYOK_KEYVAULT  # type: ignore[union-attr]


def test_key_vault_setup_check_is_not_a_use_of_the_key() -> None:
    assert "KeyVaultGetKeyInfoRequest" not in schema.KEY_OPERATIONS


def test_protecting_and_consuming_requests_cause_key_use() -> None:
    assert set(schema.KEY_CAUSING_REQUESTS) == {
        "AcquireLicense",
        "Certify",
        "GetClientLicensorCert",
        "FECreateEndUserLicenseV1",
        "FECreatePublishingLicenseV1",
    }


def test_request_type_names_are_unique_and_canonical_names_exist() -> None:
    names = [rt.name for rt in schema.REQUEST_TYPES]
    assert len(names) == len(set(names))
    for rt in schema.REQUEST_TYPES:
        if rt.canonical:
            assert rt.canonical in schema.REQUEST_TYPES_BY_NAME


def test_warehouse_requests_table_matches_the_schema(warehouse) -> None:  # type: ignore[no-untyped-def]
    described = warehouse.sql("DESCRIBE requests").fetchall()
    assert [(r[0], r[1]) for r in described] == [
        *((c.name, c.duckdb_type) for c in schema.REQUEST_COLUMNS),
        ("run_id", "BIGINT"),  # lineage the warehouse adds: the ingest run that stored it
    ]


def test_the_catalogue_is_loaded_into_the_warehouse(warehouse) -> None:  # type: ignore[no-untyped-def]
    rows = warehouse.sql(
        "SELECT canonical, key_topology FROM request_types WHERE name = 'Decrypt'"
    ).fetchall()
    assert rows == [("KMSPDecrypt", "byok-legacy")]
