//! Secrets that must never reach logs, `Debug` output or error messages.

use std::fmt;

/// A password or other secret string.
///
/// `Debug` prints `***`, and there is deliberately no `Display`: the only way
/// to read the value is [`Password::expose`], which makes every use easy to
/// find in review.
///
/// ```
/// use replicator_core::Password;
///
/// let p = Password::new("hunter2");
/// assert_eq!(format!("{p:?}"), "***");
/// assert_eq!(p.expose(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself. Do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<&str> for Password {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<String> for Password {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl Drop for Password {
    fn drop(&mut self) {
        // Best effort: overwrite the bytes before the allocation is freed.
        // (Safe code cannot stop copies the optimiser or callers made.)
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.iter_mut().for_each(|b| *b = 0);
        std::hint::black_box(&bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let p = Password::new("s3cr3t");
        assert_eq!(format!("{p:?}"), "***");
        assert_eq!(format!("{:#?}", Some(p.clone())), "Some(\n    ***,\n)");
        assert!(!format!("{p:?}").contains("s3cr3t"));
    }
}
