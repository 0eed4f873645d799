"""The report: collect runs -> group by tag -> statistics -> tables -> figures -> sections (``python -m
mnist_design.report``; see __main__.py). The answer's front from results/ is front.py."""
