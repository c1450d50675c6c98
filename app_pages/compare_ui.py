"""Training page: train the three cells alike and compare them (being built, see issue 5)."""

import streamlit as st


def compare_section(settings) -> None:
    st.info("Comparing cells is not built yet.")
