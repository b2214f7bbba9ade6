//! The server key: encrypts TOTP secrets at rest (AES-256-GCM) and keys the hashes of
//! recovery codes (HMAC-SHA256), so a stolen database alone reveals neither.
//!
//! The key comes from configuration (`GATEHOUSE_SECRET_KEY`, 64 hex digits) or is generated
//! once into `<data dir>/secret.key` with mode 0600. Replicas sharing one database must share
//! the key.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::path::Path;

const KEY_FILE: &str = "secret.key";
/// Ciphertexts are stored as `v1:` + hex(nonce ‖ ciphertext), so the scheme can change later.
const VERSION: &str = "v1:";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the secret key must be 64 hexadecimal digits (32 bytes)")]
    Malformed,
    #[error("cannot read or create the secret key file {0}: {1}")]
    Io(String, std::io::Error),
}

#[derive(Clone)]
pub struct SecretKey {
    key: [u8; 32],
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

impl SecretKey {
    pub fn from_hex(raw: &str) -> Result<Self, KeyError> {
        let bytes = hex::decode(raw.trim()).map_err(|_| KeyError::Malformed)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Malformed)?;
        Ok(Self { key })
    }

    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self { key }
    }

    /// The configured key, else the one in the data directory, else a new one saved there.
    pub fn load_or_create(configured: Option<&str>, data_dir: &Path) -> Result<Self, KeyError> {
        if let Some(raw) = configured {
            return Self::from_hex(raw);
        }
        let path = data_dir.join(KEY_FILE);
        let shown = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(raw) => Self::from_hex(&raw),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir).map_err(|e| KeyError::Io(shown.clone(), e))?;
                let key = Self::generate();
                write_private(&path, &hex::encode(key.key)).map_err(|e| KeyError::Io(shown, e))?;
                Ok(key)
            }
            Err(e) => Err(KeyError::Io(shown, e)),
        }
    }

    /// Encrypts `plaintext`; `context` (e.g. "totp:42") is authenticated with it, so a
    /// ciphertext copied to another user's row does not decrypt.
    pub fn encrypt(&self, plaintext: &[u8], context: &str) -> String {
        let cipher = Aes256Gcm::new((&self.key).into());
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext,
            aad: context.as_bytes(),
        };
        // Encryption fails only for inputs of gigabytes; ours are 20 bytes.
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{VERSION}{}", hex::encode(out))
    }

    pub fn decrypt(&self, stored: &str, context: &str) -> Option<Vec<u8>> {
        let bytes = hex::decode(stored.strip_prefix(VERSION)?).ok()?;
        if bytes.len() < 12 + 16 {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(12);
        let cipher = Aes256Gcm::new((&self.key).into());
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: context.as_bytes(),
                },
            )
            .ok()
    }

    /// HMAC-SHA256 of `message` under a key derived for `purpose`, as hex.
    pub fn keyed_hash(&self, purpose: &str, message: &str) -> String {
        let mut derive = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .expect("HMAC takes keys of any length");
        derive.update(purpose.as_bytes());
        let subkey = derive.finalize().into_bytes();
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&subkey).expect("HMAC takes keys of any length");
        mac.update(message.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_binds_the_context() {
        let key = SecretKey::generate();
        let sealed = key.encrypt(b"JBSWY3DPEHPK3PXP", "totp:1");
        assert!(sealed.starts_with("v1:"), "{sealed}");
        assert!(!sealed.contains("JBSWY3DP"), "{sealed}");
        assert_eq!(
            key.decrypt(&sealed, "totp:1").as_deref(),
            Some(&b"JBSWY3DPEHPK3PXP"[..])
        );
        assert_eq!(key.decrypt(&sealed, "totp:2"), None, "another user's row");
        assert_eq!(SecretKey::generate().decrypt(&sealed, "totp:1"), None);
        assert_eq!(key.decrypt("v1:zz", "totp:1"), None);
        assert_eq!(key.decrypt("garbage", "totp:1"), None);
    }

    #[test]
    fn key_file_is_created_once_with_mode_0600() {
        let dir = std::env::temp_dir().join(format!("gatehouse-key-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = SecretKey::load_or_create(None, &dir).expect("creates");
        let second = SecretKey::load_or_create(None, &dir).expect("reads");
        assert_eq!(first.key, second.key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(KEY_FILE))
                .expect("key file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
        }
        let _ = std::fs::remove_dir_all(&dir);
        assert!(matches!(
            SecretKey::from_hex("abc"),
            Err(KeyError::Malformed)
        ));
    }
}
