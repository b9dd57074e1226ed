"""Closed-loop tuning: measure the baseline, try settings, keep the fastest, apply, re-measure."""
