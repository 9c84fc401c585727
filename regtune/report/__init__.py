"""Renderers of a TuneResult: the rich table, JSON, CSV of the curve. They compute nothing."""
