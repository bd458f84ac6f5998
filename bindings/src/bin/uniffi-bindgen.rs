//! uniffi-bindgen of exactly the uniffi version the `monban` library is built with, so the
//! generated Python, Kotlin and Swift always match the library's scaffolding (library mode:
//! `generate --library target/<profile>/libmonban.so --language python|kotlin|swift`).

fn main() {
    uniffi::uniffi_bindgen_main()
}
