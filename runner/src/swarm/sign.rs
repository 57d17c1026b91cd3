//! ed25519 keys and [`Signed`] payloads.
//!
//! The coordinator signs every job spec it hands out and agents refuse a spec that does
//! not verify with the coordinator's key; agents sign their results and the coordinator
//! rejects a result that does not verify with the key the agent registered. What is
//! signed is the payload's JSON text exactly as sent, so verifying never depends on
//! serializing the same value the same way twice.
//!
//! A key file holds the 32-byte secret seed as 64 hex digits and a newline, mode 0600.

use super::api::Signed;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;

/// Why a key could not be read or a payload not verified.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// A key that is not 64 hex digits, or not a valid ed25519 point.
    #[error("bad key: {0}")]
    BadKey(String),
    /// The key file could not be read or written.
    #[error("key file {path}: {source}")]
    KeyFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
    /// The signature is malformed or does not match the payload and key.
    #[error("the signature does not verify")]
    BadSignature,
    /// The payload verified but is not the JSON expected.
    #[error("the signed payload is not valid: {0}")]
    BadPayload(#[source] serde_json::Error),
}

/// A secret key and its public half.
#[derive(Clone)]
pub struct Keypair(SigningKey);

impl std::fmt::Debug for Keypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        write!(f, "Keypair(public {})", self.public_hex())
    }
}

impl Keypair {
    /// A fresh key from the operating system's randomness.
    pub fn generate() -> Keypair {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the operating system has no randomness");
        Keypair(SigningKey::from_bytes(&seed))
    }

    /// The key whose secret seed is `hex` (64 hex digits).
    pub fn from_hex(hex: &str) -> Result<Keypair, SignError> {
        let bytes = hex::decode(hex.trim()).map_err(|e| SignError::BadKey(e.to_string()))?;
        let seed: [u8; 32] = bytes
            .try_into()
            .map_err(|_| SignError::BadKey("a secret key is 32 bytes (64 hex digits)".into()))?;
        Ok(Keypair(SigningKey::from_bytes(&seed)))
    }

    /// The secret seed as 64 hex digits.
    pub fn secret_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }

    /// The public key as 64 hex digits.
    pub fn public_hex(&self) -> String {
        hex::encode(self.0.verifying_key().to_bytes())
    }

    /// Reads the key at `path`, or makes one there (mode 0600) when the file is missing.
    pub fn load_or_create(path: &Path) -> Result<Keypair, SignError> {
        let err = |source| SignError::KeyFile {
            path: path.to_path_buf(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Keypair::from_hex(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Keypair::generate();
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(err)?;
                }
                use std::io::Write;
                use std::os::unix::fs::OpenOptionsExt;
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(err)?;
                file.write_all(format!("{}\n", key.secret_hex()).as_bytes())
                    .map_err(err)?;
                Ok(key)
            }
            Err(e) => Err(err(e)),
        }
    }

    /// Serializes `value` and signs the text.
    pub fn sign<T: Serialize>(&self, value: &T) -> Signed {
        let payload = serde_json::to_string(value).expect("API types serialize");
        let signature = hex::encode(self.0.sign(payload.as_bytes()).to_bytes());
        Signed { payload, signature }
    }
}

/// Checks `signed` against the public key `public_hex`, then parses its payload.
pub fn verify<T: DeserializeOwned>(signed: &Signed, public_hex: &str) -> Result<T, SignError> {
    let key = public_key(public_hex)?;
    let sig = hex::decode(signed.signature.trim()).map_err(|_| SignError::BadSignature)?;
    let sig: [u8; 64] = sig.try_into().map_err(|_| SignError::BadSignature)?;
    key.verify(signed.payload.as_bytes(), &Signature::from_bytes(&sig))
        .map_err(|_| SignError::BadSignature)?;
    serde_json::from_str(&signed.payload).map_err(SignError::BadPayload)
}

/// Checks that `public_hex` is an ed25519 public key.
pub fn public_key(public_hex: &str) -> Result<VerifyingKey, SignError> {
    let bytes = hex::decode(public_hex.trim()).map_err(|e| SignError::BadKey(e.to_string()))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| SignError::BadKey("a public key is 32 bytes (64 hex digits)".into()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| SignError::BadKey(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_payload_verifies_with_its_key_only() {
        let key = Keypair::generate();
        let other = Keypair::generate();
        let signed = key.sign(&vec!["a", "b"]);
        let back: Vec<String> = verify(&signed, &key.public_hex()).unwrap();
        assert_eq!(back, ["a", "b"]);
        assert!(matches!(
            verify::<Vec<String>>(&signed, &other.public_hex()),
            Err(SignError::BadSignature)
        ));
    }

    #[test]
    fn a_changed_payload_or_signature_fails() {
        let key = Keypair::generate();
        let mut signed = key.sign(&serde_json::json!({"job": 1}));
        signed.payload = signed.payload.replace('1', "2");
        assert!(matches!(
            verify::<serde_json::Value>(&signed, &key.public_hex()),
            Err(SignError::BadSignature)
        ));
        let mut signed = key.sign(&serde_json::json!({"job": 1}));
        signed.signature.replace_range(0..2, "00");
        signed.signature.replace_range(2..4, "ff");
        assert!(verify::<serde_json::Value>(&signed, &key.public_hex()).is_err());
        signed.signature = "zz".into();
        assert!(verify::<serde_json::Value>(&signed, &key.public_hex()).is_err());
    }

    #[test]
    fn keys_round_trip_through_hex_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/agent.key");
        let made = Keypair::load_or_create(&path).unwrap();
        let read = Keypair::load_or_create(&path).unwrap();
        assert_eq!(made.public_hex(), read.public_hex());
        assert_eq!(
            Keypair::from_hex(&made.secret_hex()).unwrap().public_hex(),
            made.public_hex()
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(Keypair::from_hex("abcd").is_err());
        assert!(public_key("not hex").is_err());
    }
}
