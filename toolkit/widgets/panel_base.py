"""What every widget panel shares: a latest-only runner (so work never piles up), waiting, and display.

A slider moved with the keyboard sends one change per key press. Each change would rebuild a model (a tenth of a
second or more), so five quick presses would queue five rebuilds and the panel would lag behind the learner.
``LatestOnly`` keeps only the newest request: while one run is in progress, new requests overwrite each other and
at most ONE more run follows, with the newest values. Requests made from inside a run (re-entrant changes) are
handled the same way instead of recursing.

``delay`` (a debounce) goes further for a fast drag: no run starts until no request has come for ``delay`` seconds,
so 20 quick steps cost ONE run, after the slider settles. ipywidgets has no debounce of its own (ipywidgets#663).
A run already in progress can ask :meth:`LatestOnly.superseded` between its stages and stop early.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from toolkit.i18n import tr
from toolkit.widgets.panel_output import Snapshot

T = TypeVar("T")


class LatestOnly(Generic[T]):
    """Run ``work(item)`` for the newest requested item only; ``background=True`` runs it in a thread, after
    ``delay`` seconds without a newer request."""

    def __init__(self, work: Callable[[T], None], *, background: bool, delay: float = 0.0) -> None:
        if delay < 0 or (delay and not background):
            raise ValueError(
                f"LatestOnly: delay must be 0 when background=False and never negative (got delay={delay!r}); "
                f"a debounce waits in the background thread, so pass background=True or delay=0."
            )
        self._work = work
        self._delay = delay
        self._last_request = 0.0
        self._background = background
        self._lock = threading.Lock()
        self._pending: tuple[T] | None = None
        self._running = False
        self._idle = threading.Event()
        self._idle.set()
        self.requests = 0  # how many items were asked for
        self.runs = 0  # how many times work() actually ran
        self.error: BaseException | None = None  # an exception work() let escape (a bug in the panel)

    def request(self, item: T) -> None:
        with self._lock:
            self.requests += 1
            self._pending = (item,)
            self._last_request = time.monotonic()
            if self._running:  # the loop in _drain() picks the newest item up when the current run ends
                return
            self._running = True
            self._idle.clear()
        if self._background:
            threading.Thread(target=self._drain, name="toolkit-panel", daemon=True).start()
        else:
            self._drain()

    def superseded(self) -> bool:
        """True when a newer item is waiting: the run in progress is stale and may stop early."""
        return self._pending is not None

    def _drain(self) -> None:
        while True:
            with self._lock:
                if self._pending is None:
                    self._running = False
                    self._idle.set()
                    return
                quiet = self._last_request + self._delay - time.monotonic()
                if quiet <= 0:
                    (item,) = self._pending
                    self._pending = None
            if quiet > 0:  # a request came less than `delay` ago: wait for the slider to settle
                time.sleep(quiet)
                continue
            try:
                self._work(item)
            except Exception as err:  # keep the panel alive; wait() reports it
                self.error = err
            self.runs += 1

    def wait(self, timeout: float) -> None:
        """Block until no run is in progress or pending; re-raise an exception that escaped ``work``."""
        if not self._idle.wait(timeout):
            raise TimeoutError(
                tr(
                    "the panel was still busy after {timeout} s; wait longer, e.g. wait(timeout=120).",
                    timeout=format(timeout, "g"),
                )
            )
        if self.error is not None:
            err, self.error = self.error, None
            raise err


def widget_bundle(widget: Any, **kwargs: Any) -> dict[str, Any]:
    """The display bundle of an ipywidget on both generations: 8.x builds it in ``_repr_mimebundle_``; 7.x
    (Colab's 7.7.1) has only ``_ipython_display_``, which displays the same bundle itself, so it is built here
    (on_displayed callbacks, which 8.x dropped, are not run)."""
    if hasattr(widget, "_repr_mimebundle_"):
        return dict(widget._repr_mimebundle_(**kwargs))
    bundle: dict[str, Any] = {"text/plain": repr(widget)}
    if widget._view_name is not None:
        view = {"version_major": 2, "version_minor": 0, "model_id": widget.model_id}
        bundle["application/vnd.jupyter.widget-view+json"] = view
    return bundle


class Panel:
    """Base of the panels: ``widget`` is the root ipywidget; displaying the panel shows it live, with a
    static HTML copy in the same output for viewers without a widget front end (exported or saved notebooks)."""

    title = "panel"
    widget: Any

    def snapshot(self) -> Snapshot:
        """A static copy of the panel's current state (HTML with embedded images); display it to keep it."""
        raise NotImplementedError

    def wait(self, timeout: float = 60.0) -> None:
        """Block until the panel has finished updating (tests and scripts; a notebook never needs it)."""
        for runner in self._runners():
            runner.wait(timeout)

    def _runners(self) -> list[LatestOnly[Any]]:
        return []

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = widget_bundle(self.widget, **kwargs)
        snap = self.snapshot()
        bundle["text/plain"] = str(snap)
        bundle["text/html"] = snap._repr_html_()
        return bundle
