//! Compiles the Slint screens in `ui/` into Rust, with the Chinese translation bundled, and
//! writes the code points the bundled fonts can show (`font_coverage.rs` in `OUT_DIR`), so
//! the till can tell which names would show blank.

use std::collections::BTreeSet;
use std::fmt::Write;

/// The code points every bundled weight has a glyph for, as inclusive ranges.
fn font_coverage() -> Vec<(u32, u32)> {
    let mut common: Option<BTreeSet<u32>> = None;
    for file in [
        "ui/fonts/NotoSansSC-Regular-subset.otf",
        "ui/fonts/NotoSansSC-Bold-subset.otf",
    ] {
        println!("cargo:rerun-if-changed={file}");
        let data = std::fs::read(file).expect("the bundled font is there");
        let face = ttf_parser::Face::parse(&data, 0).expect("the bundled font parses");
        let mut points = BTreeSet::new();
        for table in face.tables().cmap.expect("the font has a cmap").subtables {
            if table.is_unicode() {
                table.codepoints(|cp| {
                    if table.glyph_index(cp).is_some_and(|g| g.0 != 0) {
                        points.insert(cp);
                    }
                });
            }
        }
        common = Some(match common {
            None => points,
            Some(before) => before.intersection(&points).copied().collect(),
        });
    }
    let mut ranges: Vec<(u32, u32)> = Vec::new();
    for cp in common.unwrap_or_default() {
        match ranges.last_mut() {
            Some((_, end)) if *end + 1 == cp => *end = cp,
            _ => ranges.push((cp, cp)),
        }
    }
    ranges
}

fn main() {
    let mut out =
        String::from("/// Code points both bundled weights show, as sorted inclusive ranges.\n");
    out.push_str("pub const BUNDLED_FONT_COVERAGE: &[(u32, u32)] = &[\n");
    for (start, end) in font_coverage() {
        let _ = writeln!(out, "    (0x{start:X}, 0x{end:X}),");
    }
    out.push_str("];\n");
    let dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(format!("{dir}/font_coverage.rs"), out).expect("OUT_DIR is writable");

    let config = slint_build::CompilerConfiguration::new()
        // Debug info lets headless tests find controls by their accessible labels.
        .with_debug_info(true)
        .with_bundled_translations("ui/translations")
        // One translation per phrase, whichever screen shows it: the .po has no contexts.
        .with_default_translation_context(slint_build::DefaultTranslationContext::None);
    slint_build::compile_with_config("ui/app.slint", config).expect("the Slint UI compiles");
    println!("cargo:rerun-if-changed=ui");
}
