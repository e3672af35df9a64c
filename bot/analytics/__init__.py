"""Portfolio and account analytics, pure modules over data the copilot's tools read from Zuora: the whole book
(receivables aging, late payers, failed-payment leakage, top customers: pure aggregation in `portfolio`, periods
in `periods`, CSV and charts in `export`, reading Zuora in `load`) and one account's churn risk (`risk`).
"""
