"""Browser tests: the dashboard in headless Chromium (marker e2e)."""
