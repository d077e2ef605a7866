"""Reports that travel: a text check or a chat answer as JSON and as one self-contained HTML file, and the
re-check of such a report against the corpus as it is now (`app.py verify-report FILE.json`)."""
