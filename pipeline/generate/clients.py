"""Client strings (`c-info`) of the apps and platforms the simulated tenant uses.

A grid of platforms (rows) by apps (columns): an event's c-info index is
`1 + platform * len(APPS) + app`; index 0 is the empty c-info.
"""

from __future__ import annotations

import polars as pl

APPS = ("word", "excel", "powerpoint", "outlook", "viewer")

_MSIPC = "MSIPC;version={};AppName={{}};AppVersion={};AppArch={};OSName={};OSVersion={};OSArch={}"
_WIN = _MSIPC.format("1.0.4.2", "16.0.{}", "{}", "Windows", "{}", "amd64")
_MAC = _MSIPC.format("4.2.0", "16.89", "arm64", "MacOS", "14.5", "arm64")
_IOS = _MSIPC.format("1.3.0", "2.84.0", "arm64", "iOS", "17.5", "arm64")
_AND = _MSIPC.format("1.3.0", "16.0.17726", "arm64", "Android", "14", "arm64")
_WIN_APPS = ("WINWORD.EXE", "EXCEL.EXE", "POWERPNT.EXE", "OUTLOOK.EXE")
_MAC_APPS = ("Microsoft Word", "Microsoft Excel", "Microsoft PowerPoint", "Microsoft Outlook")
_IOS_APPS = (
    "com.microsoft.Office.Word",
    "com.microsoft.Office.Excel",
    "com.microsoft.Office.Powerpoint",
    "com.microsoft.Office.Outlook",
)
_AND_APPS = tuple(a.lower() for a in _IOS_APPS)


def _platforms() -> list[tuple[str, ...]]:
    """Rows of c-info strings, one per platform, one column per app in APPS."""
    win = [
        ("17928.20114", "x64", "10.0.19045"),
        ("17928.20114", "x64", "10.0.22631"),
        ("17830.20166", "x86", "10.0.22631"),
        ("18025.20104", "x64", "10.0.26100"),
    ]
    rows = [(*(_WIN.format(a, v, arch, os) for a in _WIN_APPS), _viewer(os)) for v, arch, os in win]
    rows.append(tuple(_MAC.format(a) for a in (*_MAC_APPS, _MAC_APPS[3])))
    rows.append(tuple(_IOS.format(a) for a in (*_IOS_APPS, "com.microsoft.rms-sharing")))
    rows.append(tuple(_AND.format(a) for a in (*_AND_APPS, "com.microsoft.ipviewer")))
    return rows


def _viewer(os_version: str) -> str:
    return (
        "MSIPC;version=1.0.4.2;AppName=MSIP.Viewer.exe;AppVersion=2.18.26.0;AppArch=x64;"
        f"OSName=Windows;OSVersion={os_version};OSArch=amd64"
    )


#: Platform rows: 0-3 Windows, 4 Mac (desktop); 5 iOS, 6 Android (mobile).
PLATFORMS = _platforms()
DESKTOP_PLATFORMS = (0, 1, 2, 3, 4)
DESKTOP_WEIGHTS = (0.35, 0.35, 0.08, 0.07, 0.15)
MOBILE_PLATFORMS = (5, 6)
SERVICE_CINFO = (
    "MSIPC;version=1.0.4.2;AppName=MSExchangeTransport.exe;AppVersion=15.20.7633.30;"
    "AppArch=x64;OSName=Windows;OSVersion=10.0.20348;OSArch=amd64"
)
CONNECTOR_CINFO = (
    "MSIPC;version=1.0.4.2;AppName=EdgeTransport.exe;AppVersion=15.2.1544.4;"
    "AppArch=x64;OSName=Windows;OSVersion=10.0.20348;OSArch=amd64"
)


def cinfo_table() -> pl.Series:
    """Every c-info string: "" first, then the grid, then the two services."""
    grid = [c for row in PLATFORMS for c in row]
    return pl.Series(["", *grid, SERVICE_CINFO, CONNECTOR_CINFO])
