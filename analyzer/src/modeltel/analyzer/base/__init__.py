"""The base layer: errors, settings, configuration sections, the store and its tables,
windows, sample sources, the query toolkit, result records and the Analysis interface.

It imports no other layer of the analyzer.
"""
