"""The local authority's side of a delivery: check a return without a vault, and package it encrypted."""

from cscvault.ingest.package import Package, extracted_package, looks_like_package, open_package, read_package
from cscvault.la.package import PackageResult, build_package

__all__ = [
    "Package",
    "PackageResult",
    "build_package",
    "extracted_package",
    "looks_like_package",
    "open_package",
    "read_package",
]
