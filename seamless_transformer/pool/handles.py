"""Book-keeping objects of the pool: one Task per transformation, one WorkerHandle per slot."""

import itertools


class Task:
    """One transformation to run in some worker."""

    _ids = itertools.count(1)

    def __init__(self, payload: dict, slots: int, on_done, *, job=None):
        self.id = next(self._ids)
        self.payload = payload  # tf_dict, tf, scratch, fingertip, direct_print[, inputs]
        self.slots = slots
        self.on_done = on_done  # on_done(outcome, error)
        self.job = job
        self.attempts = 0  # crashes counted against this task
        self.solo = False
        self.done = False


class WorkerHandle:
    def __init__(self, index: int):
        self.index = index
        self.name = f"seamless-worker-{index}"
        self.process = self.channel = None
        self.ready = self.dead = False
        self.pid = None
        self.load = 0
        self.tasks = {}  # task id -> Task
        self.sent_settings = None
        self.ping_sent = None
        self.cpu_at_ping = None
        self.last_seen = 0.0
        self.kill_reason = None  # set when we terminate it on purpose (cancel, shutdown)
        self.startup_failures = 0
        self.generation = 0  # bumped by every (re)launch
        self.run_messages = 0  # `run` messages sent to it (each a batch of one or more tasks)
