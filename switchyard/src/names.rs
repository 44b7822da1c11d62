//! Names users type: app names must be DNS-1123 labels (they become object names).

use crate::exit::{Error, Exit};

/// Checks that `name` can name an app: a DNS-1123 label short enough that
/// `NAME-preview` and `switchyard-NAME` still fit in 63 characters.
pub fn check_app_name(name: &str) -> Result<(), Error> {
    let valid = !name.is_empty()
        && name.len() <= 52
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-');
    if valid {
        Ok(())
    } else {
        Err(Error::new(
            Exit::Usage,
            format!("invalid app name {name:?}: not a DNS-1123 label"),
        )
        .hint(
            "use lowercase letters, digits and '-', starting with a letter, at most 52 characters",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names() {
        for ok in ["web", "web-2", "a"] {
            assert!(check_app_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Web",
            "web_1",
            "-web",
            "web-",
            "2web",
            "a.b",
            &"a".repeat(53),
        ] {
            assert_eq!(check_app_name(bad).unwrap_err().exit, Exit::Usage, "{bad}");
        }
    }
}
