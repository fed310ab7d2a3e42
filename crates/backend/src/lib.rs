//! linegate-backend: the write backend (placeholder until its issue lands).
