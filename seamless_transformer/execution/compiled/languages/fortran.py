"""Fortran, compiled by gfortran."""

COMPILATION = {
    "compiler": "gfortran",
    "mode": "object",
    "options": ["-O3", "-fno-automatic", "-fcray-pointer", "-ffast-math", "-march=native", "-fPIC"],
    "debug_options": ["-fPIC", "-O0", "-fno-automatic", "-fcray-pointer"],
    "profile_options": ["-p", "-g"],
    "release_options": [],
    "compile_flag": "-c",
    "output_flag": "-o",
    "language_flag": "-x f95",
    "include_flag": "-I",
    "extension": "f90",
    "link_options": ["-lgfortran"],  # the Fortran runtime (I/O, intrinsics)
}
