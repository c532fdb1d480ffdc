"""Trial analysis: the pre-registered plan, samples, outcomes and models."""
