"""The agent's loop: heartbeat, claim, work, keep leases, report, stop cleanly.

Threads:
  main          the first heartbeat, then claims while it has free slots (`concurrency`)
                and the cluster checks ok; idle, it polls every `poll_seconds`
  heartbeat     POST /agent/heartbeat every `heartbeat_seconds` with the executor's check
  lease keeper  extends each held lease when a third of its remaining time has passed;
                409 (LeaseLost) abandons the item (no result), `cancel_requested` cancels it
  one worker    per held item: runs the executor, then reports Done or Failed (reason),
                retrying transient errors for as long as it still holds the lease

`stop()` (SIGTERM/SIGINT) stops claiming; in-flight work has `grace_seconds` to finish and
report, then whatever is still held is released (and its executor told to cancel), the
canceled work gets up to `cancel_wait_seconds` to wind down (a helm told to stop rolls
back what it started) and `run()` returns 0. A second `stop()` skips what is left of the
grace period.

Times from the server (lease_expires_at) are read against the server's clock as the
heartbeats show it, so a skewed local clock does not make leases look longer or shorter.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tenantry_agent import __version__
from tenantry_agent.client import (
    ApiError,
    Backoff,
    LeaseLost,
    Rejected,
    Retryable,
    TenantryClient,
    Unauthorized,
    WorkItem,
    retrying,
)
from tenantry_agent.executor import Canceled, Executor, ExecutorError, perform

log = logging.getLogger("tenantry_agent")
EXIT_OK = 0
EXIT_UNAUTHORIZED = 2
RELEASE_TIMEOUT = 5.0  # seconds for releasing everything held at shutdown
MIN_EXTEND_INTERVAL = 0.2


@dataclass
class Held:
    """A claimed item while this agent holds its lease."""

    item: WorkItem
    next_extend_at: float  # time.monotonic()
    expires_at: float  # time.monotonic(), the server's lease expiry as last known
    backoff: Backoff
    cancel: threading.Event = field(default_factory=threading.Event)
    lost: bool = False
    released: bool = False


class Agent:
    def __init__(
        self,
        client: TenantryClient,
        executor: Executor,
        *,
        concurrency: int = 4,
        heartbeat_seconds: float = 30.0,
        poll_seconds: float = 2.0,
        grace_seconds: float = 20.0,
        cancel_wait_seconds: float = 12.0,
        agent_version: str = __version__,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
    ) -> None:
        self.client, self.executor = client, executor
        self.concurrency = max(1, concurrency)
        self.heartbeat_seconds = heartbeat_seconds
        self.poll_seconds = poll_seconds
        self.grace_seconds = grace_seconds
        self.cancel_wait_seconds = cancel_wait_seconds
        self.agent_version = agent_version
        self._backoff_args = (backoff_base, backoff_cap)
        self._lock = threading.Lock()
        self._held: dict[str, Held] = {}
        self._workers: list[threading.Thread] = []
        self._stopping = threading.Event()  # no more claims
        self._halt = threading.Event()  # grace is over (or never started): give up waits
        self._wake = threading.Event()  # a slot freed or a stop: the claim loop looks again
        self._changed = threading.Event()  # the set of held items changed
        self._skew = 0.0  # server clock minus local clock, seconds
        self._ok_reason: str | None = None  # the executor's last check
        self.cluster_id: str | None = None

    # --- control ----------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop claiming and wind down; called a second time, give up the grace period."""
        if self._stopping.is_set():
            self._halt.set()
        self._stopping.set()
        self._wake.set()
        self._changed.set()

    @property
    def held(self) -> list[WorkItem]:
        with self._lock:
            return [h.item for h in self._held.values()]

    def run(self) -> int:
        """Blocks until stopped; returns the process exit code."""
        try:
            retrying(
                self._heartbeat_once,
                backoff=self._new_backoff(),
                stop=self._stopping,
                on_retry=self._log_retry("heartbeat"),
            )
        except Unauthorized as exc:
            log.error("the agent token was refused (%s); check TENANTRY_AGENT_TOKEN", exc)
            return EXIT_UNAUTHORIZED
        except Retryable:  # stopped before Tenantry answered
            return EXIT_OK
        except Rejected as exc:
            log.error("heartbeat refused: %s", exc)
        log.info(
            "agent %s started for cluster %s (concurrency %d)",
            self.agent_version,
            self.cluster_id,
            self.concurrency,
        )
        threads = [
            threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True),
            threading.Thread(target=self._lease_loop, name="lease-keeper", daemon=True),
        ]
        for thread in threads:
            thread.start()
        self._claim_loop()
        self._drain()
        self._halt.set()
        self._changed.set()
        self._wait_for_workers()
        for thread in threads:
            thread.join(timeout=2.0)
        log.info("agent stopped")
        return EXIT_OK

    # --- heartbeat ----------------------------------------------------------------------------

    def _heartbeat_once(self) -> None:
        reason = self._check()
        sent_at = time.time()
        beat = self.client.heartbeat(
            is_ok=reason is None, not_ok_reason=reason, agent_version=self.agent_version
        )
        received_at = time.time()
        self.cluster_id = beat.cluster_id
        if beat.server_time is not None:
            self._skew = beat.server_time.timestamp() - (sent_at + received_at) / 2

    def _check(self) -> str | None:
        try:
            reason = self.executor.check()
        except Exception as exc:
            reason = f"the agent could not check its cluster ({type(exc).__name__})"
        if reason != self._ok_reason:
            if reason:
                log.warning("cluster not ok: %s; not claiming work until it is", reason)
            elif self._ok_reason:
                log.info("cluster ok again")
        self._ok_reason = reason
        return reason

    def _heartbeat_loop(self) -> None:
        backoff = self._new_backoff()
        delay = self.heartbeat_seconds
        while not self._halt.wait(delay):
            try:
                self._heartbeat_once()
                backoff.reset()
                delay = self.heartbeat_seconds
            except (Retryable, Unauthorized) as exc:
                retry_after = exc.retry_after if isinstance(exc, Retryable) else None
                delay = min(backoff.next(retry_after), self.heartbeat_seconds)
                level = logging.ERROR if isinstance(exc, Unauthorized) else logging.WARNING
                log.log(level, "heartbeat failed (%s); again in %.1fs", exc, delay)
            except Rejected as exc:
                log.error("heartbeat refused: %s", exc)
                delay = self.heartbeat_seconds

    # --- claiming -----------------------------------------------------------------------------

    def _claim_loop(self) -> None:
        backoff = self._new_backoff()
        while not self._stopping.is_set():
            with self._lock:
                free = self.concurrency - len(self._held)
            if free <= 0 or self._ok_reason is not None:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
                continue
            limit = min(free, 10)
            try:
                items = self.client.claim(limit)
            except (Retryable, Unauthorized) as exc:
                retry_after = exc.retry_after if isinstance(exc, Retryable) else None
                delay = backoff.next(retry_after)
                log.warning("claim failed (%s); again in %.1fs", exc, delay)
                self._stopping.wait(delay)
                continue
            except (Rejected, ValueError) as exc:
                log.error("claim refused or unreadable: %s", exc)
                self._stopping.wait(self.poll_seconds)
                continue
            backoff.reset()
            for item in items:
                self._take(item)
            if len(items) < limit:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()

    def _take(self, item: WorkItem) -> None:
        now = time.monotonic()
        remaining = self._remaining(item.lease_expires_at)
        held = Held(
            item=item,
            next_extend_at=now + max(MIN_EXTEND_INTERVAL, remaining / 3),
            expires_at=now + remaining,
            backoff=self._new_backoff(),
        )
        if self._stopping.is_set():  # claimed while a stop came in: hand it straight back
            self._release(held, "the agent is stopping")
            return
        log.info(
            "claimed %s %s (namespace %s, attempt %d)",
            item.kind,
            item.id,
            item.namespace,
            item.attempt,
        )
        worker = threading.Thread(
            target=self._work, args=(held,), name=f"work-{item.id}", daemon=True
        )
        with self._lock:
            self._held[item.id] = held
            self._workers = [w for w in self._workers if w.is_alive()]
            self._workers.append(worker)
        self._changed.set()
        worker.start()

    def _remaining(self, expires_at: datetime) -> float:
        """Seconds until `expires_at` (server time) on the server's clock."""
        server_now = datetime.now(UTC).timestamp() + self._skew
        return expires_at.timestamp() - server_now

    # --- working ------------------------------------------------------------------------------

    def _work(self, held: Held) -> None:
        item = held.item
        try:
            status, reason = self._execute(held)
            if held.lost or held.released:
                log.info(
                    "%s %s: finished after its lease was lost or released; no result",
                    item.kind,
                    item.id,
                )
                return
            self._report(held, status, reason)
        finally:
            with self._lock:
                self._held.pop(item.id, None)
            self._wake.set()
            self._changed.set()

    def _execute(self, held: Held) -> tuple[str, str | None]:
        item = held.item
        try:
            perform(self.executor, item, held.cancel)
        except Canceled as exc:
            return "Failed", str(exc) or "canceled"
        except ExecutorError as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            log.warning("%s %s failed: %s", item.kind, item.id, reason)
            return "Failed", reason
        except Exception as exc:
            log.exception("%s %s: unexpected error", item.kind, item.id)
            return "Failed", f"the agent failed unexpectedly ({type(exc).__name__})"
        if held.cancel.is_set() and not (held.lost or held.released):
            return "Failed", "canceled"
        return "Done", None

    def _report(self, held: Held, status: str, reason: str | None) -> None:
        item = held.item
        backoff = self._new_backoff()
        while not (held.lost or held.released):
            try:
                self.client.report_result(item.id, item.lease_token, status, reason)
            except LeaseLost as exc:
                log.warning(
                    "%s %s: result %s refused (%s); dropped", item.kind, item.id, status, exc
                )
                return
            except (Retryable, Unauthorized) as exc:
                retry_after = exc.retry_after if isinstance(exc, Retryable) else None
                delay = backoff.next(retry_after)
                log.warning(
                    "%s %s: reporting %s failed (%s); again in %.1fs",
                    item.kind,
                    item.id,
                    status,
                    exc,
                    delay,
                )
                if self._halt.wait(delay):
                    return  # shutting down: the drain releases it
                continue
            except Rejected as exc:
                log.error("%s %s: result %s rejected: %s", item.kind, item.id, status, exc)
                return
            if reason:
                log.info("%s %s: %s (%s)", item.kind, item.id, status, reason)
            else:
                log.info("%s %s: %s", item.kind, item.id, status)
            return

    # --- leases -------------------------------------------------------------------------------

    def _lease_loop(self) -> None:
        while not self._halt.is_set():
            now = time.monotonic()
            with self._lock:
                due = [
                    h
                    for h in self._held.values()
                    if not (h.lost or h.released) and h.next_extend_at <= now
                ]
            for held in due:
                self._extend(held)
            with self._lock:
                upcoming = [
                    h.next_extend_at for h in self._held.values() if not (h.lost or h.released)
                ]
            wait = min(upcoming, default=now + 1.0) - time.monotonic()
            self._changed.wait(max(0.02, min(wait, 1.0)))
            self._changed.clear()

    def _extend(self, held: Held) -> None:
        item = held.item
        now = time.monotonic()
        try:
            lease = self.client.extend_lease(item.id, item.lease_token)
        except LeaseLost as exc:
            held.lost = True
            held.cancel.set()
            log.warning(
                "%s %s: lease lost (%s); abandoning it without a result", item.kind, item.id, exc
            )
            return
        except (ApiError, ValueError) as exc:
            retry_after = exc.retry_after if isinstance(exc, Retryable) else None
            left = held.expires_at - now
            delay = min(held.backoff.next(retry_after), max(MIN_EXTEND_INTERVAL, left / 3))
            held.next_extend_at = now + delay
            log.warning(
                "%s %s: lease extension failed (%s); again in %.1fs", item.kind, item.id, exc, delay
            )
            return
        held.backoff.reset()
        remaining = self._remaining(lease.lease_expires_at)
        held.expires_at = now + remaining
        held.next_extend_at = now + max(MIN_EXTEND_INTERVAL, remaining / 3)
        log.debug("%s %s: lease extended by %.1fs", item.kind, item.id, remaining)
        if lease.cancel_requested and not held.cancel.is_set():
            log.info("%s %s: cancel requested", item.kind, item.id)
            held.cancel.set()

    # --- stopping -----------------------------------------------------------------------------

    def _drain(self) -> None:
        with self._lock:
            count = len(self._held)
        if count:
            log.info(
                "stopping: %d item(s) in flight, up to %.1fs to finish", count, self.grace_seconds
            )
        deadline = time.monotonic() + self.grace_seconds
        while not self._halt.is_set():
            with self._lock:
                if not self._held:
                    return
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._wake.wait(min(left, 0.2))
            self._wake.clear()
        self._halt.set()
        with self._lock:
            remaining = [h for h in self._held.values() if not h.lost]
            for held in remaining:
                held.released = True
                held.cancel.set()
        release_deadline = time.monotonic() + RELEASE_TIMEOUT
        for held in remaining:
            self._release(held, "the agent is shutting down", release_deadline)

    def _wait_for_workers(self) -> None:
        """Canceled work (released, so no result is sent) may still be stopping: a helm
        rolling back. Wait for it a little, so the process does not exit under it."""
        with self._lock:
            workers = [w for w in self._workers if w.is_alive()]
        if not workers:
            return
        log.info(
            "waiting up to %.0fs for %d canceled item(s) to stop",
            self.cancel_wait_seconds,
            len(workers),
        )
        deadline = time.monotonic() + self.cancel_wait_seconds
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))

    def _release(self, held: Held, reason: str, deadline: float | None = None) -> None:
        item = held.item
        held.released = True
        try:
            retrying(
                lambda: self.client.release(item.id, item.lease_token, reason),
                backoff=Backoff(base=0.2, cap=1.0),
                deadline=deadline or time.monotonic() + RELEASE_TIMEOUT,
            )
            log.info("%s %s: released (%s)", item.kind, item.id, reason)
        except ApiError as exc:
            log.warning(
                "%s %s: release failed (%s); its lease will expire", item.kind, item.id, exc
            )

    def _new_backoff(self) -> Backoff:
        return Backoff(*self._backoff_args)

    @staticmethod
    def _log_retry(what: str):
        def on_retry(exc: ApiError, delay: float) -> None:
            log.warning("%s failed (%s); again in %.1fs", what, exc, delay)

        return on_retry
