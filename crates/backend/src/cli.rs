//! The backend's command-line subcommands beside `serve` that change the data directory
//! directly: `v1-auth create|delete|list`. `crate::store::v1` keeps what they change.
//!
//! `linegate-backend v1-auth …`: changes the data directory directly (a running server picks
//! the change up within a second of the next request with a user name and password).

use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum V1AuthCmd {
    /// Create (or replace) a v1 authorization; prints its ID.
    Create {
        #[arg(long, env = "LINEGATE_DATA")]
        data: PathBuf,
        #[arg(long)]
        username: String,
        /// The password (else read from the environment variable LINEGATE_V1_PASSWORD).
        #[arg(long, env = "LINEGATE_V1_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long)]
        org: String,
        /// A bucket it may write (repeatable); none: every bucket of the org.
        #[arg(long = "write-bucket")]
        write_bucket: Vec<String>,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Delete a v1 authorization.
    Delete {
        #[arg(long, env = "LINEGATE_DATA")]
        data: PathBuf,
        #[arg(long)]
        username: String,
    },
    /// List v1 authorizations (never their passwords), one JSON object per line.
    List {
        #[arg(long, env = "LINEGATE_DATA")]
        data: PathBuf,
    },
}

fn open(data: &std::path::Path) -> Result<rusqlite::Connection, String> {
    if !crate::store::db_path(data).exists() {
        return Err(format!("{}: no linegate database here", data.display()));
    }
    let conn = crate::store::open_read(data).map_err(|e| e.to_string())?;
    // The tables exist once a server of this version has opened the directory; make
    // them here too so the order does not matter.
    conn.execute_batch(crate::store::v1::SCHEMA)
        .map_err(|e| e.to_string())?;
    Ok(conn)
}

pub fn run(c: V1AuthCmd) -> Result<(), String> {
    match c {
        V1AuthCmd::Create {
            data,
            username,
            password,
            org,
            write_bucket,
            description,
        } => {
            let conn = open(&data)?;
            let id = crate::store::v1::create_auth(
                &conn,
                &username,
                password.as_bytes(),
                &org,
                &write_bucket,
                &description,
            )?;
            println!("{id:016x}");
            Ok(())
        }
        V1AuthCmd::Delete { data, username } => {
            let conn = open(&data)?;
            if crate::store::v1::delete_auth(&conn, &username)? {
                Ok(())
            } else {
                Err(format!("no v1 authorization named {username:?}"))
            }
        }
        V1AuthCmd::List { data } => {
            let conn = open(&data)?;
            let v1 = crate::store::v1::load(&conn).map_err(|e| e.to_string())?;
            let mut users: Vec<_> = v1.users.values().collect();
            users.sort_by(|a, b| a.username.cmp(&b.username));
            for a in users {
                let mut buckets: Vec<String> =
                    a.buckets.iter().map(|b| format!("{b:016x}")).collect();
                buckets.sort();
                let v = serde_json::json!({
                    "id": format!("{:016x}", a.id), "username": a.username,
                    "orgID": format!("{:016x}", a.org_id), "allBuckets": a.all_access,
                    "writeBuckets": buckets, "description": a.description,
                });
                println!("{v}");
            }
            Ok(())
        }
    }
}
