//! `sasl.jaas.config`: one JAAS login module with its options, as Kafka's
//! Java client reads it:
//!
//! ```text
//! org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="secret";
//! ```
//!
//! - The login module class, a control flag (`required`, `requisite`,
//!   `sufficient` or `optional`), then `name=value` options separated by
//!   whitespace, then `;`. Exactly one module, as Kafka requires.
//! - A value is either quoted with `"` or `'` (a backslash escapes the next
//!   character; `\n`, `\t`, `\r`, `\b`, `\f` are control characters), or a
//!   bare word running to the next whitespace, `;` or `=`.
//!
//! Errors never quote option values or unparsed text, since either may hold
//! the password.

use std::collections::BTreeMap;
use std::fmt;

use replicator_core::Password;

/// The JAAS control flag. Kafka accepts all four and treats them alike for
/// a single module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlFlag {
    /// `required`.
    Required,
    /// `requisite`.
    Requisite,
    /// `sufficient`.
    Sufficient,
    /// `optional`.
    Optional,
}

/// A parsed `sasl.jaas.config`. `Debug` hides every option value.
#[derive(Clone, PartialEq, Eq)]
pub struct JaasConfig {
    /// The login module class as written, e.g.
    /// `org.apache.kafka.common.security.scram.ScramLoginModule`.
    pub login_module: String,
    /// The control flag.
    pub control_flag: ControlFlag,
    options: BTreeMap<String, Password>,
    order: Vec<String>,
}

impl fmt::Debug for JaasConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JaasConfig")
            .field("login_module", &self.login_module)
            .field("control_flag", &self.control_flag)
            .field("options", &self.order)
            .finish()
    }
}

/// Which SASL login module a JAAS config names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginModule {
    /// `org.apache.kafka.common.security.plain.PlainLoginModule`.
    Plain,
    /// `org.apache.kafka.common.security.scram.ScramLoginModule`.
    Scram,
    /// Any other module (Kerberos, OAuth, AWS IAM, ...): not supported.
    Other,
}

impl JaasConfig {
    /// An option's value. Treat it as a secret.
    pub fn option(&self, name: &str) -> Option<&Password> {
        self.options.get(name)
    }

    /// Option names, in file order.
    pub fn option_names(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(String::as_str)
    }

    /// Which supported module this is. Fully qualified names and the bare
    /// class names are accepted (also inside shaded packages).
    pub fn module(&self) -> LoginModule {
        let m = self.login_module.as_str();
        let is = |pkg: &str, class: &str| {
            m == class || m == format!("{pkg}.{class}") || m.ends_with(&format!(".{pkg}.{class}"))
        };
        if is("org.apache.kafka.common.security.plain", "PlainLoginModule") {
            LoginModule::Plain
        } else if is("org.apache.kafka.common.security.scram", "ScramLoginModule") {
            LoginModule::Scram
        } else {
            LoginModule::Other
        }
    }
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Equals,
    Semicolon,
}

fn is_word_char(c: char) -> bool {
    !(c.is_whitespace() || matches!(c, ';' | '=' | '"' | '\''))
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            ';' => {
                chars.next();
                out.push(Token::Semicolon);
            }
            '=' => {
                chars.next();
                out.push(Token::Equals);
            }
            '"' | '\'' => {
                let quote = c;
                chars.next();
                let mut s = String::new();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    if c == quote {
                        closed = true;
                        break;
                    }
                    if c == '\\' {
                        match chars.next() {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some('r') => s.push('\r'),
                            Some('b') => s.push('\x08'),
                            Some('f') => s.push('\x0c'),
                            Some(other) => s.push(other),
                            None => break,
                        }
                    } else {
                        s.push(c);
                    }
                }
                if !closed {
                    return Err(format!(
                        "a value quoted with {quote} is not closed (a {quote} inside the value must be written \\{quote})"
                    ));
                }
                out.push(Token::Quoted(s));
            }
            _ => {
                let mut s = String::new();
                while let Some(&c) = chars.peek() {
                    if !is_word_char(c) {
                        break;
                    }
                    s.push(c);
                    chars.next();
                }
                out.push(Token::Word(s));
            }
        }
    }
    Ok(out)
}

const EXPECTED: &str =
    "write it as `<LoginModule class> required username=\"...\" password=\"...\";`";

/// Parses a `sasl.jaas.config` value. The error text never contains option
/// values.
pub fn parse(text: &str) -> Result<JaasConfig, String> {
    let tokens = tokenize(text)?;
    let mut it = tokens.into_iter();
    let login_module = match it.next() {
        Some(Token::Word(w)) => w,
        None => return Err(format!("it is empty; {EXPECTED}")),
        Some(_) => {
            return Err(format!(
                "it does not start with a login module class; {EXPECTED}"
            ))
        }
    };
    let control_flag = match it.next() {
        Some(Token::Word(w)) => match w.to_ascii_lowercase().as_str() {
            "required" => ControlFlag::Required,
            "requisite" => ControlFlag::Requisite,
            "sufficient" => ControlFlag::Sufficient,
            "optional" => ControlFlag::Optional,
            _ => {
                return Err(format!(
                    "the login module class is not followed by a control flag (required, requisite, sufficient or optional); {EXPECTED}"
                ))
            }
        },
        _ => {
            return Err(format!(
                "the login module class is not followed by a control flag (required, requisite, sufficient or optional); {EXPECTED}"
            ))
        }
    };
    let mut options = BTreeMap::new();
    let mut order = Vec::new();
    let mut n = 0;
    loop {
        n += 1;
        let name = match it.next() {
            Some(Token::Semicolon) => break,
            None => return Err(format!("it does not end with `;`; {EXPECTED}")),
            Some(Token::Word(w)) => w,
            Some(_) => {
                return Err(format!(
                    "option #{n} does not start with a name; {EXPECTED} (a value with spaces or `;` must be quoted)"
                ))
            }
        };
        // The name is echoed only once the option has parsed, so that a
        // stray piece of an unquoted password is never shown.
        if it.next() != Some(Token::Equals) {
            return Err(format!(
                "option #{n} has no `=` after its name; {EXPECTED} (a value with spaces or `;` must be quoted)"
            ));
        }
        let value = match it.next() {
            Some(Token::Word(v)) | Some(Token::Quoted(v)) => v,
            _ => return Err(format!("option #{n} has no value after `=`; {EXPECTED}")),
        };
        if options.insert(name.clone(), Password::new(value)).is_some() {
            return Err(format!("option {name} is given twice"));
        }
        order.push(name);
    }
    if it.next().is_some() {
        return Err(
            "there is text after the first `;`; Kafka allows exactly one login module in sasl.jaas.config"
                .into(),
        );
    }
    Ok(JaasConfig {
        login_module,
        control_flag,
        options,
        order,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_module() {
        let j = parse(r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="token" password="p4ss word";"#).unwrap();
        assert_eq!(j.module(), LoginModule::Plain);
        assert_eq!(j.control_flag, ControlFlag::Required);
        assert_eq!(j.option("username").unwrap().expose(), "token");
        assert_eq!(j.option("password").unwrap().expose(), "p4ss word");
        assert_eq!(
            j.option_names().collect::<Vec<_>>(),
            ["username", "password"]
        );
    }

    #[test]
    fn scram_module_with_unquoted_and_single_quoted_values() {
        let j = parse("  org.apache.kafka.common.security.scram.ScramLoginModule   Required\n username=alice\tpassword='it''s'  ;  ").unwrap_err();
        // Two adjacent quoted strings are two tokens: the second is not an
        // option.
        assert!(j.contains("option #3"), "{j}");
        let j = parse(r"org.apache.kafka.common.security.scram.ScramLoginModule required username=alice password='it\'s;';").unwrap();
        assert_eq!(j.module(), LoginModule::Scram);
        assert_eq!(j.option("username").unwrap().expose(), "alice");
        assert_eq!(j.option("password").unwrap().expose(), "it's;");
    }

    #[test]
    fn escapes_in_quoted_values() {
        let j = parse(r#"PlainLoginModule required username="a\"b" password="c\\d\te";"#).unwrap();
        assert_eq!(j.module(), LoginModule::Plain);
        assert_eq!(j.option("username").unwrap().expose(), "a\"b");
        assert_eq!(j.option("password").unwrap().expose(), "c\\d\te");
    }

    #[test]
    fn other_modules_are_recognised_as_other() {
        for m in [
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule",
            "com.sun.security.auth.module.Krb5LoginModule",
            "software.amazon.msk.auth.iam.IAMLoginModule",
        ] {
            let j = parse(&format!("{m} required;")).unwrap();
            assert_eq!(j.module(), LoginModule::Other, "{m}");
        }
        let j = parse("shaded.org.apache.kafka.common.security.plain.PlainLoginModule required;")
            .unwrap();
        assert_eq!(j.module(), LoginModule::Plain);
    }

    #[test]
    fn errors_never_show_values() {
        let secret = "hunter2-secret";
        for text in [
            format!("PlainLoginModule required username=\"u\" password=\"{secret}"),
            format!("PlainLoginModule required username=\"u\" password={secret} extra;"),
            format!("PlainLoginModule required username=\"u\" password={secret}"),
            format!("PlainLoginModule required password=\"{secret}\"; Other required;"),
            format!("PlainLoginModule {secret} password=x;"),
            format!("PlainLoginModule required password=;{secret}"),
        ] {
            let err = parse(&text).unwrap_err();
            assert!(!err.contains(secret), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
        let j = parse(&format!("PlainLoginModule required password=\"{secret}\";")).unwrap();
        assert!(!format!("{j:?}").contains(secret));
    }

    #[test]
    fn structure_errors() {
        assert!(parse("").unwrap_err().contains("empty"));
        assert!(parse("PlainLoginModule")
            .unwrap_err()
            .contains("control flag"));
        assert!(parse("PlainLoginModule required username=\"u\"")
            .unwrap_err()
            .contains("`;`"));
        assert!(parse("PlainLoginModule required username \"u\";")
            .unwrap_err()
            .contains("no `=`"));
        assert!(
            parse("PlainLoginModule required username=\"u\" username=\"v\";")
                .unwrap_err()
                .contains("twice")
        );
        assert!(parse("A required; B required;")
            .unwrap_err()
            .contains("exactly one"));
        assert!(parse("PlainLoginModule required;").is_ok());
    }
}
