//! TOTP per RFC 6238 (SHA-1, 30-second steps): secrets, the otpauth URI and our verification,
//! which accepts the steps t-1, t and t+1 and refuses any step at or before the last accepted.

use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

pub const STEP_SECS: i64 = 30;
pub const DIGITS: usize = 6;
/// 160 bits, as RFC 4226 recommends.
pub const SECRET_BYTES: usize = 20;

/// The code of `secret` for the time step `step`.
pub fn code_at(secret: &[u8], digits: usize, step: i64) -> Option<String> {
    let time = u64::try_from(step.checked_mul(STEP_SECS)?).ok()?;
    // `new_unchecked`: RFC 6238's own test secret is what the vectors use; our secrets are
    // always 160 bits (SECRET_BYTES).
    Some(
        TOTP::new_unchecked(
            Algorithm::SHA1,
            digits,
            1,
            STEP_SECS as u64,
            secret.to_vec(),
        )
        .generate(time),
    )
}

/// The time step among t-1, t, t+1 (t from `now`) whose code is `code` and that is later than
/// `last_step` (a code already used, or an older one, is a replay). Compares in constant time.
pub fn matching_step(
    secret: &[u8],
    digits: usize,
    code: &str,
    now: i64,
    last_step: i64,
) -> Option<i64> {
    if code.len() != digits || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = now.div_euclid(STEP_SECS);
    let mut found = None;
    for step in [current - 1, current, current + 1] {
        let Some(expected) = code_at(secret, digits, step) else {
            continue;
        };
        let equal: bool = expected.as_bytes().ct_eq(code.as_bytes()).into();
        if equal && step > last_step && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// The secret in base32 (RFC 4648, no padding), as authenticator apps take it.
pub fn base32(secret: &[u8]) -> String {
    match Secret::Raw(secret.to_vec()).to_encoded() {
        Secret::Encoded(s) => s.trim_end_matches('=').to_string(),
        Secret::Raw(_) => String::new(),
    }
}

/// The base32 secret in groups of four, for typing.
pub fn grouped(base32: &str) -> String {
    base32
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `otpauth://totp/Gatehouse:EMAIL?secret=…&issuer=Gatehouse&algorithm=SHA1&digits=6&period=30`
pub fn otpauth_uri(email: &str, base32: &str) -> String {
    format!(
        "otpauth://totp/Gatehouse:{}?secret={base32}&issuer=Gatehouse&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        percent_encode(email)
    )
}

fn percent_encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The URI as a QR code in SVG, scannable by any authenticator app.
pub fn qr_svg(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    /// RFC 6238 Appendix B, SHA-1 column: (T, 8-digit TOTP).
    const VECTORS: [(i64, &str); 6] = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];

    #[test]
    fn rfc6238_appendix_b_vectors_pass_our_verification() {
        for (t, code) in VECTORS {
            let step = t / STEP_SECS;
            assert_eq!(
                matching_step(RFC_SECRET, 8, code, t, 0),
                Some(step),
                "T={t} code={code}"
            );
            assert_eq!(code_at(RFC_SECRET, 8, step).as_deref(), Some(code), "T={t}");
        }
    }

    #[test]
    fn accepts_one_step_either_side_and_nothing_further() {
        let t = 1_111_111_111;
        let code = "14050471";
        for (now, accepted) in [
            (t - 60, false),
            (t - 30, true),
            (t, true),
            (t + 30, true),
            (t + 60, false),
        ] {
            assert_eq!(
                matching_step(RFC_SECRET, 8, code, now, 0).is_some(),
                accepted,
                "code of T={t} checked at {now}"
            );
        }
    }

    #[test]
    fn refuses_replays_and_malformed_codes() {
        let (t, code) = VECTORS[2];
        let step = t / STEP_SECS;
        assert_eq!(matching_step(RFC_SECRET, 8, code, t, step), None, "replay");
        assert_eq!(
            matching_step(RFC_SECRET, 8, code, t, step + 1),
            None,
            "older"
        );
        assert_eq!(matching_step(RFC_SECRET, 8, code, t, step - 1), Some(step));
        assert_eq!(matching_step(RFC_SECRET, 8, "1405047", t, 0), None, "short");
        assert_eq!(
            matching_step(RFC_SECRET, 8, "1405047a", t, 0),
            None,
            "letter"
        );
        assert_eq!(
            matching_step(RFC_SECRET, 8, "14050472", t, 0),
            None,
            "wrong"
        );
    }

    #[test]
    fn otpauth_uri_and_secret_format() {
        let secret = [0u8; SECRET_BYTES];
        let b32 = base32(&secret);
        assert_eq!(b32.len(), 32, "160 bits is 32 base32 characters: {b32}");
        assert_eq!(grouped("ABCDEFGH"), "ABCD EFGH");
        assert_eq!(
            otpauth_uri("ada+x@example.com", "ABC"),
            "otpauth://totp/Gatehouse:ada%2Bx%40example.com?secret=ABC&issuer=Gatehouse&algorithm=SHA1&digits=6&period=30"
        );
        let svg = qr_svg(&otpauth_uri("ada@example.com", &b32)).expect("qr");
        assert!(svg.contains("<svg"), "{svg}");
    }
}
