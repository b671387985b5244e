"""A simulated tenant: its users, their habits, documents and templates (NumPy, seeded)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from pipeline.generate.ids import random_guids

_FIRST = ("kim", "lee", "ana", "omar", "ivo", "mia", "raj", "zoë", "jörg", "li", "sam", "noa")
_LAST = ("berg", "ng", "silva", "haddad", "novak", "ito", "patel", "müller", "kowalski", "diaz")
_WORDS = (
    "Budget",
    "Roadmap",
    "Board-minutes",
    "Salaries",
    "Merger",
    "Offer-letter",
    "Forecast",
    "Contract",
    "Pricing",
    "Audit",
    "Strategy",
    "Projet-Été",
    "Bilanz",
    "見積書",
    "Résumé",
)
_EXTS = (".docx", ".xlsx", ".pptx", ".pdf", ".msg", ".ptxt")

#: c-info strings by client application (Office desktop, mobile, viewer, SharePoint).
CLIENTS = (
    "MSIPC;version=1.0.4.2;AppName=WINWORD.EXE;AppVersion=16.0.17928.20114;AppArch=x64;"
    "OSName=Windows;OSVersion=10.0.19045;OSArch=amd64",
    "MSIPC;version=1.0.4.2;AppName=EXCEL.EXE;AppVersion=16.0.17928.20114;AppArch=x64;"
    "OSName=Windows;OSVersion=10.0.22631;OSArch=amd64",
    "MSIPC;version=1.0.4.2;AppName=OUTLOOK.EXE;AppVersion=16.0.17928.20114;AppArch=x86;"
    "OSName=Windows;OSVersion=10.0.22631;OSArch=amd64",
    "MSIPC;version=1.0.4.2;AppName=POWERPNT.EXE;AppVersion=16.0.17928.20114;AppArch=x64;"
    "OSName=Windows;OSVersion=10.0.19045;OSArch=amd64",
    "MSIPC;version=4.2.0;AppName=Microsoft Word;AppVersion=16.89;AppArch=arm64;"
    "OSName=MacOS;OSVersion=14.5;OSArch=arm64",
    "MSIPC;version=1.3.0;AppName=com.microsoft.Office.Outlook;AppVersion=4.2430.0;"
    "AppArch=arm64;OSName=iOS;OSVersion=17.5;OSArch=arm64",
    "MSIPC;version=1.3.0;AppName=com.microsoft.office.outlook;AppVersion=4.2428.1;"
    "AppArch=arm64;OSName=Android;OSVersion=14;OSArch=arm64",
    "MSIPC;version=2.1.0;AppName=AzInfoProtection Viewer;AppVersion=2.18.26.0;AppArch=x64;"
    "OSName=Windows;OSVersion=10.0.19045;OSArch=amd64",
)


@dataclass(frozen=True)
class Tenant:
    domain: str
    tenant_guid: str
    region: str
    users: pl.DataFrame  # user_idx, user_id, home_ip, c_info, activity
    documents: pl.DataFrame  # doc_idx, content_id, owner_email, template_id, file_name, ...
    templates: pl.Series
    key_service_ip: str


def _ips(rng: np.random.Generator, n: int, prefix: str) -> list[str]:
    hosts = rng.integers(2, 254, size=n)
    return [f"{prefix}.{h}" for h in hosts.tolist()]


def build_tenant(rng: np.random.Generator, n_users: int, region: str = "na") -> Tenant:
    """A tenant of `n_users` with homes, devices, documents and templates."""
    domain = "contoso.example"
    first = rng.choice(len(_FIRST), n_users)
    last = rng.choice(len(_LAST), n_users)
    names = [
        f"{_FIRST[f]}.{_LAST[s]}{i}@{domain}"
        for i, (f, s) in enumerate(zip(first.tolist(), last.tolist(), strict=True))
    ]
    offices = ("198.51.100", "203.0.113", "192.0.2")
    office = rng.choice(len(offices), n_users)
    home_ips = [
        f"{offices[o]}.{h}"
        for o, h in zip(office.tolist(), rng.integers(2, 254, n_users).tolist(), strict=True)
    ]
    users = pl.DataFrame(
        {
            "user_idx": np.arange(n_users, dtype=np.int64),
            "user_id": names,
            "home_ip": home_ips,
            "c_info": [CLIENTS[i] for i in rng.choice(len(CLIENTS), n_users, p=_client_mix())],
            "activity": rng.gamma(2.0, 0.5, n_users),  # relative daily activity
        }
    )
    templates = random_guids(rng, 6, braces=True)
    n_docs = max(20, n_users * 8)
    owner = rng.integers(0, n_users, n_docs)
    words = rng.choice(len(_WORDS), n_docs)
    exts = rng.choice(len(_EXTS), n_docs)
    published = np.datetime64("2024-01-01T00:00:00") + rng.integers(0, 300 * 86400, n_docs)
    documents = pl.DataFrame(
        {
            "doc_idx": np.arange(n_docs, dtype=np.int64),
            "content_id": random_guids(rng, n_docs, braces=True),
            "owner_email": [names[o] for o in owner.tolist()],
            "template_id": templates.gather(rng.integers(0, len(templates), n_docs)),
            "file_name": [
                f"{_WORDS[w]}-{i}{_EXTS[e]}"
                for i, (w, e) in enumerate(zip(words.tolist(), exts.tolist(), strict=True))
            ],
            "date_published": published.astype("datetime64[us]"),
            "popularity": rng.pareto(1.2, n_docs) + 0.05,
        }
    )
    return Tenant(
        domain=domain,
        tenant_guid=str(random_guids(rng, 1)[0]),
        region=region,
        users=users,
        documents=documents,
        templates=templates,
        key_service_ip=_ips(rng, 1, "40.90.4")[0],
    )


def _client_mix() -> list[float]:
    weights = np.array([3, 3, 4, 1, 1.2, 1, 1, 0.3])
    return list(weights / weights.sum())
