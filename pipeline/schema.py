"""What an RMS usage log looks like: field lists, request types, warehouse columns.

Everything the parser, the generator and the warehouse agree on lives here, so a
new log variant or request type is a one-place change.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:  # loaded on first use: the command line must start without them
    import polars as pl
    import pyarrow as pa

    REQUESTS_ARROW_SCHEMA: pa.Schema
    REQUESTS_POLARS_SCHEMA: pl.Schema

# ---------------------------------------------------------------------------
# The three `#Fields` variants. The schema is chosen from `#Fields`, never from
# `#Version`: the admin columns arrived in May 2016 with `#Version` still 1.1.
# ---------------------------------------------------------------------------

FIELDS_1_0: Final = (
    "date",
    "time",
    "row-id",
    "request-type",
    "user-id",
    "result",
    "correlation-id",
    "content-id",
    "c-info",
    "c-ip",
)
FIELDS_1_1: Final = (
    "date",
    "time",
    "row-id",
    "request-type",
    "user-id",
    "result",
    "correlation-id",
    "content-id",
    "owner-email",
    "issuer",
    "template-id",
    "file-name",
    "date-published",
    "c-info",
    "c-ip",
)
FIELDS_1_1_ADMIN: Final = (*FIELDS_1_1, "admin-action", "acting-as-user")

LOG_VERSIONS: Final[dict[str, tuple[str, ...]]] = {
    "1.0": FIELDS_1_0,
    "1.1": FIELDS_1_1,
    "1.1-admin": FIELDS_1_1_ADMIN,
}
"""Generator/CLI name of each variant -> its ordered `#Fields`."""

#: The `#Version` header each variant is written with.
VERSION_HEADER: Final = {"1.0": "1.0", "1.1": "1.1", "1.1-admin": "1.1"}

#: Spellings seen in the wild that mean a canonical field name.
FIELD_ALIASES: Final = {"adminaction": "admin-action", "actingasuser": "acting-as-user"}


def canonical_field(name: str) -> str:
    """The canonical W3C name of a `#Fields` entry (`AdminAction` -> `admin-action`)."""
    key = name.strip().lower()
    return FIELD_ALIASES.get(key, key)


def column_name(field: str) -> str:
    """The warehouse column of a W3C field: snake_case (`row-id` -> `row_id`)."""
    return canonical_field(field).replace("-", "_")


# ---------------------------------------------------------------------------
# Request types
# ---------------------------------------------------------------------------


class Category(StrEnum):
    LICENSING = "licensing"
    MOBILE = "mobile"
    TENANT_KEY = "tenant-key"
    KEY_VAULT_SETUP = "key-vault-setup"
    DOCUMENT_TRACKING = "document-tracking"
    ADMIN = "admin"
    CONNECTOR = "connector"


class Topology(StrEnum):
    MICROSOFT_MANAGED = "microsoft-managed"
    BYOK_LEGACY = "byok-legacy"
    BYOK_KEYVAULT = "byok-keyvault"


@dataclass(frozen=True, slots=True)
class RequestType:
    name: str
    category: Category
    description: str
    key_topology: Topology | None = None  # set => a use of the tenant key
    canonical: str | None = None  # set => a legacy name for `canonical`
    causes_key_use: bool = False  # a successful one makes the service use the tenant key
    opens_document: bool = False  # a licence to open a protected document (reads, opens)

    @property
    def is_key_operation(self) -> bool:
        return self.key_topology is not None


def _rt(name: str, category: Category, description: str, **kw: object) -> RequestType:
    return RequestType(name, category, description, **kw)  # type: ignore[arg-type]


_L, _M, _K = Category.LICENSING, Category.MOBILE, Category.TENANT_KEY
_D, _A = Category.DOCUMENT_TRACKING, Category.ADMIN
_LEG, _KV = Topology.BYOK_LEGACY, Topology.BYOK_KEYVAULT

REQUEST_TYPES: Final[tuple[RequestType, ...]] = (
    _rt(
        "AcquireLicense",
        _L,
        "A Windows client gets a use licence.",
        causes_key_use=True,
        opens_document=True,
    ),
    _rt("AcquirePreLicense", _L, "A licence obtained in advance for a user.", opens_document=True),
    _rt("Certify", _L, "The client gets a user certificate.", causes_key_use=True),
    _rt(
        "GetClientLicensorCert",
        _L,
        "The client gets a publishing certificate.",
        causes_key_use=True,
    ),
    _rt("ServerCertify", _L, "A server such as SharePoint certifies itself."),
    _rt("FindServiceLocationsForUser", _L, "Service URL lookup."),
    _rt("AcquireTemplates", _L, "The client gets the templates."),
    _rt("AcquireTemplateInformation", _L, "The client gets the template IDs."),
    _rt(
        "FECreateEndUserLicenseV1",
        _M,
        "Mobile equivalent of AcquireLicense.",
        causes_key_use=True,
        opens_document=True,
    ),
    _rt(
        "FECreatePublishingLicenseV1",
        _M,
        "Mobile Certify + GetClientLicensorCert.",
        causes_key_use=True,
    ),
    _rt("FEGetAllTemplates", _M, "Mobile: gets the templates."),
    _rt("BEGetAllTemplatesV1", _M, "Mobile back end: gets the templates."),
    _rt(
        "BECreateEndUserLicenseV1",
        _M,
        "Mobile back end: creates an end-user licence.",
        opens_document=True,
    ),
    _rt("KMSPDecrypt", _K, "Legacy BYOK: decrypt with the tenant key.", key_topology=_LEG),
    _rt("KMSPSignDigest", _K, "Legacy BYOK: sign with the tenant key.", key_topology=_LEG),
    _rt(
        "Decrypt",
        _K,
        "Name of KMSPDecrypt before July 2016.",
        key_topology=_LEG,
        canonical="KMSPDecrypt",
    ),
    _rt(
        "SignDigest",
        _K,
        "Name of KMSPSignDigest before July 2016.",
        key_topology=_LEG,
        canonical="KMSPSignDigest",
    ),
    _rt("KeyVaultDecryptRequest", _K, "Key Vault BYOK: decrypt.", key_topology=_KV),
    _rt("KeyVaultSignDigest", _K, "Key Vault BYOK: sign a digest.", key_topology=_KV),
    _rt("KeyVaultEncryptRequest", _K, "Key Vault BYOK: encrypt.", key_topology=_KV),
    _rt("KeyVaultSignRequest", _K, "Key Vault BYOK: sign.", key_topology=_KV),
    _rt("KeyVaultVerifySignatureRequest", _K, "Key Vault BYOK: verify.", key_topology=_KV),
    _rt("KeyVaultImportKeyRequest", _K, "Key Vault BYOK: import a key.", key_topology=_KV),
    _rt(
        "KeyVaultGetKeyInfoRequest",
        Category.KEY_VAULT_SETUP,
        "Key Vault BYOK: checks the key at setup (no cryptographic use).",
    ),
    _rt("GetAllDocs", _D, "Document tracking: list documents (admin mode: others')."),
    _rt("GetSingle", _D, "Document tracking: one document."),
    _rt("GetRecipients", _D, "Document tracking: a document's recipients."),
    _rt("LoadEventsForMap", _D, "Document tracking: map view of a document."),
    _rt("LoadEventsForSummary", _D, "Document tracking: summary view of a document."),
    _rt("LoadEventsForTimeline", _D, "Document tracking: timeline of a document."),
    _rt("AllDocsCsv", _D, "Document tracking: export all documents."),
    _rt("DocumentEventsCsv", _D, "Document tracking: export a document's events."),
    _rt("RevokeAccess", _D, "Document tracking: revoke a document."),
    _rt("UpdateNotificationSettings", _D, "Document tracking: notification settings."),
    _rt("SearchUsers", _D, "Document tracking: search users."),
    _rt("AddTemplate", _A, "Admin: add a template."),
    _rt("UpdateTemplate", _A, "Admin: update a template."),
    _rt("DeleteTemplateById", _A, "Admin: delete a template."),
    _rt("GetAllTemplates", _A, "Admin: list templates."),
    _rt("GetTemplateById", _A, "Admin: get a template."),
    _rt("ExportTemplateById", _A, "Admin: export a template."),
    _rt("ImportTemplate", _A, "Admin: import a template."),
    _rt("GetTenantFunctionalState", _A, "Admin: is the service activated?"),
    _rt("GetConfiguration", _A, "Admin: configuration read (PowerShell)."),
    _rt("SetUsageLogFeatureState", _A, "Admin (legacy): usage logging on/off."),
    _rt("SetUsageLogStorageAccount", _A, "Admin (legacy): usage log storage account."),
    _rt("GetConnectorAuthorizations", Category.CONNECTOR, "RMS connector authorisations."),
)

REQUEST_TYPES_BY_NAME: Final = {rt.name: rt for rt in REQUEST_TYPES}
KEY_OPERATIONS: Final = tuple(rt.name for rt in REQUEST_TYPES if rt.is_key_operation)
KEY_CAUSING_REQUESTS: Final = tuple(rt.name for rt in REQUEST_TYPES if rt.causes_key_use)


def request_type(name: str) -> RequestType | None:
    """The catalogue entry for a request-type name, or None for one we do not know."""
    return REQUEST_TYPES_BY_NAME.get(name)


def canonical_request_type(name: str) -> str:
    """The current name of a request type (`Decrypt` -> `KMSPDecrypt`); unknown names pass."""
    rt = REQUEST_TYPES_BY_NAME.get(name)
    return rt.canonical or rt.name if rt else name


# ---------------------------------------------------------------------------
# Warehouse: the `requests` table
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    duckdb_type: str
    description: str

    @property
    def arrow_type(self) -> pa.DataType:
        import pyarrow as pa

        return {
            "TIMESTAMP": pa.timestamp("us"),
            "VARCHAR": pa.string(),
            "BOOLEAN": pa.bool_(),
            "BIGINT": pa.int64(),
        }[self.duckdb_type]


REQUEST_COLUMNS: Final[tuple[Column, ...]] = (
    Column("ts", "TIMESTAMP", "UTC time of the request (date + time)."),
    Column("row_id", "VARCHAR", "Unique id of the log record (row-id)."),
    Column("request_type", "VARCHAR", "What was asked (see request types)."),
    Column("user_id", "VARCHAR", "Who asked; NULL for tenant-key calls."),
    Column("result", "VARCHAR", "'Success' or the error."),
    Column("correlation_id", "VARCHAR", "Ties a key call to its request."),
    Column("content_id", "VARCHAR", "{GUID} of the protected document."),
    Column("owner_email", "VARCHAR", "Owner of the document."),
    Column("issuer", "VARCHAR", "Issuer of the document's licence."),
    Column("template_id", "VARCHAR", "{GUID} of the protection template."),
    Column("file_name", "VARCHAR", "File name (tracked documents only)."),
    Column("date_published", "TIMESTAMP", "When the document was protected."),
    Column("c_info", "VARCHAR", "Client platform and application."),
    Column("c_ip", "VARCHAR", "Client IP address."),
    Column("admin_action", "BOOLEAN", "TRUE when an admin acted in admin mode."),
    Column("acting_as_user", "VARCHAR", "The user an admin acted for."),
    Column("source_file", "VARCHAR", "Path of the file the record came from."),
    Column("source_line", "BIGINT", "1-based line number in that file."),
)

REQUEST_COLUMN_NAMES: Final = tuple(c.name for c in REQUEST_COLUMNS)


@cache
def _arrow_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema([(c.name, c.arrow_type) for c in REQUEST_COLUMNS])


@cache
def _polars_schema() -> pl.Schema:
    # Not through Arrow: pyarrow's `empty_table()` imports all of pandas (0.9 s).
    import polars as pl

    dtypes: dict[str, pl.DataType] = {
        "TIMESTAMP": pl.Datetime("us"),
        "VARCHAR": pl.String(),
        "BOOLEAN": pl.Boolean(),
        "BIGINT": pl.Int64(),
    }
    return pl.Schema([(c.name, dtypes[c.duckdb_type]) for c in REQUEST_COLUMNS])


def __getattr__(name: str) -> Any:
    """`REQUESTS_ARROW_SCHEMA` and `REQUESTS_POLARS_SCHEMA`, built on first use."""
    if name == "REQUESTS_ARROW_SCHEMA":
        return _arrow_schema()
    if name == "REQUESTS_POLARS_SCHEMA":
        return _polars_schema()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
