"""Synthetic raw deliveries of all nine sources (`yiyu sample`), see docs/sample.md."""

from pipelines.sample.generate import write_sample

__all__ = ["write_sample"]
