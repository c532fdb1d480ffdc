"""The shipped profiles file: names, values from the issue, version stamping, errors."""

from __future__ import annotations

import pytest

from cscvault.disclosure.profiles import get_profile, load_profiles, parse_profiles
from cscvault.errors import UsageError


def test_four_named_profiles_share_one_version():
    profiles = load_profiles()
    assert set(profiles) == {"acro-default", "dfe", "ons", "opensafely"}
    assert len({p.version for p in profiles.values()}) == 1
    assert all(p.version for p in profiles.values())


def test_acro_default_matches_acro_default_yaml():
    p = get_profile("acro-default")
    assert (p.min_count, p.zeros_disclosive, p.nk_n, p.nk_k, p.p_ratio, p.round_base, p.min_dof) == (
        10,
        True,
        2,
        0.9,
        0.1,
        5,
        10,
    )


def test_acro_default_equals_the_installed_acro_config():
    yaml = pytest.importorskip("yaml")
    acro = pytest.importorskip("acro")
    from pathlib import Path

    config = yaml.safe_load((Path(acro.__file__).parent / "default.yaml").read_text())
    ours = get_profile("acro-default").as_acro_config()
    for key in ("safe_threshold", "safe_dof_threshold", "safe_nk_n", "safe_nk_k", "safe_pratio_p"):
        assert ours[key] == config[key], key
    assert ours["zeros_are_disclosive"] == config["zeros_are_disclosive"]
    assert ours["safe_round_base"] == config["safe_round_base"]


def test_opensafely_redacts_seven_or_fewer_and_rounds_to_five():
    p = get_profile("opensafely")
    assert p.min_count == 8  # "redact 7 or fewer"
    assert p.round_base == 5


def test_stamp_names_profile_and_version():
    p = get_profile("dfe")
    assert p.stamp == {"profile": "dfe", "profile_version": p.version}


def test_unknown_profile_is_one_line_usage_error():
    with pytest.raises(UsageError) as info:
        get_profile("nope")
    assert "nope" in info.value.message and "\n" not in info.value.message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('version = "1"\n[profiles.x]\nmin_count = 10\n', "description"),
        ('[profiles.x]\ndescription="d"\n', "version"),
        ('version = "1"\n', "profiles"),
        (
            'version = "1"\n[profiles.x]\ndescription="d"\nmin_count=0\nzeros_disclosive=true\nmin_dof=1\n'
            'round_base=1\nprotection=1\nclass_threshold=1\nstructural_zeros="none"\n',
            "min_count",
        ),
        (
            'version = "1"\n[profiles.x]\ndescription="d"\nmin_count=5\nzeros_disclosive=true\nmin_dof=1\n'
            'round_base=1\nprotection=1\nnk_n=2\nclass_threshold=1\nstructural_zeros="none"\n',
            "nk_n and nk_k",
        ),
        (
            'version = "1"\n[profiles.x]\ndescription="d"\nmin_count=5\nzeros_disclosive=true\nmin_dof=1\n'
            'round_base=1\nprotection=1\nthreshold=3\nclass_threshold=1\nstructural_zeros="none"\n',
            "unknown key",
        ),
        (
            'version = "1"\n[profiles.x]\ndescription="d"\nmin_count=5\nzeros_disclosive=true\nmin_dof=1\n'
            "round_base=1\nprotection=1\n",
            "class_threshold: is missing",
        ),
        (
            'version = "1"\n[profiles.x]\ndescription="d"\nmin_count=5\nzeros_disclosive=true\nmin_dof=1\n'
            'round_base=1\nprotection=1\nclass_threshold=1\nstructural_zeros="maybe"\n',
            "structural_zeros: one of declared, none",
        ),
        ("version = ", "not valid TOML"),
    ],
)
def test_bad_profiles_files_name_the_key(text, fragment):
    with pytest.raises(UsageError, match=fragment):
        parse_profiles(text, "test.toml")


def test_a_tre_can_supply_its_own_profiles_file(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(
        'version = "tre-7"\n[profiles.strict]\ndescription="d"\nmin_count=20\nzeros_disclosive=true\n'
        'min_dof=20\nround_base=10\nprotection=10\nclass_threshold=20\nstructural_zeros="none"\n'
    )
    p = get_profile("strict", path)
    assert (p.version, p.min_count, p.nk_n, p.p_ratio) == ("tre-7", 20, None, None)


def test_every_profile_states_its_class_disclosure_rule():
    for p in load_profiles().values():
        assert p.class_threshold >= 1, p.name  # the rule is on in every shipped profile
        assert p.structural_zeros in ("declared", "none")
        assert p.as_dict()["class_threshold"] == p.class_threshold
