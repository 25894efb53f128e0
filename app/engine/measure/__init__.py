"""Measurements: functions of arrays (histograms, statistics, unit counts), unaware of HTTP."""
