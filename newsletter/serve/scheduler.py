"""``newsletter serve --schedule``: ``newsletter run`` for the lists due, every few minutes, in a thread.

Each tick is what one ``newsletter run`` from cron does (``pipeline.run_due``): the same due rule, the same
issue records and send ledger, so a tick, a cron run and a restarted process never send anything twice. Each
tick opens its own Context (fresh list files, its own store connection and senders) and closes it after.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from newsletter.config import Settings
from newsletter.context import Context
from newsletter.errors import NewsletterError

log = logging.getLogger("newsletter.schedule")


class Scheduler(threading.Thread):
    def __init__(self, settings: Settings, every: float, stop: threading.Event) -> None:
        # A daemon: should a tick outlive the grace period after SIGTERM (a long build), the process still ends;
        # the issue records and the ledger make the next start resume it.
        super().__init__(name="schedule", daemon=True)
        self.settings = settings
        self.every = every
        self.stop = stop

    def run(self) -> None:
        while not self.stop.is_set():
            self.tick(datetime.now(UTC))
            self.stop.wait(self.every)

    def tick(self, now: datetime) -> None:
        from newsletter import pipeline  # every stage: imported by the first tick, not at start

        ctx = Context(self.settings, stop=self.stop)
        try:
            runs = pipeline.run_due(ctx, now)
        except NewsletterError as err:  # a list file broken since the start: said, and tried again next tick
            log.error("tick at %s: %s", f"{now:%H:%M}", err)
            return
        except Exception:  # a bug must not end the schedule silently while the pages keep being served
            log.exception("tick at %s failed", f"{now:%H:%M}")
            return
        finally:
            ctx.close()
        for run in runs:
            c = run.campaign
            if run.outcome != "delivered" or c is None:
                log.info("%s: %s%s", run.issue_id, run.outcome, f" ({run.error})" if run.error else "")
                continue
            note = " (stopped: the rest go out on the next start)" if c.interrupted else ""
            log.info(
                "%s: sent %d, skipped %d, failed %d, deferred %d, ambiguous %d%s",
                run.issue_id,
                c.sent,
                c.skipped,
                c.failed,
                c.deferred,
                c.ambiguous,
                note,
            )
