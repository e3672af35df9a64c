"""`python -m bot demo`: a local page standing in for Slack, driving the real app through signed requests.

`slack_api` is the fake Slack Web API (the tests use it too); `server` runs the app, the fake and
the page together (`Demo`), with `cast` (its users and channels), `page` (the page's HTTP side) and
`callouts` (simulated Zuora events); `page.html` is the page (vanilla HTML/JS, no build step).
"""
