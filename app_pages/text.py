"""Words the pages build from what visitors send: file names, and text from inside files."""

import re

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation mark


def plain(text: str) -> str:
    """`text` escaped for markdown, so that it shows as itself: a file name's _ or * does not
    turn into styling, and a [link](...) or an image in a file's metadata stays text."""
    return _PUNCTUATION.sub(r"\\\1", text)


def uploaded_label(name: str) -> str:
    """The model list's entry for an uploaded model file, a long name shortened in the middle."""
    if len(name) > 48:
        name = f"{name[:30]}…{name[-17:]}"
    return f"Uploaded: {name}"
