//! The console's static files, compiled into the binary: its stylesheet and
//! htmx (vendored from npm's lockfile, `crates/cove-console/web`). Each is served
//! under a name with its content hash, cached for a year, gzip'd when the browser
//! takes it.

use std::io::Write;
use std::sync::OnceLock;

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Its name (`console.css`).
    pub name: &'static str,
    /// Its MIME type.
    pub content_type: &'static str,
    /// Its bytes.
    pub bytes: &'static [u8],
}

/// Every embedded file.
pub const ASSETS: [Asset; 2] = [
    Asset {
        name: "console.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/console.css"),
    },
    Asset {
        name: "htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/vendor/htmx.min.js"),
    },
];

/// An asset ready to serve.
#[derive(Debug)]
pub struct Served {
    /// The asset.
    pub asset: &'static Asset,
    /// Its content hash.
    pub hash: String,
    /// Its URL path (`/console/assets/<hash>/<name>`).
    pub path: String,
    /// Its gzip'd bytes.
    pub gzip: Vec<u8>,
}

/// FNV-1a, 64 bits, as hex: names a version of an asset (not a security hash).
pub fn content_hash(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// `bytes` gzip'd at the best compression.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing into a Vec cannot fail.
    let _ = e.write_all(bytes);
    e.finish().unwrap_or_default()
}

/// Every asset, prepared once.
pub fn served() -> &'static [Served] {
    static SERVED: OnceLock<Vec<Served>> = OnceLock::new();
    SERVED.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let hash = content_hash(a.bytes);
                Served {
                    asset: a,
                    path: format!("/console/assets/{hash}/{}", a.name),
                    hash,
                    gzip: gzip(a.bytes),
                }
            })
            .collect()
    })
}

/// The URL path of the asset `name`.
pub fn path_of(name: &str) -> String {
    served()
        .iter()
        .find(|s| s.asset.name == name)
        .map(|s| s.path.clone())
        .unwrap_or_default()
}

/// The asset at `hash/name`.
pub fn find(hash: &str, name: &str) -> Option<&'static Served> {
    served()
        .iter()
        .find(|s| s.asset.name == name && s.hash == hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_are_found_by_their_hashed_path_only() {
        let css = path_of("console.css");
        let (_, rest) = css.split_at("/console/assets/".len());
        let (hash, name) = rest.split_once('/').expect("hash/name");
        assert_eq!(hash.len(), 16);
        assert!(find(hash, name).is_some());
        assert!(find("0000000000000000", name).is_none());
        assert!(find(hash, "other.css").is_none());
    }

    #[test]
    fn the_vendored_htmx_is_the_locked_version() {
        let js = std::str::from_utf8(ASSETS[1].bytes).expect("utf-8");
        let lock: serde_json::Value =
            serde_json::from_str(include_str!("../web/package-lock.json")).expect("lockfile");
        let version = lock["packages"]["node_modules/htmx.org"]["version"]
            .as_str()
            .expect("version");
        assert!(
            js.contains(&format!("version:\"{version}\"")),
            "htmx.min.js is not {version}"
        );
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read;
        let z = gzip(ASSETS[0].bytes);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(z.as_slice())
            .read_to_end(&mut back)
            .expect("gunzip");
        assert_eq!(back, ASSETS[0].bytes);
        assert!(z.len() < ASSETS[0].bytes.len());
    }
}
