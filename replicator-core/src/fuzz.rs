//! Fuzz target bodies (feature `fuzzing`), shared by the cargo-fuzz targets
//! in `fuzz/` and by the corpus replay test (`tests/fuzz_replay.rs`), so
//! both run the same code. Each function takes arbitrary bytes and must not
//! panic; where a parse succeeds it checks more, as each target says.
//!
//! Not a stable API: it changes with the targets.

use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Digest;

use crate::config::SaslConfig;
use crate::sasl::{self, SaslSession, Step, StepError};

/// A fuzz target body.
pub type Target = fn(&[u8]);

/// Every target, by the name of its cargo-fuzz binary and corpus directory.
pub const TARGETS: &[(&str, Target)] = &[
    ("scram_server_first", scram_server_first),
    ("scram_server_final", scram_server_final),
    ("jks", jks),
];

/// The target called `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

// ---------------------------------------------------------------------------
// SCRAM

const USER: &str = "user";
/// The client's password: distinctive, so that it can be looked for in
/// error messages.
const PASSWORD: &str = "pencil-Pässwörd-7";
/// Salt and iteration count of the server-first message the
/// `scram_server_final` target answers.
const SALT: &[u8] = b"fuzz-salt-0123456789";
const ITERATIONS: u32 = 4096;
/// What the server appends to the client nonce in `scram_server_final`.
const SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";

/// Replaced by the client's (random) nonce in SCRAM inputs, so the fuzzer
/// can write messages that extend it.
pub const NONCE_MARKER: &[u8] = b"%n";
/// Replaced by the right server signature (base64) in `scram_server_final`
/// inputs.
pub const SIGNATURE_MARKER: &[u8] = b"%v";

/// The most iterations an input may make the client hash. The client
/// accepts up to [`sasl::MAX_ITERATIONS`]; inputs between the two are only
/// checked, not hashed, so that each run stays fast.
const FUZZ_MAX_ITERATIONS: u32 = 2 * ITERATIONS;

/// The SCRAM client for selector byte `mode` (bit 0: SHA-512), after its
/// client-first message; returns it, the client-first-bare and the nonce.
fn scram_client(mode: u8) -> (SaslSession, bool, String, String) {
    let sha512 = mode & 1 == 1;
    let config = if sha512 {
        SaslConfig::scram_sha512(USER, PASSWORD)
    } else {
        SaslConfig::scram_sha256(USER, PASSWORD)
    };
    let mut session = SaslSession::new(&config).expect("a SCRAM session starts");
    let first = session.initial().expect("client-first");
    let first = String::from_utf8(first).expect("client-first is UTF-8");
    let bare = first
        .strip_prefix("n,,")
        .expect("client-first has a gs2 header without channel binding")
        .to_owned();
    let nonce = bare
        .strip_prefix("n=user,r=")
        .expect("client-first-bare is n=user,r=<nonce>")
        .to_owned();
    assert!(!nonce.is_empty() && !nonce.contains(','));
    (session, sha512, bare, nonce)
}

/// `data` with every `marker` replaced by `with`.
fn substitute(data: &[u8], marker: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut rest = data;
    while !rest.is_empty() {
        if rest.starts_with(marker) {
            out.extend_from_slice(with);
            rest = &rest[marker.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

/// The attributes of a SCRAM message as the `sasl` crate reads them (the
/// last of a repeated key wins).
fn sasl_crate_view(msg: &[u8]) -> Option<std::collections::HashMap<String, String>> {
    ::sasl::common::parse_frame(msg).ok()
}

/// Whether a message has an `e=` (server-error) attribute, as the client
/// reads attributes.
fn has_server_error(text: &str) -> bool {
    text.split(',').any(|p| p.starts_with("e="))
}

fn check_no_password(err: &StepError, msg: &[u8]) {
    if msg
        .windows(PASSWORD.len())
        .any(|w| w == PASSWORD.as_bytes())
    {
        return;
    }
    let shown = format!("{err:?}");
    assert!(
        !shown.contains(PASSWORD),
        "an error shows the password: {shown}"
    );
}

/// Layout: `[mode]` (bit 0: SCRAM-SHA-512, else SHA-256) then a
/// server-first message, in which every `%n` stands for the client's nonce.
/// A client sends its client-first and gets the message. It must accept
/// exactly what passes its own checks (nonce extends ours, salt, iteration
/// count within bounds, no `e=` or `m=`), and whatever it accepts the `sasl`
/// crate must then hash with an iteration count within those bounds: a huge
/// `i=` is refused before any hashing. The answer is a well-formed
/// client-final message for the server's nonce.
pub fn scram_server_first(data: &[u8]) {
    let Some((&mode, msg)) = data.split_first() else {
        return;
    };
    let (mut session, sha512, _, nonce) = scram_client(mode);
    let msg = substitute(msg, NONCE_MARKER, nonce.as_bytes());
    let text = std::str::from_utf8(&msg).ok();
    let checked = text.map(|t| sasl::check_server_first(t, &nonce));
    let view = sasl_crate_view(&msg);
    let iterations = view
        .as_ref()
        .and_then(|v| v.get("i"))
        .and_then(|i| i.parse::<u32>().ok());
    let server_nonce = view.as_ref().and_then(|v| v.get("r")).cloned();

    if let Some(Ok(())) = checked {
        let i = iterations.expect("an accepted message has an iteration count");
        assert!(
            (sasl::MIN_ITERATIONS..=sasl::MAX_ITERATIONS).contains(&i),
            "accepted, and the sasl crate would hash {i} iterations"
        );
        let r = server_nonce.as_deref().expect("an accepted message has r=");
        assert!(r.starts_with(&nonce) && r.len() > nonce.len());
        if i > FUZZ_MAX_ITERATIONS {
            // Accepted, but too slow to hash on every run.
            return;
        }
    }

    let must_accept = checked == Some(Ok(())) && text.is_some_and(|t| !has_server_error(t));
    match session.step(&msg) {
        Ok(Step::Respond(reply)) => {
            let text = text.expect("only UTF-8 is accepted");
            assert_eq!(checked, Some(Ok(())), "accepted without passing the checks");
            assert!(!has_server_error(text));
            let reply = String::from_utf8(reply).expect("client-final is UTF-8");
            let r = server_nonce.expect("checked above");
            let (bare, proof) = reply.rsplit_once(",p=").expect("client-final has a proof");
            assert_eq!(bare, format!("c=biws,r={r}"));
            let proof = BASE64.decode(proof).expect("the proof is base64");
            assert_eq!(proof.len(), if sha512 { 64 } else { 32 });
            // The exchange goes on: a final message without a signature
            // ends it with an error.
            assert!(session.step(b"x=y").is_err());
        }
        Ok(Step::Done) => panic!("SCRAM done after the server-first message"),
        Err(e) => {
            assert!(!must_accept, "passes the checks but is refused: {e:?}");
            match &e {
                StepError::Rejected(_) => {
                    assert!(text.is_some_and(has_server_error), "{e:?}")
                }
                StepError::Protocol(_) => {}
            }
            check_no_password(&e, &msg);
        }
    }
    assert!(session.step(b"v=AAAA").is_err(), "no step after the end");
}

fn hmac(sha512: bool, key: &[u8], data: &[u8]) -> Vec<u8> {
    if sha512 {
        let mut m = Hmac::<sha2::Sha512>::new_from_slice(key).expect("any key length");
        m.update(data);
        m.finalize().into_bytes().to_vec()
    } else {
        let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
        m.update(data);
        m.finalize().into_bytes().to_vec()
    }
}

fn hash(sha512: bool, data: &[u8]) -> Vec<u8> {
    if sha512 {
        sha2::Sha512::digest(data).to_vec()
    } else {
        sha2::Sha256::digest(data).to_vec()
    }
}

/// SaltedPassword (RFC 5802) of [`PASSWORD`], [`SALT`] and [`ITERATIONS`].
fn salted_password(sha512: bool) -> &'static [u8] {
    static SHA256: OnceLock<Vec<u8>> = OnceLock::new();
    static SHA512: OnceLock<Vec<u8>> = OnceLock::new();
    let cell = if sha512 { &SHA512 } else { &SHA256 };
    cell.get_or_init(|| {
        let mut out = vec![0; if sha512 { 64 } else { 32 }];
        let p = PASSWORD.as_bytes();
        if sha512 {
            pbkdf2::pbkdf2::<Hmac<sha2::Sha512>>(p, SALT, ITERATIONS, &mut out)
        } else {
            pbkdf2::pbkdf2::<Hmac<sha2::Sha256>>(p, SALT, ITERATIONS, &mut out)
        }
        .expect("HMAC takes any key length");
        out
    })
}

/// Layout: `[mode]` (bit 0: SCRAM-SHA-512) then a server-final message, in
/// which every `%v` stands for the right server signature in base64. The
/// client first gets a valid server-first message (its client-final proof
/// is checked against an independent computation), then the input. It must
/// finish exactly when the message's `v=` is the right signature and there
/// is no `e=`, and refuse any further message.
pub fn scram_server_final(data: &[u8]) {
    let Some((&mode, msg)) = data.split_first() else {
        return;
    };
    let (mut session, sha512, bare, nonce) = scram_client(mode);
    let server_first = format!(
        "r={nonce}{SERVER_NONCE},s={},i={ITERATIONS}",
        BASE64.encode(SALT)
    );
    let Ok(Step::Respond(client_final)) = session.step(server_first.as_bytes()) else {
        panic!("a valid server-first message is refused");
    };
    let client_final = String::from_utf8(client_final).expect("client-final is UTF-8");
    let (without_proof, proof) = client_final.rsplit_once(",p=").expect("a proof");
    let auth = format!("{bare},{server_first},{without_proof}");
    let salted = salted_password(sha512);
    let client_key = hmac(sha512, salted, b"Client Key");
    let client_sig = hmac(sha512, &hash(sha512, &client_key), auth.as_bytes());
    let expected_proof: Vec<u8> = client_key
        .iter()
        .zip(&client_sig)
        .map(|(a, b)| a ^ b)
        .collect();
    assert_eq!(proof, BASE64.encode(expected_proof), "wrong client proof");
    let server_sig = hmac(
        sha512,
        &hmac(sha512, salted, b"Server Key"),
        auth.as_bytes(),
    );

    let msg = substitute(msg, SIGNATURE_MARKER, BASE64.encode(&server_sig).as_bytes());
    let text = std::str::from_utf8(&msg).ok();
    let proves = sasl_crate_view(&msg)
        .and_then(|v| v.get("v").and_then(|v| BASE64.decode(v).ok()))
        .is_some_and(|v| v == server_sig);
    let rejected = text.is_some_and(has_server_error);
    match session.step(&msg) {
        Ok(Step::Done) => {
            assert!(proves && !rejected, "finished without the server's proof");
        }
        Ok(Step::Respond(_)) => panic!("a response to the server-final message"),
        Err(e) => {
            assert!(!proves || rejected, "the right signature is refused: {e:?}");
            assert_eq!(matches!(e, StepError::Rejected(_)), rejected, "{e:?}");
            check_no_password(&e, &msg);
        }
    }
    assert!(session.step(&msg).is_err(), "no step after the end");
}

/// An input for the SCRAM targets: the mode byte, then `msg`.
pub fn scram_input(sha512: bool, msg: &str) -> Vec<u8> {
    let mut out = vec![u8::from(sha512)];
    out.extend_from_slice(msg.as_bytes());
    out
}

// ---------------------------------------------------------------------------
// Java key stores

/// The store password [`jks`] inputs are read with, and the key password
/// their private keys are decrypted with.
pub const JKS_PASSWORD: &str = "changeit";

/// Layout: a JKS file. Read without and with [`JKS_PASSWORD`], every
/// private key decrypted with it: errors, never a panic, and nothing
/// allocated beyond the bytes present. The same bytes read with and
/// without the password give the same entries when the digest matches.
pub fn jks(data: &[u8]) {
    let unchecked = crate::tls::fuzz_jks(data, None);
    let checked = crate::tls::fuzz_jks(data, Some(JKS_PASSWORD));
    if let Ok(c) = &checked {
        assert_eq!(
            unchecked.as_ref().ok(),
            Some(c),
            "the digest changes nothing else"
        );
    }
}
