//! The built site (wasm, JS, CSS, public/) embedded in the binary, so one file is the whole
//! program. The build precompresses it (brotli, gzip); we send the best variant the client
//! accepts, with an ETag so browsers revalidate instead of downloading again.
//!
//! Pages link the wasm and its JS under `/pkg/<build>/` (see [`build_id`]): those files are
//! cached for good, and a page from another build never mixes its files with this build's.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use std::sync::OnceLock;

#[derive(rust_embed::RustEmbed)]
#[folder = "../target/site/"]
struct Site;

/// The response for `uri` if it names an embedded file.
pub fn serve(uri: &Uri, headers: &HeaderMap) -> Option<Response> {
    let path = uri.path().trim_start_matches('/');
    // Debug builds read the folder from disk: never let a path climb out of it.
    if path.is_empty() || path.split('/').any(|segment| segment == "..") {
        return None;
    }
    let (path, immutable) = locate(path, build_id());
    let path = path.as_str();
    let file = Site::get(path)?;
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..8]));
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag))
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let accepted = headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let encoded = [("br", "br"), ("gzip", "gz")]
            .into_iter()
            .find_map(|(encoding, ext)| {
                if !accepted.contains(encoding) {
                    return None;
                }
                Site::get(&format!("{path}.{ext}")).map(|f| (encoding, f))
            });
        let mut response = match encoded {
            Some((encoding, variant)) => {
                let mut r = Body::from(variant.data.into_owned()).into_response();
                r.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
                r
            }
            None => Body::from(file.data.into_owned()).into_response(),
        };
        let mime = mime_guess::from_path(path).first_or_octet_stream();
        if let Ok(v) = HeaderValue::from_str(mime.as_ref()) {
            response.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        response
    };
    let h = response.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    // A file under this build's name never changes; other paths (the stylesheet, public/)
    // keep their names from build to build: revalidate (cheap, thanks to the ETag).
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    Some(response)
}

/// The embedded file a request path names, and whether it was named under this build's name
/// (`pkg/<build>/file` is `pkg/file`); under another build's name it names no file.
fn locate(path: &str, build: &str) -> (String, bool) {
    match path
        .strip_prefix("pkg/")
        .and_then(|rest| rest.split_once('/'))
    {
        Some((named, file)) if named == build => (format!("pkg/{file}"), true),
        _ => (path.to_string(), false),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// This build's name: a hash of the names and contents of the embedded `pkg/` files.
///
/// The wasm is split into the shell and the pages' units (`--split`), which only work with the
/// shell they were built with, under the same file names in every build. Pages load them from
/// `/pkg/<build>/`, so a browser that still shows a page of an earlier build (a tab left open
/// over an upgrade, a replica not yet upgraded) gets a 404 for this build's files rather than
/// parts that do not fit its shell; the page keeps working as plain HTML forms until reloaded.
/// Replicas running the same binary compute the same name.
pub fn build_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let mut files: Vec<_> = Site::iter()
            .filter(|name| name.starts_with("pkg/"))
            .collect();
        files.sort();
        // FNV-1a over each name and its SHA-256: stable across processes and Rust versions.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for name in files {
            let digest = Site::get(&name)
                .map(|f| f.metadata.sha256_hash())
                .unwrap_or_default();
            for byte in name.as_bytes().iter().chain(digest.iter()) {
                hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        format!("{hash:016x}")
    })
}

/// Where pages link the site's wasm and JS: `pkg/<build>` (see [`build_id`]).
pub fn pkg_dir() -> String {
    format!("pkg/{}", build_id())
}

/// Whether the site was embedded (false in a build made before the wasm was built).
pub fn has_site() -> bool {
    Site::get("pkg/gatehouse.js").is_some()
}

/// Hands the split manifest of a `--split` build (which files each lazily loaded unit needs)
/// to the app, for the preload links of its pages. Leptos would read it from the site folder
/// on disk, which an embedded site does not have.
pub fn use_split_manifest() {
    let Some(file) = Site::get("pkg/__wasm_split_manifest.json") else {
        return;
    };
    let parsed = std::str::from_utf8(&file.data)
        .map_err(|e| e.to_string())
        .and_then(|json| {
            app::use_split_manifest(json, &format!("/{}", pkg_dir())).map_err(|e| e.to_string())
        });
    if let Err(err) = parsed {
        tracing::error!(%err, "the embedded __wasm_split_manifest.json is unreadable: pages carry no preload links for split files");
    }
}

#[cfg(test)]
mod tests {
    use super::locate;

    #[test]
    fn files_under_this_builds_name_are_the_pkg_files() {
        assert_eq!(
            locate("pkg/0123abcd/chunk_7.wasm", "0123abcd"),
            ("pkg/chunk_7.wasm".into(), true)
        );
        assert_eq!(
            locate("pkg/0123abcd/gatehouse.js", "0123abcd"),
            ("pkg/gatehouse.js".into(), true)
        );
    }

    #[test]
    fn another_builds_name_and_plain_paths_are_not_rewritten() {
        // Another build's chunk stays a path that names no embedded file: a 404.
        assert_eq!(
            locate("pkg/ffffeeee/chunk_7.wasm", "0123abcd"),
            ("pkg/ffffeeee/chunk_7.wasm".into(), false)
        );
        assert_eq!(
            locate("pkg/gatehouse.css", "0123abcd"),
            ("pkg/gatehouse.css".into(), false)
        );
        assert_eq!(
            locate("favicon.svg", "0123abcd"),
            ("favicon.svg".into(), false)
        );
    }
}
