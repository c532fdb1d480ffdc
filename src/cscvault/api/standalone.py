"""Domain functions under the API's own names, where the bare name would be ambiguous at the door
(`estimate` of what? `generate` what?). Imported only when a standalone command uses one."""

from cscvault.analysis.did.estimator import estimate as did_estimate, to_json as did_to_json
from cscvault.la.check import check_files as la_check_files
from cscvault.la.package import preflight as la_package_preflight
from cscvault.synth.generate import FORMATS as SYNTH_FORMATS, generate as synth_generate

__all__ = ["SYNTH_FORMATS", "did_estimate", "did_to_json", "la_check_files", "la_package_preflight", "synth_generate"]
