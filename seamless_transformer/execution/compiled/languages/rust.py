"""Rust, compiled by rustc into a static library (no header: declare `transform` with
`#[no_mangle] pub extern "C"`)."""

COMPILATION = {
    "compiler": "rustc",
    "mode": "archive",
    "options": ["--crate-type=staticlib", "-O"],
    "debug_options": ["--crate-type=staticlib"],
    "profile_options": ["--crate-type=staticlib", "-O", "-g"],
    "release_options": [],
    "compile_flag": "",
    "output_flag": "-o",
    "language_flag": "",
    "include_flag": "",
    "extension": "rs",
    "link_options": ["-lpthread", "-ldl", "-lm"],
}
