"""The browser page's HTTP server and the headless Chromium session its tests and benchmark drive."""
