"""C, compiled by gcc."""

COMPILATION = {
    "compiler": "gcc",
    "mode": "object",
    "options": ["-O3", "-ffast-math", "-march=native", "-fPIC", "-fopenmp"],
    "debug_options": ["-fPIC", "-g", "-O0", "-fno-inline", "-Wall"],
    "profile_options": ["-p", "-g"],
    "release_options": [],
    "compile_flag": "-c",
    "output_flag": "-o",
    "language_flag": "-x c",
    "include_flag": "-I",
    "extension": "c",
    "link_options": ["-fopenmp"],  # libgomp, for code with #pragma omp
}
