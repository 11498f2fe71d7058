//! mail-auth's DKIM signers over the keys of a [`MonbanDkim`], shared by the
//! `dkim_compare` benchmark and the `sign_files` example (kept out of `dkim_corpus.rs`,
//! which `write_dkim_corpus` in the monban workspace compiles without mail-auth).

use monban::dkim::SigningKey;

use crate::dkim_corpus::{DOMAIN, KeyKind, MonbanDkim};

/// mail-auth's signers, relaxed/relaxed with the header names monban signs by default,
/// over the same keys as a [`MonbanDkim`].
pub struct MailAuthSigners {
    rsa: mail_auth::dkim::DkimSigner<
        mail_auth::crypto::RsaKey<mail_auth::crypto::Sha256>,
        mail_auth::signer::Ready,
    >,
    ed25519: mail_auth::dkim::DkimSigner<mail_auth::crypto::Ed25519Key, mail_auth::signer::Ready>,
}

impl MailAuthSigners {
    /// Signers with `monban`'s keys (PKCS#8 DER handed over).
    pub fn new(monban: &MonbanDkim) -> Self {
        use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
        use mail_auth::crypto::{Ed25519Key, RsaKey, Sha256};
        let pkcs8 = |key: &SigningKey| -> Vec<u8> {
            let der: Pkcs8V1Der<'static> = match key {
                SigningKey::Rsa(k) => k.as_der().expect("PKCS#8"),
                SigningKey::Ed25519(k) => k.as_der().expect("PKCS#8"),
            };
            der.as_ref().to_vec()
        };
        let rsa_der = pkcs8(&monban.rsa);
        let rsa_key =
            RsaKey::<Sha256>::from_key_der(rsa_der.as_slice().try_into().expect("PKCS#8 DER"))
                .expect("mail-auth reads the RSA key");
        let ed_key = Ed25519Key::from_pkcs8_der(&pkcs8(&monban.ed25519))
            .expect("mail-auth reads the Ed25519 key");
        Self {
            rsa: mail_auth_signer(rsa_key, KeyKind::Rsa),
            ed25519: mail_auth_signer(ed_key, KeyKind::Ed25519),
        }
    }

    /// Signs one message; the whole `DKIM-Signature` field (name, value, CRLF).
    pub fn sign(&self, message: &[u8], kind: KeyKind) -> String {
        use mail_auth::headers::HeaderWriter as _;
        let sig = match kind {
            KeyKind::Rsa => self.rsa.sign(message),
            KeyKind::Ed25519 => self.ed25519.sign(message),
        };
        sig.expect("mail-auth signs").to_header()
    }

    /// Signs every message; the total length of the signature fields.
    pub fn sign_corpus<T: AsRef<[u8]>>(&self, messages: &[T], kind: KeyKind) -> usize {
        messages
            .iter()
            .map(|m| self.sign(m.as_ref(), kind).len())
            .sum()
    }
}

/// A relaxed/relaxed mail-auth signer listing the header names monban signs by default.
fn mail_auth_signer<K: mail_auth::crypto::SigningKey>(
    key: K,
    kind: KeyKind,
) -> mail_auth::dkim::DkimSigner<K, mail_auth::signer::Ready> {
    use mail_auth::dkim::Canonicalization;
    mail_auth::dkim::DkimSigner::from_key(key)
        .domain(DOMAIN)
        .selector(kind.selector())
        .headers(monban::dkim::sign::DEFAULT_SIGNED.iter().copied())
        .header_canonicalization(Canonicalization::Relaxed)
        .body_canonicalization(Canonicalization::Relaxed)
}
