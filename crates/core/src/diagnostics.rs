//! Diagnostics beyond InfluxDB (spec Part A §6).
