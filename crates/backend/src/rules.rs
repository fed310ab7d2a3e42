//! Storage's rules live in linegate-core (`storage`); this name stays for the backend's
//! modules.
pub use linegate_core::storage::*;
pub use linegate_core::time::{format_rfc3339_nano as rfc3339_nano, go_duration};
