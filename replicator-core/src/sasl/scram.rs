//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) through the `sasl`
//! crate, with the checks it leaves to its caller: the server nonce must
//! extend ours, the iteration count must be sane, server errors (`e=`) and
//! mandatory extensions (`m=`) end the exchange, and user names are escaped
//! as Kafka's `ScramFormatter` does.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sasl::client::mechanisms::Scram;
use sasl::client::Mechanism;
use sasl::common::scram::{DeriveError, ScramProvider, Sha256};
use sasl::common::{ChannelBinding, Password as SaslPassword};
use sha2::Digest;

use super::{Step, StepError};
use crate::config::SaslMechanism;
use crate::secret::Password;

/// Kafka's minimum iteration count (`ScramMechanism.minIterations`); the
/// Java client refuses fewer.
pub(crate) const MIN_ITERATIONS: u32 = 4096;
/// A ceiling so that a hostile server cannot make us spin for minutes.
pub(crate) const MAX_ITERATIONS: u32 = 1_000_000;

/// SHA-512 for the `sasl` crate, which ships SHA-1 and SHA-256 only.
pub(crate) struct Sha512;

impl ScramProvider for Sha512 {
    type Secret = sasl::secret::Plain;

    fn name() -> &'static str {
        "SHA-512"
    }

    fn hash(data: &[u8]) -> Vec<u8> {
        sha2::Sha512::digest(data).to_vec()
    }

    fn hmac(data: &[u8], key: &[u8]) -> Result<Vec<u8>, hmac::digest::InvalidLength> {
        let mut mac = Hmac::<sha2::Sha512>::new_from_slice(key)?;
        mac.update(data);
        Ok(mac.finalize().into_bytes().to_vec())
    }

    fn derive(
        password: &SaslPassword,
        salt: &[u8],
        iterations: u32,
    ) -> Result<Vec<u8>, DeriveError> {
        match password {
            SaslPassword::Plain(plain) => {
                let mut out = vec![0; 64];
                pbkdf2::pbkdf2::<Hmac<sha2::Sha512>>(plain.as_bytes(), salt, iterations, &mut out)?;
                Ok(out)
            }
            SaslPassword::Pbkdf2 { method, .. } => Err(DeriveError::IncompatibleHashingMethod(
                method.clone(),
                Self::name().to_owned(),
            )),
        }
    }
}

enum ScramVariant {
    Sha256(Scram<Sha256>),
    Sha512(Scram<Sha512>),
}

impl ScramVariant {
    fn mechanism(&mut self) -> &mut dyn Mechanism {
        match self {
            ScramVariant::Sha256(m) => m,
            ScramVariant::Sha512(m) => m,
        }
    }
}

enum Phase {
    Start,
    SentFirst { client_nonce: String },
    SentFinal,
    Done,
}

/// One SCRAM client exchange.
pub(crate) struct ScramClient {
    inner: ScramVariant,
    phase: Phase,
}

/// Escapes a user name for `n=` (RFC 5802 §5.1): `=` → `=3D`, `,` → `=2C`.
pub(crate) fn escape_username(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

/// Splits a SCRAM message into its `k=v` attributes.
fn attributes(msg: &str) -> impl Iterator<Item = (char, &str)> {
    msg.split(',').filter_map(|part| {
        let mut chars = part.chars();
        let key = chars.next()?;
        let rest = chars.as_str().strip_prefix('=')?;
        Some((key, rest))
    })
}

impl ScramClient {
    pub(crate) fn new(
        mechanism: SaslMechanism,
        username: &str,
        password: &Password,
    ) -> Result<Self, String> {
        let user = escape_username(username);
        let pass = password.expose().to_owned();
        let nonce_err = |_| "cannot generate a SCRAM nonce (no OS randomness)".to_owned();
        let inner = match mechanism {
            SaslMechanism::ScramSha256 => ScramVariant::Sha256(
                Scram::new(user, pass, ChannelBinding::None).map_err(nonce_err)?,
            ),
            SaslMechanism::ScramSha512 => ScramVariant::Sha512(
                Scram::new(user, pass, ChannelBinding::None).map_err(nonce_err)?,
            ),
            SaslMechanism::Plain => return Err("PLAIN is not a SCRAM mechanism".into()),
        };
        Ok(Self {
            inner,
            phase: Phase::Start,
        })
    }

    /// `n,,n=user,r=nonce`.
    pub(crate) fn client_first(&mut self) -> Result<Vec<u8>, String> {
        if !matches!(self.phase, Phase::Start) {
            return Err("client-first message already sent".into());
        }
        let msg = self.inner.mechanism().initial();
        let text = std::str::from_utf8(&msg).map_err(|_| "client-first is not UTF-8")?;
        let client_nonce = attributes(text.trim_start_matches("n,,"))
            .find(|(k, _)| *k == 'r')
            .map(|(_, v)| v.to_owned())
            .ok_or("client-first message has no nonce")?;
        self.phase = Phase::SentFirst { client_nonce };
        Ok(msg)
    }

    pub(crate) fn step(&mut self, server: &[u8]) -> Result<Step, StepError> {
        let text = std::str::from_utf8(server)
            .map_err(|_| "the server's SCRAM message is not UTF-8".to_owned())?;
        if let Some((_, e)) = attributes(text).find(|(k, _)| *k == 'e') {
            self.phase = Phase::Done;
            return Err(StepError::Rejected(e.to_owned()));
        }
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::SentFirst { client_nonce } => {
                check_server_first(text, &client_nonce)?;
                let reply = self
                    .inner
                    .mechanism()
                    .response(server)
                    .map_err(|e| format!("cannot answer the server-first message: {e}"))?;
                self.phase = Phase::SentFinal;
                Ok(Step::Respond(reply))
            }
            Phase::SentFinal => {
                self.inner
                    .mechanism()
                    .success(server)
                    .map_err(|e| -> StepError {
                        format!(
                        "the server's final message does not prove it knows the credentials ({e}); \
                         the broker may be misconfigured or an impostor"
                    )
                        .into()
                    })?;
                Ok(Step::Done)
            }
            Phase::Start => Err("server message before client-first was sent".into()),
            Phase::Done => Err("server message after the exchange ended".into()),
        }
    }
}

/// Checks `r=`, `s=`, `i=` and `m=` of a server-first message.
pub(crate) fn check_server_first(text: &str, client_nonce: &str) -> Result<(), String> {
    let mut nonce = None;
    let mut salt = None;
    let mut iterations = None;
    for (key, value) in attributes(text) {
        match key {
            'm' => {
                return Err(
                    "the server requires a SCRAM extension this client does not know".into(),
                )
            }
            'r' => nonce = Some(value),
            's' => salt = Some(value),
            'i' => iterations = Some(value),
            _ => {}
        }
    }
    let nonce = nonce.ok_or("server-first message has no nonce (r=)")?;
    if !nonce.starts_with(client_nonce) || nonce.len() == client_nonce.len() {
        return Err("the server nonce does not extend the client nonce".into());
    }
    let salt = salt.ok_or("server-first message has no salt (s=)")?;
    if BASE64.decode(salt).map_or(true, |s| s.is_empty()) {
        return Err("the server's salt is not valid base64".into());
    }
    let iterations: u32 = iterations
        .ok_or("server-first message has no iteration count (i=)")?
        .parse()
        .map_err(|_| "the server's iteration count is not a number".to_owned())?;
    if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
        return Err(format!(
            "the server asks for {iterations} iterations, outside the accepted {MIN_ITERATIONS}..={MAX_ITERATIONS}"
        ));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal SCRAM server for tests, following RFC 5802.
    pub(crate) struct TestServer {
        pub sha512: bool,
        pub password: String,
        pub salt: Vec<u8>,
        pub iterations: u32,
        client_first_bare: String,
        server_first: String,
    }

    fn b64(data: &[u8]) -> String {
        BASE64.encode(data)
    }

    impl TestServer {
        pub fn new(sha512: bool, password: &str) -> Self {
            Self {
                sha512,
                password: password.into(),
                salt: b"0123456789abcdef".to_vec(),
                iterations: 4096,
                client_first_bare: String::new(),
                server_first: String::new(),
            }
        }

        fn hmac(&self, key: &[u8], data: &[u8]) -> Vec<u8> {
            if self.sha512 {
                Sha512::hmac(data, key).unwrap()
            } else {
                Sha256::hmac(data, key).unwrap()
            }
        }

        fn hash(&self, data: &[u8]) -> Vec<u8> {
            if self.sha512 {
                Sha512::hash(data)
            } else {
                Sha256::hash(data)
            }
        }

        fn salted(&self) -> Vec<u8> {
            let p = SaslPassword::Plain(self.password.clone());
            if self.sha512 {
                Sha512::derive(&p, &self.salt, self.iterations).unwrap()
            } else {
                Sha256::derive(&p, &self.salt, self.iterations).unwrap()
            }
        }

        pub fn first(&mut self, client_first: &[u8], nonce_suffix: &str) -> Vec<u8> {
            let text = std::str::from_utf8(client_first).unwrap();
            self.client_first_bare = text.strip_prefix("n,,").unwrap().to_owned();
            let cnonce = attributes(&self.client_first_bare)
                .find(|(k, _)| *k == 'r')
                .unwrap()
                .1
                .to_owned();
            self.server_first = format!(
                "r={cnonce}{nonce_suffix},s={},i={}",
                b64(&self.salt),
                self.iterations
            );
            self.server_first.clone().into_bytes()
        }

        /// Checks the client proof; returns the server-final message, or
        /// `None` for a wrong password.
        pub fn last(&self, client_final: &[u8]) -> Option<Vec<u8>> {
            let text = std::str::from_utf8(client_final).unwrap();
            let (without_proof, proof) = text.rsplit_once(",p=").unwrap();
            let auth = format!(
                "{},{},{}",
                self.client_first_bare, self.server_first, without_proof
            );
            let salted = self.salted();
            let client_key = self.hmac(&salted, b"Client Key");
            let stored = self.hash(&client_key);
            let sig = self.hmac(&stored, auth.as_bytes());
            let expected: Vec<u8> = client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
            if b64(&expected) != proof {
                return None;
            }
            let server_key = self.hmac(&salted, b"Server Key");
            let server_sig = self.hmac(&server_key, auth.as_bytes());
            Some(format!("v={}", b64(&server_sig)).into_bytes())
        }
    }

    fn client(m: SaslMechanism, user: &str, pass: &str) -> ScramClient {
        ScramClient::new(m, user, &Password::new(pass)).unwrap()
    }

    fn run(m: SaslMechanism, client_pass: &str, server_pass: &str) -> Result<(), StepError> {
        let mut c = client(m, "alice", client_pass);
        let mut s = TestServer::new(m == SaslMechanism::ScramSha512, server_pass);
        let first = c.client_first().map_err(StepError::Protocol)?;
        let server_first = s.first(&first, "srv");
        let Step::Respond(fin) = c.step(&server_first)? else {
            return Err("expected a client-final".into());
        };
        let server_final = s.last(&fin).ok_or("wrong password")?;
        assert_eq!(c.step(&server_final)?, Step::Done);
        Ok(())
    }

    #[test]
    fn full_exchange_sha256_and_sha512() {
        run(SaslMechanism::ScramSha256, "pw", "pw").unwrap();
        run(SaslMechanism::ScramSha512, "pw", "pw").unwrap();
        assert_eq!(
            run(SaslMechanism::ScramSha512, "wrong", "pw").unwrap_err(),
            StepError::Protocol("wrong password".into())
        );
    }

    #[test]
    fn forged_server_signature_is_refused() {
        let mut c = client(SaslMechanism::ScramSha256, "alice", "pw");
        let mut s = TestServer::new(false, "pw");
        let sf = s.first(&c.client_first().unwrap(), "x");
        c.step(&sf).unwrap();
        let err = c.step(b"v=AAAA").unwrap_err();
        assert!(
            matches!(&err, StepError::Protocol(m) if m.contains("does not prove")),
            "{err:?}"
        );
    }

    #[test]
    fn server_nonce_must_extend_ours() {
        let mut c = client(SaslMechanism::ScramSha256, "alice", "pw");
        c.client_first().unwrap();
        let err = c.step(b"r=someoneelse,s=QUJD,i=4096").unwrap_err();
        assert!(
            matches!(&err, StepError::Protocol(m) if m.contains("nonce")),
            "{err:?}"
        );
    }

    #[test]
    fn iteration_count_is_bounded() {
        for i in ["1", "4095", "1000001", "x"] {
            let mut c = client(SaslMechanism::ScramSha256, "alice", "pw");
            let first = String::from_utf8(c.client_first().unwrap()).unwrap();
            let nonce = first.rsplit_once("r=").unwrap().1;
            let msg = format!("r={nonce}abc,s=QUJD,i={i}");
            assert!(c.step(msg.as_bytes()).is_err(), "{i} accepted");
        }
    }

    #[test]
    fn server_errors_and_extensions_end_the_exchange() {
        let mut c = client(SaslMechanism::ScramSha512, "alice", "pw");
        c.client_first().unwrap();
        let err = c.step(b"e=unknown-user").unwrap_err();
        assert_eq!(err, StepError::Rejected("unknown-user".into()));
        let mut c = client(SaslMechanism::ScramSha512, "alice", "pw");
        c.client_first().unwrap();
        assert!(c.step(b"m=ext,r=x,s=QUJD,i=4096").is_err());
        assert!(c.step(b"r=x").is_err(), "no steps after the end");
    }

    #[test]
    fn malformed_server_messages_are_errors_not_panics() {
        for bad in [&b"\xff\xfe"[..], b"", b",,,", b"r", b"s=%%%%", b"r=,s=,i="] {
            let mut c = client(SaslMechanism::ScramSha256, "alice", "pw");
            c.client_first().unwrap();
            assert!(c.step(bad).is_err());
        }
    }

    #[test]
    fn usernames_are_escaped() {
        assert_eq!(escape_username("a=b,c"), "a=3Db=2Cc");
        let mut c = client(SaslMechanism::ScramSha256, "a=b,c", "pw");
        let first = String::from_utf8(c.client_first().unwrap()).unwrap();
        assert!(first.starts_with("n,,n=a=3Db=2Cc,r="), "{first}");
    }
}
