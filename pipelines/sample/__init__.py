"""Synthetic raw deliveries of every source (`yiyu sample`), see docs/sample.md."""

from pipelines.sample.generate import write_sample

__all__ = ["write_sample"]
