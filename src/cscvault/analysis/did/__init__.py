"""Supplementary staggered difference-in-differences on published DfE local-authority statistics."""
