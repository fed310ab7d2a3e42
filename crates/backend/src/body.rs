//! Reading a request body under guard: an idle timeout, a minimum average rate, and a
//! server-wide budget of body bytes held at once. Memory follows what has arrived, never
//! what a header claims.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Guards;

/// Why a body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The client's stream failed (reset, bad chunking).
    Broken,
    /// Nothing arrived for the idle timeout, or the average rate fell under the minimum.
    TooSlow,
    /// The server's body budget stayed full for the idle timeout.
    Busy,
}

/// The bytes of all bodies being held, as permits of one byte each.
#[derive(Clone)]
pub struct Budget(Arc<Semaphore>);

impl Budget {
    pub fn new(bytes: usize) -> Budget {
        Budget(Arc::new(Semaphore::new(bytes.min(Semaphore::MAX_PERMITS))))
    }
    /// Bytes free now.
    pub fn available(&self) -> usize {
        self.0.available_permits()
    }
}

/// A body being read, with what it holds of the budget.
pub struct Reader {
    body: Body,
    started: Instant,
    got: usize,
    idle: Duration,
    min_rate: u64,
    budget: Budget,
    held: Option<OwnedSemaphorePermit>,
    ended: bool,
}

impl Reader {
    pub fn new(body: Body, guards: &Guards, budget: &Budget) -> Reader {
        Reader {
            body,
            started: Instant::now(),
            got: 0,
            idle: guards.body_idle_timeout,
            min_rate: guards.min_body_rate,
            budget: budget.clone(),
            held: None,
            ended: false,
        }
    }

    /// Bytes read so far.
    pub fn received(&self) -> usize {
        self.got
    }

    pub fn ended(&self) -> bool {
        self.ended
    }

    /// The next piece of the body (`None` at its end).
    pub async fn next(&mut self) -> Result<Option<Bytes>, Cut> {
        loop {
            if self.ended {
                return Ok(None);
            }
            let frame = match tokio::time::timeout(self.idle, self.body.frame()).await {
                Err(_) => return Err(Cut::TooSlow),
                Ok(None) => {
                    self.ended = true;
                    return Ok(None);
                }
                Ok(Some(Err(_))) => return Err(Cut::Broken),
                Ok(Some(Ok(f))) => f,
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if data.is_empty() {
                continue;
            }
            self.got += data.len();
            self.reserve(data.len()).await?;
            // Once past the first idle period, a trickle is as bad as silence.
            let secs = self.started.elapsed().as_secs_f64();
            if self.min_rate > 0
                && secs > self.idle.as_secs_f64()
                && (self.got as f64) < self.min_rate as f64 * secs
            {
                return Err(Cut::TooSlow);
            }
            return Ok(Some(data));
        }
    }

    async fn reserve(&mut self, n: usize) -> Result<(), Cut> {
        let n = u32::try_from(n).map_err(|_| Cut::Busy)?;
        let sem = self.budget.0.clone();
        let permit = match sem.clone().try_acquire_many_owned(n) {
            Ok(p) => p,
            Err(_) => match tokio::time::timeout(self.idle, sem.acquire_many_owned(n)).await {
                Ok(Ok(p)) => p,
                _ => return Err(Cut::Busy),
            },
        };
        match &mut self.held {
            Some(h) => h.merge(permit),
            None => self.held = Some(permit),
        }
        Ok(())
    }

    /// Reads until the body ends or `max` bytes are held (`true`: it reached `max`).
    /// `declared` (Content-Length) only caps how far the buffer grows ahead of the data.
    pub async fn collect_into(
        &mut self,
        buf: &mut BytesMut,
        max: usize,
        declared: Option<usize>,
    ) -> Result<bool, Cut> {
        while buf.len() < max {
            let Some(data) = self.next().await? else {
                return Ok(false);
            };
            grow(buf, data.len(), declared);
            buf.extend_from_slice(&data);
        }
        Ok(true)
    }

    /// Hands back what the body holds of the budget (with the bytes, to the writer).
    pub fn into_hold(self) -> Option<OwnedSemaphorePermit> {
        self.held
    }
}

/// Makes room for `more` bytes: at most doubling what has arrived (so a claimed length
/// cannot make the server allocate ahead of the data), and never past the declared length.
fn grow(buf: &mut BytesMut, more: usize, declared: Option<usize>) {
    let need = buf.len() + more;
    if need <= buf.capacity() {
        return;
    }
    let mut cap = (buf.len() * 2).max(need).max(64 << 10);
    if let Some(d) = declared {
        if d >= need {
            cap = cap.min(d);
        }
    }
    buf.reserve(cap - buf.len());
}
