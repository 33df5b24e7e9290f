"""Compiled transformers: C, C++, Fortran, Rust (and languages defined at run time) through CFFI.

    languages/   one module per built-in language (its compilation dict) + define_compiled_language
    schema.py    schema text → signature, C header, numpy dtypes (via seamless-signature)
    build.py     compile the objects, link the CFFI module, module cache (in process and on disk)
    call.py      check and convert the inputs, call transform(), collect the outputs
    run.py       one compiled transformation dict → its result value

Needs the `[compiled]` extra: cffi, numpy and seamless-signature.
"""
