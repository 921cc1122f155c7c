//! The running mirror's handle.

use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::engine::Engine;
use crate::model::{MirrorError, Status, Summary};

/// Controls a running mirror from anywhere: status, pause, resume, stop.
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct MirrorControl {
    engine: Arc<Engine>,
}

impl MirrorControl {
    /// Per-partition state, lag and times, and totals.
    pub fn status(&self) -> Status {
        self.engine.status()
    }

    /// Stops fetching `topic` (source name); batches in flight still
    /// drain. Returns whether the topic is mirrored.
    pub fn pause(&self, topic: &str) -> bool {
        tracing::info!(topic, "pausing");
        self.engine.pause(topic)
    }

    /// Resumes a paused topic, and restarts its FAILED partitions from
    /// their first unacknowledged offset. Returns whether it is mirrored.
    pub fn resume(&self, topic: &str) -> bool {
        tracing::info!(topic, "resuming");
        self.engine.resume(topic)
    }

    /// Asks the mirror to stop gracefully; await the handle for the summary.
    pub fn request_stop(&self) {
        self.engine.request_stop();
    }
}

/// A running mirror. Dropping it does not stop the mirror; call
/// [`MirrorHandle::stop`] or [`MirrorHandle::wait`].
#[derive(Debug)]
pub struct MirrorHandle {
    control: MirrorControl,
    task: JoinHandle<Result<Summary, MirrorError>>,
}

impl MirrorHandle {
    pub(crate) fn spawn(engine: Arc<Engine>) -> Self {
        let task = tokio::spawn(Arc::clone(&engine).run());
        Self {
            control: MirrorControl { engine },
            task,
        }
    }

    /// A cloneable controller for other tasks.
    pub fn control(&self) -> MirrorControl {
        self.control.clone()
    }

    /// See [`MirrorControl::status`].
    pub fn status(&self) -> Status {
        self.control.status()
    }

    /// See [`MirrorControl::pause`].
    pub fn pause(&self, topic: &str) -> bool {
        self.control.pause(topic)
    }

    /// See [`MirrorControl::resume`].
    pub fn resume(&self, topic: &str) -> bool {
        self.control.resume(topic)
    }

    /// Whether the mirror has finished (backfill done, stopped or failed).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Stops gracefully: no new fetches, waits for what is in flight to be
    /// acknowledged (up to the drain timeout), commits offsets, and returns
    /// the summary.
    pub async fn stop(self) -> Result<Summary, MirrorError> {
        self.control.request_stop();
        self.wait().await
    }

    /// Waits until the mirror finishes on its own (backfill mode) or fails.
    pub async fn wait(self) -> Result<Summary, MirrorError> {
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(MirrorError::Task(e.to_string())),
        }
    }
}
