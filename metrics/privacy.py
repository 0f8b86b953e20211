"""Contact details in free text: customers write them into comments, screens must not show them.

"Call me at +49 170 1234567 or mail jane.doe@example.com": the strategy's `privacy.mask_contacts`
(on by default) replaces e-mail addresses and phone numbers wherever a comment is shown or
exported, so a dashboard screen or CSV download never passes them on.
"""

from __future__ import annotations

import re

EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# A phone number: an optional +, then at least 7 digits, possibly grouped by spaces, dots, dashes,
# slashes or parentheses. ISO dates (2025-03-20) have 8 digits too and are kept as they are.
PHONE = re.compile(r"(?<![\w@])\+?\(?\d(?:[\s./\-()]{0,2}\d){6,}(?!\w)")
EMAIL_MASK = "[e-mail hidden]"
PHONE_MASK = "[phone hidden]"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def mask_contacts(text: str | None) -> str | None:
    """`text` with every e-mail address and phone number replaced by a placeholder."""
    if text is None:
        return None
    text = EMAIL.sub(EMAIL_MASK, str(text))
    return PHONE.sub(_phone_or_date, text)


def _phone_or_date(match: re.Match[str]) -> str:
    found = match.group(0)
    return found if _ISO_DATE.fullmatch(found) else PHONE_MASK
