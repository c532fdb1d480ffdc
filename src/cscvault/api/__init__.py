"""The one door: the command line (`cscvault.cli`) and the web console (`cscvault.web`) call only this package.

- `session`: `with api.open_vault(path, credentials) as vault:` gives a `VaultSession` with every operation
  on an open vault (users, audit, ingest, quality, analysis, releases, rights, complaints, retention, the
  console's dashboard); `api.NAME(path, credentials, ...)` opens a session for one call.
- `tools`: what needs no vault (the notice, the Article 30 record, the design's power, CSV reading for the
  standalone models, identity files).
- `demo`: the main job end to end on synthetic data.
- The domain's own records and the estimators the standalone `model` commands use are re-exported here, so
  a front end never imports a domain package.

Names are resolved on first use (PEP 562), so importing the CLI does not import pandas, DuckDB or the
estimators: `cscvault --help` answers at once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# name -> (module, attribute)
_EXPORTS: dict[str, tuple[str, str]] = {}


def _export(module: str, *names: str, **renamed: str) -> None:
    for name in names:
        _EXPORTS[name] = (module, name)
    for name, attribute in renamed.items():
        _EXPORTS[name] = (module, attribute)


_export(
    "cscvault.api.session",
    "AnalysisOutput",
    "DashboardSummary",
    "InitResult",
    "RequestView",
    "VaultSession",
    "add_user",
    "as_vault_error",
    "audit_head",
    "analyse",
    "change_password",
    "complaint_acknowledge",
    "complaint_close",
    "complaint_list",
    "complaint_open",
    "ingest",
    "init_vault",
    "list_users",
    "open_vault",
    "quality",
    "release_approve",
    "release_export",
    "release_file",
    "release_open_file",
    "release_review_state",
    "release_verify",
    "run_output",
    "run_outputs",
    "release_list",
    "release_reject",
    "release_request",
    "release_show",
    "require_intact",
    "require_no_rejections",
    "retention_status",
    "risk",
    "dpia_record",
    "rights_act",
    "rights_clarification",
    "rights_close",
    "rights_extend",
    "rights_identify",
    "rights_list",
    "rights_open",
    "rights_refuse",
    "rights_show",
    "rights_summary",
    "la_names",
    "verify_audit",
)
_export(
    "cscvault.api.tools",
    "analyse_did",
    "design_power",
    "read_identity_file",
    "read_model_csv",
    "render_notice",
    "render_record",
    "run_did_plan",
    "study",
)
_export("cscvault.api.demo", "DemoResult", "run_demo")
_export("cscvault.api.preflight", "check_vault_dir", "vault_user_names")
_export("cscvault.roles", "ROLES")
_export("cscvault.risk.summary", "RiskLine", "RiskReport", "WhatIf")
_export("cscvault.risk.annex", "DataTie", "DpiaRecord")
_export(
    "cscvault.risk.explain",
    "Measure",
    "Table",
    "risk_in_plain_words",
    "risk_la_table",
    "risk_measure_rows",
    "risk_what_if_table",
)
_export("cscvault.vault.store", "Credentials", "User")
_export("cscvault.vault.backup", "BackupResult", "RestoreResult", "backup_vault", "restore_backup")
_export("cscvault.vault.destroy", "DestructionResult", "destroy_vault", "verify_certificate")
_export("cscvault.rights.requests", "FINAL_STATES", "OPEN_STATES", "RESEARCH_EXEMPTION_BASIS", "Request", "TYPES")
_export("cscvault.rights.deadlines", "MAX_EXTENSION_MONTHS")
_export(
    "cscvault.disclosure.release",
    "CHECK_ROLES",
    "READ_ROLES",
    "REQUEST_ROLES",
    "Release",
    "ReleaseDetail",
    "ReleaseFile",
    "ReleaseOutput",
)
_export("cscvault.disclosure.release_review", "REVIEW_ROLES", "ReviewState")
_export("cscvault.disclosure.check", "CheckedTable")
_export("cscvault.disclosure.table_file", "check_file")
_export("cscvault.disclosure.profiles", "DEFAULT_PROFILE", "get_profile", "load_profiles")
_export(
    "cscvault.api.standalone",
    "SYNTH_FORMATS",
    "did_estimate",
    "did_to_json",
    "la_check_files",
    "la_package_preflight",
    "synth_generate",
)
_export("cscvault.la.package", "build_package")
_export("cscvault.la.check", "FileCheck")
_export("cscvault.analysis.null_simulation", "NullSimulationSpec", "run_null_simulation")
_export("cscvault.analysis.models.glmm", "GlmmFit", "RandomEffects", "fit_glmm_frame")
_export("cscvault.analysis.models.exposure", "ExposureAnalysis", "fit_exposure_frame")
_export("cscvault.analysis.models.gee", "VARIANCES", "binomial_cells", "fit_gee", "gee_summary")
_export("cscvault.analysis.models.robust", "fit_fe_cr2")
_export(
    "cscvault.analysis.models.glmm_runs",
    "covariate_roles",
    "fit_glmm_run",
    "glmm_multiple_imputation",
    "randomisation_document",
    "require_converged",
    "text_reference_levels",
)
_export("cscvault.analysis.did.plan", "DidPlanConfig")


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'cscvault.api' has no attribute '{name}'") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # resolved once
    return value


def __dir__() -> list[str]:
    return sorted(_EXPORTS)


__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # the same names, eagerly, for type checkers
    from cscvault.analysis.did.plan import (
        DidPlanConfig as DidPlanConfig,
    )
    from cscvault.analysis.models.exposure import (
        ExposureAnalysis as ExposureAnalysis,
        fit_exposure_frame as fit_exposure_frame,
    )
    from cscvault.analysis.models.gee import (
        VARIANCES as VARIANCES,
        binomial_cells as binomial_cells,
        fit_gee as fit_gee,
        gee_summary as gee_summary,
    )
    from cscvault.analysis.models.glmm import (
        GlmmFit as GlmmFit,
        RandomEffects as RandomEffects,
        fit_glmm_frame as fit_glmm_frame,
    )
    from cscvault.analysis.models.glmm_runs import (
        covariate_roles as covariate_roles,
        fit_glmm_run as fit_glmm_run,
        glmm_multiple_imputation as glmm_multiple_imputation,
        randomisation_document as randomisation_document,
        require_converged as require_converged,
        text_reference_levels as text_reference_levels,
    )
    from cscvault.analysis.models.robust import (
        fit_fe_cr2 as fit_fe_cr2,
    )
    from cscvault.analysis.null_simulation import (
        NullSimulationSpec as NullSimulationSpec,
        run_null_simulation as run_null_simulation,
    )
    from cscvault.api.demo import (
        DemoResult as DemoResult,
        run_demo as run_demo,
    )
    from cscvault.api.preflight import (
        check_vault_dir as check_vault_dir,
        vault_user_names as vault_user_names,
    )
    from cscvault.api.session import (
        AnalysisOutput as AnalysisOutput,
        DashboardSummary as DashboardSummary,
        InitResult as InitResult,
        RequestView as RequestView,
        VaultSession as VaultSession,
        add_user as add_user,
        analyse as analyse,
        as_vault_error as as_vault_error,
        audit_head as audit_head,
        change_password as change_password,
        complaint_acknowledge as complaint_acknowledge,
        complaint_close as complaint_close,
        complaint_list as complaint_list,
        complaint_open as complaint_open,
        dpia_record as dpia_record,
        ingest as ingest,
        init_vault as init_vault,
        la_names as la_names,
        list_users as list_users,
        open_vault as open_vault,
        quality as quality,
        release_approve as release_approve,
        release_export as release_export,
        release_file as release_file,
        release_list as release_list,
        release_open_file as release_open_file,
        release_reject as release_reject,
        release_request as release_request,
        release_review_state as release_review_state,
        release_show as release_show,
        release_verify as release_verify,
        require_intact as require_intact,
        require_no_rejections as require_no_rejections,
        retention_status as retention_status,
        rights_act as rights_act,
        rights_clarification as rights_clarification,
        rights_close as rights_close,
        rights_extend as rights_extend,
        rights_identify as rights_identify,
        rights_list as rights_list,
        rights_open as rights_open,
        rights_refuse as rights_refuse,
        rights_show as rights_show,
        rights_summary as rights_summary,
        risk as risk,
        run_output as run_output,
        run_outputs as run_outputs,
        verify_audit as verify_audit,
    )
    from cscvault.api.standalone import (
        SYNTH_FORMATS as SYNTH_FORMATS,
        did_estimate as did_estimate,
        did_to_json as did_to_json,
        la_check_files as la_check_files,
        la_package_preflight as la_package_preflight,
        synth_generate as synth_generate,
    )
    from cscvault.api.tools import (
        analyse_did as analyse_did,
        design_power as design_power,
        read_identity_file as read_identity_file,
        read_model_csv as read_model_csv,
        render_notice as render_notice,
        render_record as render_record,
        run_did_plan as run_did_plan,
        study as study,
    )
    from cscvault.disclosure.check import (
        CheckedTable as CheckedTable,
    )
    from cscvault.disclosure.profiles import (
        DEFAULT_PROFILE as DEFAULT_PROFILE,
        get_profile as get_profile,
        load_profiles as load_profiles,
    )
    from cscvault.disclosure.release import (
        CHECK_ROLES as CHECK_ROLES,
        READ_ROLES as READ_ROLES,
        REQUEST_ROLES as REQUEST_ROLES,
        Release as Release,
        ReleaseDetail as ReleaseDetail,
        ReleaseFile as ReleaseFile,
        ReleaseOutput as ReleaseOutput,
    )
    from cscvault.disclosure.release_review import (
        REVIEW_ROLES as REVIEW_ROLES,
        ReviewState as ReviewState,
    )
    from cscvault.disclosure.table_file import (
        check_file as check_file,
    )
    from cscvault.la.check import (
        FileCheck as FileCheck,
    )
    from cscvault.la.package import (
        build_package as build_package,
    )
    from cscvault.rights.deadlines import (
        MAX_EXTENSION_MONTHS as MAX_EXTENSION_MONTHS,
    )
    from cscvault.rights.requests import (
        FINAL_STATES as FINAL_STATES,
        OPEN_STATES as OPEN_STATES,
        RESEARCH_EXEMPTION_BASIS as RESEARCH_EXEMPTION_BASIS,
        TYPES as TYPES,
        Request as Request,
    )
    from cscvault.risk.annex import (
        DataTie as DataTie,
        DpiaRecord as DpiaRecord,
    )
    from cscvault.risk.explain import (
        Measure as Measure,
        Table as Table,
        risk_in_plain_words as risk_in_plain_words,
        risk_la_table as risk_la_table,
        risk_measure_rows as risk_measure_rows,
        risk_what_if_table as risk_what_if_table,
    )
    from cscvault.risk.summary import (
        RiskLine as RiskLine,
        RiskReport as RiskReport,
        WhatIf as WhatIf,
    )
    from cscvault.roles import (
        ROLES as ROLES,
    )
    from cscvault.vault.backup import (
        BackupResult as BackupResult,
        RestoreResult as RestoreResult,
        backup_vault as backup_vault,
        restore_backup as restore_backup,
    )
    from cscvault.vault.destroy import (
        DestructionResult as DestructionResult,
        destroy_vault as destroy_vault,
        verify_certificate as verify_certificate,
    )
    from cscvault.vault.store import (
        Credentials as Credentials,
        User as User,
    )
