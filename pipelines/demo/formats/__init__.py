"""How each tool writes its export: Qualtrics, Delighted, Salesforce and plain CSV, one module each.

These modules know columns, ids and field layouts; what goes into the fields is decided by the
generators in `pipelines.demo.sources`.
"""
