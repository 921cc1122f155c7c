//! The sans-io state of one connection: correlation ids, requests awaiting
//! a response, whether the connection is closed and why, and when the SASL
//! session must be renewed (KIP-368). No sockets, no clocks: time is passed
//! in.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_proto::frame::peek_correlation_id;
use kafka_proto::ApiKey;

/// A request written to the socket and not answered yet.
#[derive(Debug)]
pub(crate) struct InFlight<W> {
    /// Its API.
    pub api: ApiKey,
    /// Its version (needed to decode the response).
    pub version: i16,
    /// Whoever waits for the response.
    pub waiter: W,
}

/// Why a response frame could not be matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MatchError {
    /// The frame is too short to hold a correlation id.
    Truncated,
    /// No request with this id is waiting.
    UnknownCorrelationId(i32),
}

impl std::fmt::Display for MatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MatchError::Truncated => f.write_str("a response frame is shorter than its header"),
            MatchError::UnknownCorrelationId(id) => write!(
                f,
                "a response carries correlation id {id}, which matches no outstanding request"
            ),
        }
    }
}

/// Correlation ids, the in-flight table and the re-authentication deadline.
#[derive(Debug)]
pub(crate) struct ConnectionState<W> {
    next_id: i32,
    in_flight: HashMap<i32, InFlight<W>>,
    closed: Option<String>,
    reauth_at: Option<Instant>,
}

impl<W> Default for ConnectionState<W> {
    fn default() -> Self {
        Self {
            next_id: 0,
            in_flight: HashMap::new(),
            closed: None,
            reauth_at: None,
        }
    }
}

impl<W> ConnectionState<W> {
    /// A fresh connection's state.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// A state whose first correlation id is `next` (to continue a
    /// sequence started during the handshake).
    pub(crate) fn starting_at(next: i32) -> Self {
        Self {
            next_id: next.max(0),
            ..Self::default()
        }
    }

    /// The id [`next_correlation_id`](Self::next_correlation_id) would return.
    pub(crate) fn peek_next_id(&self) -> i32 {
        self.next_id
    }

    /// The next correlation id (wrapping to 0 after `i32::MAX`, never
    /// negative), or why the connection is closed.
    pub(crate) fn next_correlation_id(&mut self) -> Result<i32, String> {
        if let Some(reason) = &self.closed {
            return Err(reason.clone());
        }
        let id = self.next_id;
        self.next_id = if id == i32::MAX { 0 } else { id + 1 };
        Ok(id)
    }

    /// Records that request `id` was written and awaits its response.
    /// Hands the waiter back when the connection is already closed.
    pub(crate) fn sent(
        &mut self,
        id: i32,
        api: ApiKey,
        version: i16,
        waiter: W,
    ) -> Result<(), (W, String)> {
        if let Some(reason) = &self.closed {
            return Err((waiter, reason.clone()));
        }
        self.in_flight.insert(
            id,
            InFlight {
                api,
                version,
                waiter,
            },
        );
        Ok(())
    }

    /// Matches a response frame (without its size prefix) to its request
    /// and removes it from the table.
    pub(crate) fn on_response(&mut self, frame: &Bytes) -> Result<InFlight<W>, MatchError> {
        let id = peek_correlation_id(frame).map_err(|_| MatchError::Truncated)?;
        self.in_flight
            .remove(&id)
            .ok_or(MatchError::UnknownCorrelationId(id))
    }

    /// Requests awaiting a response.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Closes the connection: returns every outstanding request, so that
    /// each waiter can be told `reason`. Later calls keep the first reason.
    pub(crate) fn close(&mut self, reason: impl Into<String>) -> Vec<InFlight<W>> {
        if self.closed.is_none() {
            self.closed = Some(reason.into());
        }
        self.in_flight.drain().map(|(_, r)| r).collect()
    }

    /// Why the connection is closed, if it is.
    pub(crate) fn closed_reason(&self) -> Option<&str> {
        self.closed.as_deref()
    }

    /// Records a SASL session lifetime from SaslAuthenticate (0 = no
    /// expiry). Re-authentication is due at `fraction` (0.85–0.95, chosen
    /// at random by the caller, as the Java client does) of the lifetime.
    pub(crate) fn set_session_lifetime(&mut self, now: Instant, lifetime_ms: i64, fraction: f64) {
        self.reauth_at = (lifetime_ms > 0).then(|| {
            let lifetime = Duration::from_millis(lifetime_ms.unsigned_abs());
            now + lifetime.mul_f64(fraction.clamp(0.5, 1.0))
        });
    }

    /// When re-authentication is due, if the session expires.
    pub(crate) fn reauth_at(&self) -> Option<Instant> {
        self.reauth_at
    }

    /// Whether the SASL session must be renewed before the next request.
    pub(crate) fn reauth_due(&self, now: Instant) -> bool {
        self.reauth_at.is_some_and(|at| now >= at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(id: i32) -> Bytes {
        let mut v = id.to_be_bytes().to_vec();
        v.extend_from_slice(b"body");
        Bytes::from(v)
    }

    #[test]
    fn responses_match_by_correlation_id_in_any_order() {
        let mut s = ConnectionState::new();
        let a = s.next_correlation_id().unwrap();
        let b = s.next_correlation_id().unwrap();
        assert_ne!(a, b);
        s.sent(a, ApiKey::Fetch, 12, "a").unwrap();
        s.sent(b, ApiKey::Produce, 9, "b").unwrap();
        assert_eq!(s.in_flight(), 2);
        let got = s.on_response(&frame(b)).unwrap();
        assert_eq!(
            (got.api, got.version, got.waiter),
            (ApiKey::Produce, 9, "b")
        );
        assert_eq!(s.on_response(&frame(a)).unwrap().waiter, "a");
        assert_eq!(s.in_flight(), 0);
    }

    #[test]
    fn unknown_and_truncated_responses_are_errors() {
        let mut s = ConnectionState::<()>::new();
        assert_eq!(
            s.on_response(&frame(77)).unwrap_err(),
            MatchError::UnknownCorrelationId(77)
        );
        assert_eq!(
            s.on_response(&Bytes::from_static(b"\0\0")).unwrap_err(),
            MatchError::Truncated
        );
        let id = s.next_correlation_id().unwrap();
        s.sent(id, ApiKey::Metadata, 1, ()).unwrap();
        s.on_response(&frame(id)).unwrap();
        // A duplicate response is as wrong as an unknown one.
        assert!(s.on_response(&frame(id)).is_err());
    }

    #[test]
    fn correlation_ids_wrap_to_zero() {
        let mut s = ConnectionState::<()>::new();
        s.next_id = i32::MAX;
        assert_eq!(s.next_correlation_id().unwrap(), i32::MAX);
        assert_eq!(s.next_correlation_id().unwrap(), 0);
    }

    #[test]
    fn close_hands_back_every_waiter_and_refuses_more() {
        let mut s = ConnectionState::new();
        for w in 0..3 {
            let id = s.next_correlation_id().unwrap();
            s.sent(id, ApiKey::Fetch, 4, w).unwrap();
        }
        let mut waiters: Vec<i32> = s
            .close("broker went away")
            .into_iter()
            .map(|r| r.waiter)
            .collect();
        waiters.sort();
        assert_eq!(waiters, vec![0, 1, 2]);
        assert_eq!(s.closed_reason(), Some("broker went away"));
        assert_eq!(s.next_correlation_id().unwrap_err(), "broker went away");
        assert_eq!(s.sent(9, ApiKey::Fetch, 4, 9).unwrap_err().0, 9);
        s.close("second reason");
        assert_eq!(s.closed_reason(), Some("broker went away"));
    }

    #[test]
    fn reauthentication_is_due_at_a_fraction_of_the_lifetime() {
        let mut s = ConnectionState::<()>::new();
        let t0 = Instant::now();
        s.set_session_lifetime(t0, 0, 0.9);
        assert_eq!(s.reauth_at(), None);
        assert!(!s.reauth_due(t0 + Duration::from_secs(3600)));
        s.set_session_lifetime(t0, 10_000, 0.9);
        assert!(!s.reauth_due(t0 + Duration::from_millis(8_999)));
        assert!(s.reauth_due(t0 + Duration::from_millis(9_000)));
        // Fractions outside reason are clamped.
        s.set_session_lifetime(t0, 10_000, 0.0);
        assert_eq!(s.reauth_at(), Some(t0 + Duration::from_secs(5)));
    }
}
