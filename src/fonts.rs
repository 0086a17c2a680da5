//! The touchscreen's bundled fonts (a Noto Sans SC subset in `ui/fonts/`): which characters
//! they can show, and making sure the system's font lookup finds them.
//!
//! The subset covers ASCII, Latin-1, the punctuation and symbols receipts and screens use,
//! GB2312 and all 8,105 characters of the Table of General Standard Chinese Characters
//! (通用规范汉字表), so names such as 喆, 堃 or 燚 show on a till without any Chinese font of
//! its own. A name with a character outside it would show a blank there: the catalog import
//! warns about those ([`unshowable`]).

use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/font_coverage.rs"));

/// The regular weight, written out for fontconfig by [`ensure_fontconfig`].
const REGULAR: &[u8] = include_bytes!("../ui/fonts/NotoSansSC-Regular-subset.otf");

/// Whether both bundled weights have a glyph for `ch`. Spaces and control characters draw
/// nothing anyway, so they count as shown.
pub fn can_show(ch: char) -> bool {
    if ch.is_control() || ch.is_whitespace() {
        return true;
    }
    let cp = u32::from(ch);
    BUNDLED_FONT_COVERAGE
        .binary_search_by(|&(start, end)| {
            if end < cp {
                std::cmp::Ordering::Less
            } else if start > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// The characters of `text` the bundled fonts cannot show, each once, in order.
pub fn unshowable(text: &str) -> Vec<char> {
    let mut missing: Vec<char> = Vec::new();
    for ch in text.chars() {
        if !ch.is_ascii() && !can_show(ch) && !missing.contains(&ch) {
            missing.push(ch);
        }
    }
    missing
}

/// Writes a fontconfig configuration that knows at least the bundled font, and returns its
/// path, for `FONTCONFIG_FILE`.
///
/// Slint's font library (fontique) asks fontconfig for its generic families when it starts,
/// and panics when fontconfig knows no font at all: on a kiosk image without fonts, or with
/// an empty configuration, `till ui` crashed before showing anything. So the bundled regular
/// font is written once into `cache_dir`, with a configuration there that includes the one
/// in force (the caller's `FONTCONFIG_FILE`, or the system's `/etc/fonts/fonts.conf`, if
/// any) and adds that font. Every system font stays available. The caller points
/// `FONTCONFIG_FILE` at it before the first window (and before any thread exists, since
/// that sets an environment variable). Errors: the cache directory cannot be written.
pub fn fontconfig_with_bundled_font(cache_dir: &Path) -> std::io::Result<PathBuf> {
    let dir = cache_dir.join("fonts");
    std::fs::create_dir_all(&dir)?;
    let font = dir.join("NotoSansSC-Regular-subset.otf");
    let current = std::fs::metadata(&font).map(|m| m.len()).ok();
    if current != Some(REGULAR.len() as u64) {
        // Written under a temporary name and renamed, so a reader never sees half a font.
        let partial = dir.join(".NotoSansSC-Regular-subset.otf.partial");
        std::fs::write(&partial, REGULAR)?;
        std::fs::rename(&partial, &font)?;
    }
    let system = std::env::var_os("FONTCONFIG_FILE")
        .map(PathBuf::from)
        .filter(|p| !p.starts_with(&dir))
        .unwrap_or_else(|| PathBuf::from("/etc/fonts/fonts.conf"));
    let config = format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE fontconfig SYSTEM \"fonts.dtd\">\n<fontconfig>\n  \
         <include ignore_missing=\"yes\">{}</include>\n  <dir>{}</dir>\n  \
         <cachedir>{}</cachedir>\n</fontconfig>\n",
        xml_text(&system.to_string_lossy()),
        xml_text(&dir.to_string_lossy()),
        xml_text(&dir.join("cache").to_string_lossy()),
    );
    let config_path = dir.join("fonts.conf");
    if std::fs::read_to_string(&config_path).ok().as_deref() != Some(config.as_str()) {
        std::fs::write(&config_path, config)?;
    }
    Ok(config_path)
}

/// Where [`fontconfig_with_bundled_font`] keeps its files: the user's cache directory (never
/// a shared one such as `/tmp`, where another user could plant a font). None without a home.
pub fn default_cache_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("org", "till", "till").map(|dirs| dirs.cache_dir().to_path_buf())
}

fn xml_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_font_shows_the_whole_general_standard_table() {
        let table = include_str!("../ui/fonts/general-standard-8105.txt");
        assert_eq!(table.chars().count(), 8105);
        let missing: String = table.chars().filter(|&c| !can_show(c)).collect();
        assert_eq!(missing, "", "the bundled font cannot show these");
    }

    #[test]
    fn names_outside_the_font_are_found() {
        let check = |text: &str, expected: &[char]| {
            assert_eq!(unshowable(text), expected, "{text:?}");
        };
        check("喆 堃 燚 Coca-Cola ×2 · 37°C ± — … ① α Ж ￥", &[]);
        check("王小明", &[]);
        // Extension G and private-use characters are not in the subset.
        check("𰻝𰻝面 biangbiang", &['𰻝']);
        check("\u{E000}x\u{E000}", &['\u{E000}']);
        assert!(can_show('\n') && can_show('\u{3000}'));
    }
}
