//! Identifiers, time and the caller-supplied randomness.
//!
//! The crate never reads a clock or a random source: every command that needs
//! either gets an [`Env`] from its caller. Ids are derived from `Env::random` with
//! SHA-256 (AWS's shape: a prefix and 17 hex digits) and are unique within the state
//! by construction, so a replayed command with the same `Env` gives the same result.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

/// Seconds since the Unix epoch (UTC).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct UnixTime(pub u64);

impl utoipa::PartialSchema for UnixTime {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        u64::schema()
    }
}

impl ToSchema for UnixTime {}

impl UnixTime {
    /// This time plus `secs` seconds (saturating).
    pub fn plus(self, secs: u64) -> UnixTime {
        UnixTime(self.0.saturating_add(secs))
    }
}

/// What a command may not produce itself: the current time and 32 random bytes (the
/// caller draws them from the operating system's generator for every command).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Env {
    /// The time of the command.
    pub now: UnixTime,
    /// Fresh random bytes: ids and token secrets are derived from them.
    pub random: [u8; 32],
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// The prefix of every id of this kind.
            pub const PREFIX: &'static str = $prefix;

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                String::schema()
            }
        }

        impl ToSchema for $name {}
    };
}

id_type!(
    /// A tenant (`ten-…`).
    TenantId,
    "ten"
);
id_type!(
    /// An API token (`tok-…`); the secret itself is never stored.
    TokenId,
    "tok"
);
id_type!(
    /// A Secure Compute network (`net-…`).
    NetworkId,
    "net"
);
id_type!(
    /// A VPC peering connection (`pcx-…`, AWS's prefix).
    PeeringId,
    "pcx"
);

/// Mints ids unique within a state from one command's random bytes.
pub(crate) struct Fresh<'a> {
    random: [u8; 32],
    counter: u32,
    taken: &'a BTreeSet<&'a str>,
    minted: BTreeSet<String>,
}

impl<'a> Fresh<'a> {
    /// A minter that avoids every id in `taken`.
    pub(crate) fn new(env: &Env, taken: &'a BTreeSet<&'a str>) -> Self {
        Fresh {
            random: env.random,
            counter: 0,
            taken,
            minted: BTreeSet::new(),
        }
    }

    fn digest(&mut self, what: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.random);
        h.update(self.counter.to_le_bytes());
        h.update(what.as_bytes());
        self.counter = self.counter.wrapping_add(1);
        h.finalize().into()
    }

    fn unique(&mut self, mut make: impl FnMut(&[u8; 32]) -> String, what: &str) -> String {
        loop {
            let d = self.digest(what);
            let id = make(&d);
            if !self.taken.contains(id.as_str()) && !self.minted.contains(&id) {
                self.minted.insert(id.clone());
                return id;
            }
        }
    }

    /// `prefix-` and 17 hex digits, AWS's shape (`vpc-0a1b…`).
    pub(crate) fn id(&mut self, prefix: &str) -> String {
        self.unique(
            |d| {
                let hex = hex(&d[..9]);
                format!("{prefix}-{}", &hex[..17])
            },
            prefix,
        )
    }

    /// A 12-digit account id.
    pub(crate) fn account_id(&mut self) -> String {
        self.unique(
            |d| {
                let mut b = [0u8; 8];
                b.copy_from_slice(&d[..8]);
                format!("{:012}", u64::from_le_bytes(b) % 1_000_000_000_000)
            },
            "account",
        )
    }

    /// 32 bytes for a secret, distinct from everything minted before.
    pub(crate) fn secret(&mut self) -> [u8; 32] {
        self.digest("secret")
    }
}

/// Lowercase hexadecimal.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// RFC 4648 base32, lowercase, without padding (52 characters for 32 bytes): only
/// letters and digits, so a token is selected whole by a double click.
pub(crate) fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::new();
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for b in bytes {
        acc = (acc << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

/// SHA-256 of `text`, in hex.
pub(crate) fn sha256_hex(text: &[u8]) -> String {
    hex(&Sha256::digest(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc4648_vectors() {
        // RFC 4648 §10, lowercased and without padding.
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "my");
        assert_eq!(base32(b"fo"), "mzxq");
        assert_eq!(base32(b"foo"), "mzxw6");
        assert_eq!(base32(b"foob"), "mzxw6yq");
        assert_eq!(base32(b"fooba"), "mzxw6ytb");
        assert_eq!(base32(b"foobar"), "mzxw6ytboi");
        assert_eq!(base32(&[0xff; 32]).len(), 52);
    }

    #[test]
    fn ids_avoid_taken_ones_and_each_other() {
        let env = Env {
            now: UnixTime(0),
            random: [7; 32],
        };
        let empty = BTreeSet::new();
        let first = Fresh::new(&env, &empty).id("vpc");
        assert!(
            first.starts_with("vpc-") && first.len() == 4 + 17,
            "{first}"
        );
        let taken: BTreeSet<&str> = [first.as_str()].into();
        let mut f = Fresh::new(&env, &taken);
        let (a, b) = (f.id("vpc"), f.id("vpc"));
        assert_ne!(a, first);
        assert_ne!(a, b);
        let acct = f.account_id();
        assert!(acct.len() == 12 && acct.chars().all(|c| c.is_ascii_digit()));
    }
}
