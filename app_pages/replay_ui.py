"""Training page: play back a recorded run (being built, see issue 5)."""

import streamlit as st


def replay_section() -> None:
    st.info("Replay is not built yet.")
