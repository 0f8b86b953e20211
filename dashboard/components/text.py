"""Text that comes from outside (comments, names, file paths) made safe to show.

Customers type what they like into a survey: markdown, HTML, their phone number. Such text goes
into table cells as plain text, or into st.markdown only after `escape_markdown`; comments are
masked with `metrics.privacy` when the strategy asks for it (the default).
"""

from __future__ import annotations

import re
from typing import Any

from dashboard.components.formatting import is_missing
from metrics.privacy import mask_contacts

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$&])")


def escape_markdown(text: Any) -> str:
    """Make any text safe to put inside st.markdown: every markdown, directive (`:red[...]`),
    LaTeX (`$`) and HTML character is backslash-escaped, so it shows as the characters typed."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", "" if text is None else str(text))


def comment_text(text: Any, mask: bool) -> str:
    """A comment ready for a table cell: masked when the privacy option asks for it."""
    if text is None or is_missing(text):
        return ""
    return (mask_contacts(str(text)) or "") if mask else str(text)
