"""A light Streamlit client: one visitor's session spoken in Streamlit's own web socket protocol,
so a load test can open dozens of sessions while the client side costs almost nothing.

The browser and the server talk over ws://HOST:PORT/_stcore/stream in protobuf: the browser
sends BackMsg (a rerun with the value of every widget it shows), the server answers with
ForwardMsg (the page's elements as deltas, and a script_finished when the run is over). This
client does the same for what the load test needs: it reads the widgets, metrics, alerts and
progress bars each run sends, sets widget values (a press of a button is a trigger, sent
once), and reruns the page's timed fragments (st.fragment(run_every=...)) as the browser does.

A run is timed from the moment its BackMsg leaves to the ForwardMsg that says it finished: the
server's whole answer, without a browser's drawing on either side.
"""

import asyncio
import re
import time
from collections.abc import Collection
from dataclasses import dataclass, field

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import connect

STREAM_PATH = "/_stcore/stream"
SUBPROTOCOL = "streamlit"  # the first entry of Sec-WebSocket-Protocol, as the browser sends
MAX_MESSAGE_BYTES = 64 * 2**20  # a page with a few plotly charts is well under this
STOPPED_FOR_RERUN = ForwardMsg.ScriptFinishedStatus.FINISHED_EARLY_FOR_RERUN
FULL_RUN_OVER = ForwardMsg.ScriptFinishedStatus.FINISHED_SUCCESSFULLY
WIDGET_KINDS = ("button", "number_input", "selectbox", "bidi_component", "radio", "slider")


@dataclass
class Run:
    """What one script run (the whole page, or one fragment) sent back."""

    fragment_id: str = ""  # "" for a run of the whole page
    sent_at: float = 0.0  # time.perf_counter() when the rerun left
    finished_at: float | None = None  # ... when its script_finished came
    status: int | None = None  # ForwardMsg.ScriptFinishedStatus
    messages: int = 0  # ForwardMsgs received for it
    received_bytes: int = 0
    metrics: dict[str, str] = field(default_factory=dict)  # label -> value on show
    alerts: list[str] = field(default_factory=list)
    progress: list[str] = field(default_factory=list)  # progress bars' texts
    markdown: list[str] = field(default_factory=list)  # markdown and captions
    exceptions: list[str] = field(default_factory=list)  # error boxes with a traceback
    widgets: set[str] = field(default_factory=set)  # ids of the widgets this run drew

    @property
    def ms(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.sent_at) * 1000

    def texts(self) -> list[str]:
        return [*self.alerts, *self.progress, *self.markdown]


@dataclass
class Widget:
    id: str
    kind: str  # the Element field: "button", "number_input", "bidi_component", ...
    label: str
    disabled: bool = False
    options: tuple[str, ...] = ()  # a selectbox's or radio's choices


class Session:
    """One visitor: a web socket, the widgets the page shows, and the values set on them.

    Use `await Session.open(url, page)`, then `rerun()` with widget values; `close()` ends the
    session as a closed tab would. One run at a time: a rerun waits for the last to finish, as
    a person who waits for the page would. Timed fragments are rerun in the background while
    `follow_timers` is on."""

    def __init__(self, url: str, page: str):
        self.url = url.replace("http://", "ws://", 1).rstrip("/") + STREAM_PATH
        self.page = page
        self.widgets: dict[str, Widget] = {}  # id -> widget, as the last runs drew them
        self.values: dict[str, WidgetState] = {}  # id -> the value the browser would send
        self.page_script_hash = ""
        self.runs: list[Run] = []  # every run, oldest first
        self.follow_timers = True
        self.closed = False
        self._socket = None
        self._reader: asyncio.Task | None = None
        self._current: Run | None = None
        self._finished: asyncio.Future | None = None
        self._turn = asyncio.Lock()  # one run at a time
        self._timers: dict[str, asyncio.Task] = {}  # fragment id -> its rerun loop
        self._ticking: set[asyncio.Task] = set()  # every loop not yet over
        self._registered: set[str] = set()  # fragments that asked for a timer in this run

    @classmethod
    async def open(cls, url: str, page: str, timeout_s: float = 120.0) -> "Session":
        session = cls(url, page)
        session._socket = await connect(
            session.url,
            subprotocols=[SUBPROTOCOL],
            max_size=MAX_MESSAGE_BYTES,
            compression=None,  # the browser's socket to Streamlit sends no compression either
            open_timeout=timeout_s,
            ping_interval=None,
        )
        session._reader = asyncio.create_task(session._read())
        await session.rerun(timeout_s=timeout_s)
        return session

    async def close(self) -> None:
        self.closed = True
        for timer in self._ticking:
            timer.cancel()
        if self._socket is not None:
            await self._socket.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)

    # -- widgets --------------------------------------------------------------------------

    def find(self, kind: str, label: str | None = None, key: str | None = None) -> Widget:
        """The widget of `kind` with this label (exact) or whose id ends with -`key`; the
        latest drawn if several match."""
        found = [
            w
            for w in self.widgets.values()
            if w.kind == kind
            and (label is None or w.label == label)
            and (key is None or w.id.endswith(f"-{key}"))
        ]
        if not found:
            raise LookupError(f"no {kind} labelled {label!r} with key {key!r} on the page")
        return found[-1]

    def find_key(self, pattern: str) -> Widget:
        """The widget whose key (the end of its id) matches the regular expression."""
        for widget in reversed(self.widgets.values()):
            if re.search(rf"-{pattern}$", widget.id):
                return widget
        raise LookupError(f"no widget with a key matching {pattern!r} on the page")

    def set(self, widget_id: str, **value) -> WidgetState:
        """Set a widget's value as the browser would: set(id, int_value=8), set(id,
        json_value="..."); kept and sent with every rerun from now on."""
        state = WidgetState(id=widget_id, **value)
        self.values[widget_id] = state
        return state

    async def press(self, widget: Widget, timeout_s: float = 120.0) -> Run:
        """Press a button: a trigger sent with one rerun only."""
        trigger = WidgetState(id=widget.id, trigger_value=True)
        return await self.rerun([trigger], timeout_s=timeout_s)

    # -- runs -----------------------------------------------------------------------------

    async def rerun(
        self, once: list[WidgetState] = (), fragment_id: str = "", timeout_s: float = 120.0
    ) -> Run:
        """Send a rerun with every widget value set so far (and `once`, for this run only)
        and wait until the server says the run is over."""
        async with self._turn:
            if self.closed:
                raise ConnectionError("this session was closed")
            run = self._current = Run(fragment_id=fragment_id)
            self._finished = asyncio.get_running_loop().create_future()
            message = self._rerun_message([*self.values.values(), *once], fragment_id)
            run.sent_at = time.perf_counter()
            await self._socket.send(message.SerializeToString())
            try:
                await asyncio.wait_for(asyncio.shield(self._finished), timeout_s)
            finally:
                self._current = None
                self._finished.cancel()  # no-op once done; else nobody waits for it any more
            self.runs.append(run)
            if not fragment_id:  # as the browser, forget the values of widgets gone
                self.values = {k: v for k, v in self.values.items() if k in run.widgets}
            return run

    def _rerun_message(self, states: list[WidgetState], fragment_id: str) -> BackMsg:
        message = BackMsg()
        rerun = message.rerun_script
        rerun.widget_states.widgets.extend(states)
        if self.page_script_hash:
            rerun.page_script_hash = self.page_script_hash
        else:
            rerun.page_name = self.page
        if fragment_id:
            rerun.fragment_id = fragment_id
            rerun.is_auto_rerun = True
        rerun.context_info.timezone = "UTC"
        rerun.context_info.locale = "en-US"
        rerun.context_info.url = self.url
        return message

    async def _read(self) -> None:
        try:
            async for data in self._socket:
                self._receive(data)
        except Exception as error:  # a broken socket ends every wait with its reason
            self._fail(error)
        else:
            self._fail(ConnectionError("the server closed the web socket"))

    def _fail(self, error: Exception) -> None:
        if self._finished is not None and not self._finished.done():
            self._finished.set_exception(error)

    def _receive(self, data: bytes) -> None:
        message = ForwardMsg()
        message.ParseFromString(data)
        run = self._current
        if run is not None:
            run.messages += 1
            run.received_bytes += len(data)
        kind = message.WhichOneof("type")
        if kind == "new_session":  # every run starts with one, a fragment's too
            self._registered = set()
        elif kind == "navigation":  # the page st.navigation chose: later reruns name it
            self.page_script_hash = message.navigation.page_script_hash
        elif kind == "delta" and run is not None:
            self._read_delta(message.delta, run)
        elif kind == "auto_rerun":
            self._start_timer(message.auto_rerun.fragment_id, message.auto_rerun.interval)
        elif kind == "script_finished" and run is not None:
            if message.script_finished == STOPPED_FOR_RERUN:
                return  # st.rerun(): the run goes on as a new one, under the same wait
            run.finished_at = time.perf_counter()
            run.status = message.script_finished
            if run.status == FULL_RUN_OVER:  # a page run keeps only the timers it asked for
                self._keep_timers(self._registered)
            if self._finished is not None and not self._finished.done():
                self._finished.set_result(run)

    def _read_delta(self, delta, run: Run) -> None:
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        kind = element.WhichOneof("type")
        body = getattr(element, kind) if kind else None
        if kind == "metric":
            run.metrics[body.label] = body.body
        elif kind == "alert":
            run.alerts.append(body.body)
        elif kind == "progress":
            run.progress.append(body.text)
        elif kind == "markdown":
            run.markdown.append(body.body)
        elif kind == "exception":
            run.exceptions.append(f"{body.type}: {body.message}")
        elif kind in WIDGET_KINDS:
            label = getattr(body, "label", "") or getattr(body, "component_name", "")
            self.widgets.pop(body.id, None)  # re-added last: find() prefers the latest
            disabled = getattr(body, "disabled", False)
            options = tuple(getattr(body, "options", ()))
            self.widgets[body.id] = Widget(body.id, kind, label, disabled, options)
            run.widgets.add(body.id)

    # -- timed fragments ------------------------------------------------------------------

    def _start_timer(self, fragment_id: str, interval_s: float) -> None:
        self._registered.add(fragment_id)
        if not self.follow_timers or fragment_id in self._timers:
            return
        timer = asyncio.get_running_loop().create_task(self._tick(fragment_id, interval_s))
        self._timers[fragment_id] = timer
        self._ticking.add(timer)
        timer.add_done_callback(self._ticking.discard)

    def _keep_timers(self, fragment_ids: Collection[str]) -> None:
        # The others are not cancelled: a timer's rerun may be the very run that just ended
        # (a fragment's st.rerun()) and must see it through. Each loop ends when it next wakes.
        self._timers = {k: v for k, v in self._timers.items() if k in fragment_ids}

    async def _tick(self, fragment_id: str, interval_s: float) -> None:
        """Rerun a fragment every `interval_s` from the end of its last run (the browser's
        timer fires on its own clock; after a slow run it fires at once, so this is close)."""
        while not self.closed:
            await asyncio.sleep(interval_s)  # the fragment's own period, not a synchronisation
            if self._timers.get(fragment_id) is not asyncio.current_task():
                return
            try:
                await self.rerun(fragment_id=fragment_id)
            except (ConnectionError, TimeoutError):
                return
