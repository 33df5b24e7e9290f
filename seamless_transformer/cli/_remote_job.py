"""seamless-run --dry --write-remote-job DIR: a job directory that runs without Seamless.

DIR (which must not exist) receives the materialized pins, exactly as the workspace of a real
run would: regular files and directories, no link into this machine's store, so the
directory can be copied to another machine and run there. And `transform.sh`:

    #!/bin/bash
    export NAME=<shlex-quoted value>     one line per pin environment variable, sorted
    <the job script: strict mode, background-job trap, conda activation, the code>

Running `bash transform.sh` inside DIR leaves RESULT there. Nothing is executed here, and the
directory is written even when the transformation is already cached. The buffers must have
been stored first (the caller uploads them).
"""

import os
import shlex
import shutil

from ..errors import UsageError


def transform_sh(script: str, pin_env: dict) -> str:
    exports = "".join(f"export {name}={shlex.quote(pin_env[name])}\n" for name in sorted(pin_env))
    return "#!/bin/bash\n" + exports + script


def write_remote_job(prepared, directory: str) -> None:
    from ..store.storage import get_storage
    from ..execution.bash import prepare_job

    try:
        os.mkdir(directory)
    except FileExistsError:
        raise UsageError(f"--write-remote-job {directory}: the directory already exists") from None
    try:
        script, pin_env = prepare_job(prepared.tf_dict, get_storage(), directory)
        path = os.path.join(directory, "transform.sh")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(transform_sh(script, pin_env))
        os.chmod(path, 0o755)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
