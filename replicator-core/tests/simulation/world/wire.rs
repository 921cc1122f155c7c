//! The network: one connection per (incarnation, link), serving its
//! requests one at a time in order, as Kafka serves a connection; dropped
//! connections fail what was on them.

use super::*;

impl World {
    /// A request whose connection is gone: a write not yet acted on may
    /// still happen (its bytes were in the socket); no answer comes.
    pub(super) fn abandon(&mut self, req: u64) {
        let Some(f) = self.in_flight.remove(&req) else {
            return;
        };
        if !f.processed && self.rng.chance(0.5) {
            match f.body {
                Body::Produce { node, request, .. } => {
                    let _ = self.produce(node, &request);
                }
                Body::Commit { request, .. } => {
                    let _ = self.commit(&request);
                }
                Body::Fetch { .. } => {}
            }
        }
    }

    /// Puts a request on its connection: it arrives after the network
    /// delay, never before one sent earlier on the same connection.
    pub(super) fn send(&mut self, link: Link, body: Body) {
        let key = ConnKey {
            incarnation: self.incarnation,
            link,
        };
        let d = self.delay();
        let now = self.now;
        let conn = self.conns.entry(key).or_default();
        let arrive = (now + d).max(conn.last_arrival);
        conn.last_arrival = arrive;
        let generation = conn.generation;
        self.next_req += 1;
        let req = self.next_req;
        self.in_flight.insert(
            req,
            InFlight {
                conn: key,
                generation,
                body,
                processed: false,
            },
        );
        self.at(
            arrive,
            Ev::Arrive {
                conn: key,
                generation,
                req,
            },
        );
    }

    pub(super) fn conn_alive(&self, key: ConnKey, generation: u64) -> bool {
        self.conns
            .get(&key)
            .is_some_and(|c| c.generation == generation)
    }

    pub(super) fn arrive(&mut self, key: ConnKey, generation: u64, req: u64) {
        if !self.conn_alive(key, generation) || !self.in_flight.contains_key(&req) {
            return;
        }
        let conn = self.conns.get_mut(&key).expect("alive");
        if conn.busy.is_some() {
            conn.waiting.push_back(req);
        } else {
            conn.busy = Some(req);
            self.serve(key, req);
        }
    }

    /// The broker serves `req`, then answers.
    pub(super) fn serve(&mut self, key: ConnKey, req: u64) {
        let Some(f) = self.in_flight.get_mut(&req) else {
            return;
        };
        let generation = f.generation;
        let body = f.body.clone();
        let (delivery, extra) = match body {
            Body::Fetch {
                id,
                node,
                request,
                waited,
            } => {
                let response = self.fetch(node, &request);
                let empty = response.responses.iter().all(|t| {
                    t.partitions.iter().all(|p| {
                        p.error_code == 0
                            && p.records.as_ref().is_none_or(|r| r.to_bytes().is_empty())
                    })
                });
                if empty && !waited && request.max_wait_ms > 0 {
                    // Kafka holds the request until data comes or the wait
                    // ends; the connection serves nothing else meanwhile.
                    if let Some(Body::Fetch { waited, .. }) =
                        self.in_flight.get_mut(&req).map(|f| &mut f.body)
                    {
                        *waited = true;
                    }
                    let wait = u64::try_from(request.max_wait_ms).unwrap_or(0);
                    self.after(
                        wait,
                        Ev::FetchWake {
                            conn: key,
                            generation,
                            req,
                        },
                    );
                    return;
                }
                (Delivery::Fetch(id, Ok(response)), 0)
            }
            Body::Produce { id, node, request } => {
                let response = self.produce(node, &request);
                let slow = if self.faulty() && self.rng.chance(self.scenario.faults.slow_ack) {
                    self.rng.range(200, 3_000)
                } else {
                    0
                };
                (Delivery::Produce(id, Ok(response)), slow)
            }
            Body::Commit { id, request } => {
                let response = self.commit(&request);
                (Delivery::Commit(id, Ok(response)), 0)
            }
        };
        if let Some(f) = self.in_flight.get_mut(&req) {
            f.processed = true;
        }
        let d = self.delay() + extra;
        let now = self.now;
        let conn = self.conns.get_mut(&key).expect("alive");
        let at = (now + d).max(conn.last_reply);
        conn.last_reply = at;
        self.at(
            at,
            Ev::Reply {
                conn: key,
                generation,
                req,
                delivery,
            },
        );
        self.next_on(key);
    }

    pub(super) fn next_on(&mut self, key: ConnKey) {
        let conn = self.conns.get_mut(&key).expect("alive");
        conn.busy = conn.waiting.pop_front();
        if let Some(next) = conn.busy {
            self.serve(key, next);
        }
    }

    pub(super) fn drop_connection(&mut self, key: ConnKey) {
        let Some(conn) = self.conns.get_mut(&key) else {
            return;
        };
        self.stats.drops += 1;
        conn.generation += 1;
        conn.busy = None;
        conn.waiting.clear();
        let victims: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, f)| f.conn == key)
            .map(|(id, _)| *id)
            .collect();
        self.note(|| format!("DROP {key:?}: {} requests fail", victims.len()));
        for req in victims {
            let Some(f) = self.in_flight.get(&req) else {
                continue;
            };
            let failure = match &f.body {
                Body::Fetch { id, node, .. } => Delivery::Fetch(
                    *id,
                    Err(FetchFailure {
                        kind: FetchFailureKind::Broken,
                        broker: Some(format!("broker {node} at sim-source-{node}:9092")),
                        detail: "the connection closed".into(),
                    }),
                ),
                Body::Produce { id, .. } => {
                    Delivery::Produce(*id, Err("the connection closed".into()))
                }
                Body::Commit { id, .. } => {
                    Delivery::Commit(*id, Err("the connection closed".into()))
                }
            };
            self.abandon(req);
            let d = self.delay();
            self.deliver_later(d, failure);
        }
    }
}
