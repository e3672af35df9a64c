"""Portfolio and account analytics: pure modules over data the copilot's tools read from Zuora."""
