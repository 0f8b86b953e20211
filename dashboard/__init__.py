"""OutcomeLoop's Streamlit dashboard: pages that read the published snapshot only."""
