//! The built site (wasm, JS, CSS, public/) embedded in the binary, so one file is the whole
//! program. The build precompresses it (brotli, gzip); we send the best variant the client
//! accepts, with an ETag so browsers revalidate instead of downloading again.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue, StatusCode, Uri};

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
    // File names do not change between builds: always revalidate (cheap, thanks to the ETag).
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Some(response)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
        .and_then(|json| app::use_split_manifest(json).map_err(|e| e.to_string()));
    if let Err(err) = parsed {
        tracing::error!(%err, "the embedded __wasm_split_manifest.json is unreadable: pages carry no preload links for split files");
    }
}
