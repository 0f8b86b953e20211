"""OutcomeLoop's pure library: what every number means.

Nothing here imports Dagster or Streamlit (`pipelines -> metrics <- dashboard`).
"""

from pathlib import Path

CONTRACT_VERSION = "1"


def source_stats(paths) -> dict[str, tuple[int, int, int]]:
    """path -> (mtime_ns, size, inode): enough to tell that a source file was replaced."""
    stats = {}
    for path in paths:
        st = Path(path).stat()
        stats[str(path)] = (st.st_mtime_ns, st.st_size, st.st_ino)
    return stats


#: This package's source files as they were when the process first imported it, before any of
#: its modules was read: pipelines/compiled.py trusts its code fingerprint only when the files it
#: hashes are still these (so the fingerprint names the code this process runs).
SOURCE_STATS = source_stats(sorted(Path(__file__).parent.glob("*.py")))
