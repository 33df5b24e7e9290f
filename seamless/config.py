"""`seamless.config`: the settings of this process (seamless_transformer.config, re-exported).

    init(workdir=None)            read seamless.yaml / seamless.profile.yaml in workdir (default: cwd)
    set_stage(stage, substage=None)
    select_record(flag)           True: full execution records; None: back to the config file
    set_nparallel(n) / get_nparallel()
"""

from seamless_transformer.config import get_nparallel, init, select_record, set_nparallel, set_stage

__all__ = ["get_nparallel", "init", "select_record", "set_nparallel", "set_stage"]
