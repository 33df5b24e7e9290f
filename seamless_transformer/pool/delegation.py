"""Nested transformations of workers, delegated to the parent.

A worker's engine sends `delegate`; the parent answers from its cache, or dispatches the
transformation to any worker with a free slot (the asker included) and answers when it is done,
or refuses at once so that the asker runs it itself: nobody ever waits for a slot, so nesting
cannot deadlock.
"""

from . import shm
from .channel import outcome_to_wire
from ..store.storage import store_buffers


class Delegation:
    """Mixin of Pool: the parent side of `delegate` requests."""

    def _on_delegate(self, origin, rid, payload) -> None:
        asker = (origin, origin.generation, rid)
        payload = shm.decode(payload, self.segments.take)
        store_buffers(payload.pop("inputs", None))
        answer = self._cached_answer(payload)
        if answer is None:
            with self.lock:
                task = self.make_task(payload["tf_dict"], payload["tf"],
                                      lambda o, e: self._answer_delegate(asker, o, e),
                                      scratch=payload["scratch"], fingertip=payload["fingertip"],
                                      direct_print=payload["direct_print"])
                worker = self._choose(task.slots)  # any worker with a free slot, the asker included
                if worker is not None:
                    self._dispatch(task, worker)
                    return
            answer = {"status": "refused"}
        self._reply(asker, answer)

    def _cached_answer(self, payload):
        from ..store.storage import get_storage
        from .. import engine
        from ..execution.execute import Outcome

        result = engine.lookup(payload["tf"], need_value=True)
        if result is None:
            return None
        buffer = get_storage().get_buffer(result)
        outcome = Outcome(buffer, execution_mode="spawn")
        return {"status": "cached", "outcome": outcome_to_wire(outcome)}

    def _answer_delegate(self, asker, outcome, error) -> None:
        if error is not None:
            from .channel import error_to_wire

            answer = {"status": "error", **error_to_wire(error)}
        else:
            answer = {"status": "done", "outcome": outcome_to_wire(outcome)}
        self._reply(asker, answer)

    def _reply(self, asker, answer) -> None:
        origin, generation, rid = asker
        with self.lock:
            if origin.dead or origin.generation != generation or origin.channel.closed:
                return  # the asker died meanwhile
            answer = shm.encode(answer, lambda d: self.segments.create(len(d), origin.name, d),
                                self.limit)
            origin.channel.send("response", "delegate", rid, answer)

