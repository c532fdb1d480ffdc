"""Study definition: study.toml -> frozen, validated `Study`; the default Family Safeguarding study."""

from cscvault.study.load import default_study_path, load_study, parse_data_dictionary, parse_study
from cscvault.study.model import LocalAuthority, Period, Study

__all__ = [
    "LocalAuthority",
    "Period",
    "Study",
    "default_study_path",
    "load_study",
    "parse_data_dictionary",
    "parse_study",
]
