"""The job queue of `seamless-run --qsubmit`, `seamless-queue` and `seamless-queue-finish`.

    records   the queue file format (upstream-compatible), the submitter lock, the partial-record-safe reader
    jobs      one queued job, cache checks, futures
    server    QueueServer: runs the queued jobs with at most N slots in use, each in its recorded workdir
"""
