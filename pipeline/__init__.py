"""rmslog: Azure RMS usage-log analytics."""
