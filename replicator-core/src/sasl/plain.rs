//! SASL PLAIN (RFC 4616): `authzid NUL authcid NUL passwd`.

/// The PLAIN message for `username` and `password`, with an empty authzid
/// (Kafka then authorizes as the username).
pub(crate) fn plain_token(username: &str, password: &str) -> Result<Vec<u8>, String> {
    if username.contains('\0') {
        return Err("the SASL username contains a NUL character, which PLAIN cannot carry".into());
    }
    if password.contains('\0') {
        return Err("the SASL password contains a NUL character, which PLAIN cannot carry".into());
    }
    let mut token = Vec::with_capacity(2 + username.len() + password.len());
    token.push(0);
    token.extend_from_slice(username.as_bytes());
    token.push(0);
    token.extend_from_slice(password.as_bytes());
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_rfc4616() {
        assert_eq!(plain_token("u", "p").unwrap(), b"\0u\0p");
        assert_eq!(
            plain_token("jürgen", "pässword").unwrap(),
            "\0jürgen\0pässword".as_bytes()
        );
    }

    #[test]
    fn nul_is_refused_without_echoing_the_password() {
        let err = plain_token("u", "se\0cret").unwrap_err();
        assert!(!err.contains("se"), "{err}");
        assert!(plain_token("u\0", "p").is_err());
    }
}
