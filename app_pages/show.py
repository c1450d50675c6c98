"""How every page puts a figure on screen, and the presentation setting that enlarges them.

Presentation mode is for a projector: larger text and figures, fewer controls. It belongs to
the browser session and to the address (`?present=1`), so a bookmark opens in it.
"""

import re

import plotly.graph_objects as go
import streamlit as st

from app_pages import figures

PRESENT_KEY = "presenting"
TOGGLE_KEY = "presentation_switch"
PRESENT_PARAM = "present"
SCALE = 1.4  # text and figure heights grow this much in presentation mode
ROOT_FONT_PX = 20  # Streamlit sizes its text in rem, so this enlarges every label at once

# Larger text, and the room a projector lacks taken back from the side margins (the top one
# stays clear of the fixed navigation bar); the sidebar's settings are hidden (switch
# presentation off to change them).
PRESENTATION_CSS = f"""<style>
html {{ font-size: {ROOT_FONT_PX}px; }}
[data-testid="stMainBlockContainer"] {{ padding: 4rem 1.5rem 2rem 1.5rem; }}
[data-testid="stSidebar"], [data-testid="stExpandSidebarButton"] {{ display: none; }}
h1 {{ font-size: 2rem !important; padding: 0 !important; }}
</style>"""


def presenting() -> bool:
    """Whether this session is in presentation mode; the address can switch it on."""
    if PRESENT_KEY not in st.session_state:
        st.session_state[PRESENT_KEY] = st.query_params.get(PRESENT_PARAM) == "1"
    return st.session_state[PRESENT_KEY]


def _toggled() -> None:
    on = st.session_state[PRESENT_KEY] = st.session_state[TOGGLE_KEY]
    if on:
        st.query_params[PRESENT_PARAM] = "1"
    else:
        st.query_params.pop(PRESENT_PARAM, None)


def presentation_ui() -> bool:
    """The presentation switch, and its styling while on. Every page calls it once, early."""
    # The setting lives in its own key: each page has its own switch widget, whose state
    # Streamlit drops when the page is left.
    on = presenting()
    st.toggle(
        "Presentation mode",
        value=on,
        key=TOGGLE_KEY,
        on_change=_toggled,
        help="Larger text and figures and fewer controls, for a projector. "
        "Add ?present=1 to the address to open the page this way.",
    )
    if on:
        st.query_params[PRESENT_PARAM] = "1"  # a page switch drops the address's parameters
        st.html(PRESENTATION_CSS)
    return on


def plot_config(name: str) -> dict:
    """Plotly's settings for one figure: only the camera button, which saves a PNG."""
    return {
        "displaylogo": False,
        "modeBarButtons": [["toImage"]],
        "toImageButtonOptions": {"format": "png", "scale": 2, "filename": f"rnn-digit-lab-{name}"},
    }


AXIS = re.compile(r"[xy]axis\d*")  # layout keys of axes: xaxis, yaxis2, ...


def enlarge(fig: go.Figure, factor: float, scale_height: bool = True) -> go.Figure:
    """A copy of `fig` with every layout font (and, unless told not to, the height) times
    `factor`, for presentation mode.

    The copy is made from plain dicts: changing fonts through plotly's objects cost 5-9 ms a
    figure, ten times what building it costs (figures.figure)."""
    spec = fig.to_plotly_json()
    layout = spec["layout"]
    base = layout.get("font", {}).get("size") or 12  # plotly's own default

    def grow(font: dict | None, default: float | None = None) -> None:
        size = (font or {}).get("size") or default
        if font is not None and size is not None:
            font["size"] = round(size * factor)

    layout["font"] = layout.get("font", {}) | {"size": round(base * factor)}
    grow(layout.get("title", {}).get("font"))
    legend = layout.get("legend", {})
    grow(legend.get("font"))
    if legend.get("y", 1) < 0:  # below the plot: make room for the axis's larger text above it
        legend["y"] = legend["y"] * factor
    grow(legend.get("title", {}).get("font"))
    for key, axis in layout.items():
        if AXIS.fullmatch(key):
            grow(axis.get("tickfont"))
            grow(axis.get("title", {}).get("font"))
    for trace in spec["data"]:  # text written on the chart, such as the path's step numbers
        grow(trace.get("textfont"))
    for annotation in layout.get("annotations", []):
        annotation["font"] = annotation.get("font", {})
        grow(annotation["font"], default=base)
    if scale_height and layout.get("height"):
        layout["height"] = round(layout["height"] * factor)
    return go.Figure(spec, _validate=False)


def chart(fig: go.Figure, key: str, scale_height: bool = True, **kwargs):
    """Show a plotly figure with its PNG button; larger in presentation mode.

    Returns what st.plotly_chart returns (the selection, when `on_select` is given)."""
    if presenting():
        fig = enlarge(fig, SCALE, scale_height)
    return st.plotly_chart(fig, config=plot_config(key), key=key, **kwargs)


def header(title: str, intro: str) -> None:
    """The page's title with the presentation switch beside it; the introduction is left out
    in presentation mode, where the teacher gives it."""
    left, right = st.columns([3, 1], vertical_alignment="center")
    left.title(title)
    with right:
        on = presentation_ui()
    if not on:
        st.markdown(intro)


def training_charts(series: dict, epochs: int, prefix: str = "") -> None:
    """The loss and accuracy charts of a run, side by side, from figures.training_series:
    the same for a live run and a replayed one. `prefix` keeps their keys apart."""
    left, right = st.columns(2, gap="large")
    with left:
        chart(
            figures.loss_figure(series["epoch"], series["loss"], series["loss_trend"], epochs),
            key=f"{prefix}loss",
        )
    with right:
        chart(
            figures.accuracy_figure(
                series["epoch"],
                series["train_accuracy"],
                series["train_accuracy_trend"],
                series["val_epoch"],
                series["val_accuracy"],
                epochs,
            ),
            key=f"{prefix}accuracy",
        )
