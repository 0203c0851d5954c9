"""Reports for coding managers (issue 16): productivity, backlog (DNFB), case mix,
coding accuracy and audit impact, as pages with a server-rendered SVG chart, as
CSV, and through ``/api/v1/reports/<name>/``.

``selectors`` holds one SQL aggregate per report (a constant number of queries
whatever the number of encounters); ``views`` and ``api`` only render them.
"""
