"""RNN Digit Lab: see a recurrent network read a handwritten digit, one row at a time.

Run with `streamlit run app.py`. The pages live in app_pages/ (not pages/, which Streamlit
would also list on its own).
"""

import streamlit as st

st.set_page_config(
    page_title="RNN Digit Lab",
    page_icon="✍️",  # an emoji favicon is drawn locally; a :material/...: one is fetched online
    layout="wide",
    menu_items={"About": "RNN Digit Lab: how a recurrent network reads a digit, row by row."},
)

training = st.Page(
    "app_pages/training.py", title="Training", icon=":material/model_training:", url_path="training"
)
# The Playground opens first: it works at once with the bundled models.
playground = st.Page(
    "app_pages/playground.py",
    title="Playground",
    icon=":material/draw:",
    url_path="playground",
    default=True,
)
# Navigation on top leaves the sidebar to the Training settings and the width to the canvas.
st.navigation([training, playground], position="top").run()
