//! Line protocol out and the merge of stored points live in linegate-core (`lp`,
//! `storage::Merged`); this name stays for the backend's modules.
pub use linegate_core::lp::*;
pub use linegate_core::storage::Merged;
