"""RNN Digit Lab: see a recurrent network read a handwritten digit, one row at a time.

Run with `streamlit run app.py`. The pages live in app_pages/ (not pages/, which Streamlit
would also list on its own).
"""

import os

# pandas is imported here, before any page runs: plotly looks it up in sys.modules without
# waiting for an import in progress, so two sessions drawing their first charts at once could
# catch it half-initialised ("partially initialized module 'pandas' has no attribute 'Series'").
import pandas  # noqa: F401
import streamlit as st
import torch

TORCH_THREADS_VARIABLE = "RNN_DIGIT_LAB_TORCH_THREADS"  # a whole number; 1 unless set

# One thread per torch call: the server runs two training runs and many visitors' pages on a
# couple of cores, and torch's default of one thread per core makes each run's threads wait on
# each other while the cores are busy. A run trained alone loses about 7% (GRU 128); in the
# small browser load test, a 25-epoch run that had not ended after 2 minutes ends in time.


def _torch_threads() -> int:
    value = os.environ.get(TORCH_THREADS_VARIABLE, "").strip()
    return int(value) if value.isdigit() and int(value) >= 1 else 1


torch.set_num_threads(_torch_threads())

st.set_page_config(
    page_title="RNN Digit Lab",
    page_icon="✍️",  # an emoji favicon is drawn locally; a :material/...: one is fetched online
    layout="wide",
    menu_items={"About": "RNN Digit Lab: how a recurrent network reads a digit, row by row."},
)

training = st.Page(
    "app_pages/training.py", title="Training", icon=":material/model_training:", url_path="training"
)
playground = st.Page(
    "app_pages/playground.py", title="Playground", icon=":material/draw:", url_path="playground"
)


def _open_playground():
    # the address's settings (?present=1, a bookmarked view) go along
    st.switch_page(playground, query_params=st.query_params.to_dict())


# Streamlit serves its default page at "/" only, so a hidden default page sends visitors on to
# the Playground: it works at once with the bundled models, and /playground stays a real address.
landing = st.Page(_open_playground, title="RNN Digit Lab", default=True, visibility="hidden")

# Navigation on top leaves the sidebar to the Training settings and the width to the canvas.
st.navigation([training, playground, landing], position="top").run()
