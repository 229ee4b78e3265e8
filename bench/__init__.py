"""Benchmarks of partnerdb + handler_sdk against named baselines (`make bench`).

See bench/README.md for what each figure measures and how to reproduce it.
"""
