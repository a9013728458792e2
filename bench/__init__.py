"""Benchmarks of salesplan: ``python -m bench.run`` (see BENCHMARKS.md)."""
