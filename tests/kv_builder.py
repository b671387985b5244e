"""Hand-written Azure Key Vault AuditEvent records for the Key Vault tests."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path

RMS = "00000012-0000-0000-c000-000000000000"
VAULT = "CONTOSO-BYOK"
RESOURCE = "/SUBSCRIPTIONS/0000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/" + VAULT
HOUR_FOLDER = f"resourceId={RESOURCE}" + "/y={y}/m={m:02d}/d={d:02d}/h={h:02d}/m=00"


def record(
    ts: datetime,
    op: str = "KeyDecrypt",
    *,
    appid: str = RMS,
    oid: str = "oid-rms",
    upn: str | None = None,
    ip: str = "40.1.2.3",
    status: int = 200,
    key: str = "tenantkey",
    version: str = "v1",
    extra: dict[str, object] | None = None,
) -> dict[str, object]:
    claim: dict[str, object] = {
        "appid": appid,
        "http://schemas.microsoft.com/identity/claims/objectidentifier": oid,
    }
    if upn is not None:
        claim["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"] = upn
    signature = {200: "OK", 401: "Unauthorized", 403: "Forbidden"}.get(status, "Error")
    rec: dict[str, object] = {
        "time": ts.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z",
        "resourceId": RESOURCE,
        "operationName": op,
        "operationVersion": "7.4",
        "category": "AuditEvent",
        "resultType": "Success" if status == 200 else signature,
        "resultSignature": signature,
        "resultDescription": "",
        "durationMs": "23",
        "callerIpAddress": ip,
        "correlationId": "",
        "identity": {"claim": claim},
        "properties": {
            "id": f"https://contoso-byok.vault.azure.net/keys/{key}/{version}",
            "clientInfo": "test",
            "httpStatusCode": status,
            "isAccessPolicyMatch": True,
            "algorithm": "RSA-OAEP",
        },
    }
    rec.update(extra or {})
    return rec


def jsonl(records: list[dict[str, object]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def write_blob(
    root: Path, hour: datetime, text: str, *, gz: bool = False, name: str = "PT1H.json"
) -> Path:
    """A blob where the diagnostic setting puts it: .../y=/m=/d=/h=/m=00/PT1H.json."""
    folder = root / HOUR_FOLDER.format(y=hour.year, m=hour.month, d=hour.day, h=hour.hour)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name + (".gz" if gz else ""))
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path
