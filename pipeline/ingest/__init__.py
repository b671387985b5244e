"""Ingest stage: RMS W3C log files -> the warehouse, exactly once, every line accounted for."""

from pipeline.ingest.loader import IngestSummary, check_paths, discover, ingest_paths
from pipeline.ingest.source import CHUNK_BYTES, Resume
from pipeline.ingest.w3c import Header, Parsed, clean_value, parse_bytes, parse_text
from pipeline.ingest.watch import WatchStatus, watch_folder

__all__ = [
    "CHUNK_BYTES",
    "Header",
    "IngestSummary",
    "Parsed",
    "Resume",
    "WatchStatus",
    "check_paths",
    "clean_value",
    "discover",
    "ingest_paths",
    "parse_bytes",
    "parse_text",
    "watch_folder",
]
