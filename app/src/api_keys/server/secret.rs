//! The key itself: `gth_` + 30 random base62 characters + a 6-character CRC-32 checksum
//! (SPEC.md "API keys"). Parsing checks the shape and checksum, so a typo is refused before
//! any database work.

use crate::error::AppError;
use rand::distributions::{Alphanumeric, Distribution};
use sha2::{Digest, Sha256};

pub const PREFIX: &str = "gth_";
const RANDOM_LEN: usize = 30;
const CHECKSUM_LEN: usize = 6;
pub const KEY_LEN: usize = PREFIX.len() + RANDOM_LEN + CHECKSUM_LEN;
/// How much of a key lists show: the prefix and 6 random characters.
const SHOWN_LEN: usize = PREFIX.len() + 6;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A well-formed key with a valid checksum. Not yet known to be a live key.
pub struct ApiKeySecret(String);

impl ApiKeySecret {
    /// A new key from the operating system's random source.
    pub fn generate() -> Self {
        let random: String = Alphanumeric
            .sample_iter(rand::rngs::OsRng)
            .take(RANDOM_LEN)
            .map(char::from)
            .collect();
        let checksum = checksum(&random);
        Self(format!("{PREFIX}{random}{checksum}"))
    }

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let body = raw.strip_prefix(PREFIX).ok_or(AppError::ApiKeyInvalid)?;
        if raw.len() != KEY_LEN || !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(AppError::ApiKeyInvalid);
        }
        let (random, given) = body.split_at(RANDOM_LEN);
        if checksum(random) != given {
            return Err(AppError::ApiKeyInvalid);
        }
        Ok(Self(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What is stored and looked up: hex SHA-256 of the whole key. A 178-bit random secret
    /// needs no slow hash.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }

    /// The start of the key, shown in lists.
    pub fn shown_prefix(&self) -> String {
        self.0[..SHOWN_LEN].to_string()
    }
}

/// CRC-32 (IEEE) of the random part, in base62, most significant digit first, 0-padded.
fn checksum(random: &str) -> String {
    let mut n = crc32fast::hash(random.as_bytes());
    let mut digits = [b'0'; CHECKSUM_LEN];
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8_lossy(&digits).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_spec_shape_and_parse() {
        for _ in 0..100 {
            let key = ApiKeySecret::generate();
            let raw = key.expose().to_string();
            assert_eq!(raw.len(), 40, "{raw}");
            assert!(raw.starts_with("gth_"), "{raw}");
            assert!(ApiKeySecret::parse(&raw).is_ok(), "{raw}");
            assert_eq!(key.hash().len(), 64);
            assert_eq!(key.shown_prefix(), raw[..10]);
        }
    }

    #[test]
    fn checksum_is_crc32_in_base62() {
        // zlib's crc32(b"123456789") = 0xCBF43926 = 3421780262 = "3jZRME" in base62 (0-9A-Za-z).
        assert_eq!(checksum("123456789"), "3jZRME");
        assert_eq!(checksum(""), "000000");
    }

    #[test]
    fn typos_and_bad_shapes_are_refused() {
        let raw = ApiKeySecret::generate().expose().to_string();
        // One changed character in the random part.
        let mut typo = raw.clone().into_bytes();
        typo[10] = if typo[10] == b'a' { b'b' } else { b'a' };
        let typo = String::from_utf8(typo).expect("ascii");
        for bad in [
            typo.as_str(),
            &raw[..39],
            &format!("{raw}x"),
            &raw.replace("gth_", "ghp_"),
            &format!("{}-{}", &raw[..20], &raw[21..]),
            "",
            "gth_ääää",
        ] {
            assert_eq!(
                ApiKeySecret::parse(bad).err(),
                Some(AppError::ApiKeyInvalid),
                "{bad}"
            );
        }
    }
}
