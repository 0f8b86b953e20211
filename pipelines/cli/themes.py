"""`outcomeloop themes suggest`: candidate phrases for strategy.yaml `themes:`, from what the
detractors (nps) or the high-effort respondents (ces) wrote.

A CX team names the themes; this helps it find the words customers actually use. YAKE (a local,
unsupervised keyword extractor whose stop-word lists ship inside its package: no model, no
download, nothing leaves the machine) ranks the phrases most characteristic of the comments;
each is then counted with the exact rule the comment_themes mart uses (whole words, any case), and
phrases a theme already lists are left out. The output is YAML to paste and group into themes.
It reads the published snapshot (marts.feedback_items) read-only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from metrics.config import settings
from metrics.store.warehouse import query_snapshot
from metrics.strategy import load_strategy
from metrics.theme_match import theme_pattern
from pipelines.cli.commands import CliError

#: The newest comments read (YAKE's cost grows with the text; the newest tell what matters now).
MAX_COMMENTS = 5000
_WHO = {"nps": "detractor", "ces": "high-effort"}


def suggest(comments: list[str], top: int, known: set[str]) -> list[str]:
    """The `top` phrases (one to three words) most characteristic of `comments`, best first,
    without those in `known` (lower-cased)."""
    import yake  # imported here: only this command needs it

    extractor = yake.KeywordExtractor(lan="en", n=3, dedupLim=0.7, top=top + len(known) + 20)
    text = "\n".join(c.strip() for c in comments if c and c.strip())
    if not text:
        return []
    phrases: list[str] = []
    for phrase, _score in extractor.extract_keywords(text):
        key = phrase.strip().lower()
        if key and key not in known and key not in phrases:
            phrases.append(key)
        if len(phrases) == top:
            break
    return phrases


#: The source's newest feedback-item comments (parameters: source, limit).
_NEWEST = (
    "SELECT comment FROM marts.feedback_items WHERE source = ? "
    "AND coalesce(trim(comment), '') <> '' ORDER BY received_at DESC, feedback_id LIMIT ?"
)


def mentions(snapshot: Path, source: str, phrases: list[str]) -> dict[str, int]:
    """How many of the comments read mention each phrase (the mart's rule)."""
    counts = {}
    for phrase in phrases:
        table = query_snapshot(
            snapshot,
            f"WITH c AS ({_NEWEST}) SELECT count(*) AS n FROM c "
            "WHERE regexp_matches(lower(comment), ?)",
            [source, MAX_COMMENTS, theme_pattern([phrase])],
        )
        counts[phrase] = int(table.column("n")[0].as_py())
    return counts


def render(source: str, total: int, counted: dict[str, int]) -> str:
    """The YAML a user pastes under `themes:`, the count of comments beside each phrase."""
    lines = [
        f"# Candidate phrases from {total:,} {_WHO[source]} comments ({source}), most",
        "# characteristic first, with how many of those comments mention each (whole words, any",
        "# case). Group them into themes and paste them into strategy.yaml:",
        "themes:",
        "  candidates:",
    ]
    for phrase, n in counted.items():
        item = yaml.safe_dump([phrase], default_flow_style=True, width=1000).strip()[1:-1]
        lines.append(f"    - {item:<30} # {n:,} comment{'' if n == 1 else 's'}")
    return "\n".join(lines) + "\n"


def cmd_themes(args: argparse.Namespace) -> int:
    cfg = settings()
    snapshot = cfg.snapshot
    if not snapshot.exists():
        raise CliError(f"no published snapshot at {snapshot}; run `outcomeloop run` first")
    strategy = load_strategy(cfg.strategy_path)
    known = {p.strip().lower() for phrases in strategy.themes.values() for p in phrases}
    rows = query_snapshot(snapshot, _NEWEST, [args.source, MAX_COMMENTS])
    comments = [c for c in rows.column("comment").to_pylist() if c]
    if not comments:
        print(f"# No {_WHO[args.source]} comments ({args.source}) in the snapshot yet.")
        return 0
    phrases = suggest(comments, args.top, known)
    counted = mentions(snapshot, args.source, phrases)
    print(render(args.source, len(comments), counted), end="")
    return 0
