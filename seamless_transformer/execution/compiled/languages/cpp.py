"""C++, compiled by g++ with the flags of C."""

from .c import COMPILATION as _C

COMPILATION = {**_C, "compiler": "g++", "language_flag": "-x c++", "extension": "cpp",
               "link_options": ["-fopenmp", "-lstdc++"]}
