//! Compiles the Slint screens in `ui/` into Rust, with the Chinese translation bundled.

fn main() {
    let config = slint_build::CompilerConfiguration::new()
        // Debug info lets headless tests find controls by their accessible labels.
        .with_debug_info(true)
        .with_bundled_translations("ui/translations")
        // One translation per phrase, whichever screen shows it: the .po has no contexts.
        .with_default_translation_context(slint_build::DefaultTranslationContext::None);
    slint_build::compile_with_config("ui/app.slint", config).expect("the Slint UI compiles");
    println!("cargo:rerun-if-changed=ui");
}
