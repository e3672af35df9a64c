"""Portfolio questions over the whole book: receivables aging, late payers, failed-payment leakage,
top customers (pure aggregation in `portfolio`, periods in `periods`, CSV and charts in `export`,
reading Zuora in `load`).
"""
