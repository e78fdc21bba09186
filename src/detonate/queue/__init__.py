"""queue: scan ids waiting for a worker, and the worker that runs them through the pipeline."""

from detonate.queue.inprocess import InProcessQueue, default_concurrency
from detonate.queue.interface import ScanQueue
from detonate.queue.worker import PROFILES, run_scan

__all__ = ["PROFILES", "InProcessQueue", "ScanQueue", "default_concurrency", "run_scan"]
