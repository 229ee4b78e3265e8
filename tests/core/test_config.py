"""Configuration: every malformed variable fails at init with the variable named."""

from __future__ import annotations

import pytest

from partnerdb import (
    ClientSettings,
    ConfigError,
    InvalidPartnerId,
    PartnerConfig,
    Partners,
    UnknownPartner,
    normalize_partner_id,
)

ROLE = "arn:aws:iam::111111111111:role/partnerdb-access"
GOOD = {
    "AWS_REGION": "eu-west-1",
    "PARTNER_ACME_ROLE_ARN": ROLE,
    "PARTNER_ACME_EXTERNAL_ID": "s3cr3t-external",
}


def partners(**env: str) -> Partners:
    return Partners.from_env({**GOOD, **env})


def test_partner_from_env_with_defaults() -> None:
    p = partners()
    assert p.partner_ids == ["acme"]
    db = p.db("ACME")
    assert (db.partner_id, db.region, db.account_id) == ("acme", "eu-west-1", "111111111111")


def test_ids_are_case_insensitive_and_optional_fields_apply() -> None:
    p = partners(
        PARTNER_Globex_ROLE_ARN="arn:aws:iam::222222222222:role/x",
        PARTNER_GLOBEX_EXTERNAL_ID="another-ext",
        PARTNER_GLOBEX_REGION="ap-southeast-2",
        PARTNER_GLOBEX_TABLE_PREFIX="gx_",
    )
    assert p.partner_ids == ["acme", "globex"]
    assert "GLOBEX" in p and "Globex" in p and "initech" not in p
    assert p.db("globex").region == "ap-southeast-2"


def test_unrelated_partner_variables_are_ignored() -> None:
    assert partners(PARTNER_API_URL="https://example.invalid").partner_ids == ["acme"]


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"PARTNER_ACME_ROLE_ARN": "not-an-arn"}, "PARTNER_ACME_ROLE_ARN"),
        ({"PARTNER_ACME_ROLE_ARN": "arn:aws:iam::12345:role/x"}, "PARTNER_ACME_ROLE_ARN"),
        ({"PARTNER_ACME_ROLE_ARN": "arn:aws:iam::111111111111:user/x"}, "PARTNER_ACME_ROLE_ARN"),
        ({"PARTNER_ACME_EXTERNAL_ID": "x"}, "PARTNER_ACME_EXTERNAL_ID"),
        # AWS takes 2 characters; under 6 the log redactor could not keep it out of logs
        ({"PARTNER_ACME_EXTERNAL_ID": "k9,Zq"}, "PARTNER_ACME_EXTERNAL_ID"),
        ({"PARTNER_ACME_EXTERNAL_ID": "has space inside"}, "PARTNER_ACME_EXTERNAL_ID"),
        ({"PARTNER_ACME_REGION": "mars-1"}, "PARTNER_ACME_REGION"),
        ({"PARTNER_ACME_TABLE_PREFIX": "bad prefix!"}, "PARTNER_ACME_TABLE_PREFIX"),
        ({"PARTNER_NEW_ROLE_ARN": ROLE}, "PARTNER_NEW_EXTERNAL_ID"),
        ({"PARTNER_NEW_EXTERNAL_ID": "abc-def"}, "PARTNER_NEW_ROLE_ARN"),
        ({"PARTNER_acme_EXTERNAL_ID": "dup-value"}, "PARTNER_"),
        ({"PARTNERDB_CONNECT_TIMEOUT": "5"}, "PARTNERDB_CONNECT_TIMEOUT"),
        ({"PARTNERDB_MAX_ATTEMPTS": "three"}, "PARTNERDB_MAX_ATTEMPTS"),
        ({"PARTNERDB_RETRY_MODE": "legacy"}, "PARTNERDB_RETRY_MODE"),
        ({"PARTNERDB_DURATION_SECONDS": "60"}, "PARTNERDB_DURATION_SECONDS"),
        # Lambda always chains roles: STS refuses more than an hour then
        ({"PARTNERDB_DURATION_SECONDS": "3601"}, "PARTNERDB_DURATION_SECONDS"),
        ({"PARTNERDB_DURATION_SECONDS": "43200"}, "PARTNERDB_DURATION_SECONDS"),
        ({"PARTNERDB_ALLOW_SHARED_TABLES": "sometimes"}, "PARTNERDB_ALLOW_SHARED_TABLES"),
        # STS and IAM accept ASCII only; Unicode letters and digits used to pass init
        ({"PARTNER_ACME_EXTERNAL_ID": "clé-partenaire-秘密"}, "PARTNER_ACME_EXTERNAL_ID"),
        (
            {"PARTNER_ACME_ROLE_ARN": "arn:aws:iam::" + "\u0661" * 12 + ":role/x"},
            "PARTNER_ACME_ROLE_ARN",
        ),
        (
            {"PARTNER_ACME_ROLE_ARN": "arn:aws:iam::111111111111:role/partnerdb-m\u00fcller"},
            "PARTNER_ACME_ROLE_ARN",
        ),
        ({"PARTNER_ACME_REGION": "eu-west-\u0661"}, "PARTNER_ACME_REGION"),
        ({"PARTNERDB_STS_REGION": "eu-west-\u0661"}, "PARTNERDB_STS_REGION"),
        ({"PARTNERDB_CACHE_SIZE": "0"}, "PARTNERDB_CACHE_SIZE"),
    ],
)
def test_malformed_configuration_names_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as err:
        partners(**env)
    assert variable in str(err.value)


GLOBEX_SAME_ACCOUNT = {
    "PARTNER_GLOBEX_ROLE_ARN": "arn:aws:iam::111111111111:role/other-role",
    "PARTNER_GLOBEX_EXTERNAL_ID": "globex-external",
}


@pytest.mark.parametrize("prefix", [None, "shared_"], ids=["no prefix", "same prefix"])
def test_two_partners_sharing_tables_fail_at_init(prefix: str | None) -> None:
    env = dict(GLOBEX_SAME_ACCOUNT)
    if prefix:
        env.update(PARTNER_ACME_TABLE_PREFIX=prefix, PARTNER_GLOBEX_TABLE_PREFIX=prefix)
    with pytest.raises(ConfigError) as err:
        partners(**env)
    message = str(err.value)
    assert "'acme'" in message and "'globex'" in message
    assert "PARTNERDB_ALLOW_SHARED_TABLES" in message
    assert "s3cr3t-external" not in message and "globex-external" not in message


def test_sharing_tables_is_allowed_when_asked_for_or_apart() -> None:
    assert partners(**GLOBEX_SAME_ACCOUNT, PARTNERDB_ALLOW_SHARED_TABLES="true").partner_ids == [
        "acme",
        "globex",
    ]
    apart = partners(**GLOBEX_SAME_ACCOUNT, PARTNER_GLOBEX_TABLE_PREFIX="gx_")
    assert apart.partner_ids == ["acme", "globex"]
    other_region = partners(**GLOBEX_SAME_ACCOUNT, PARTNER_GLOBEX_REGION="us-east-2")
    assert other_region.partner_ids == ["acme", "globex"]
    explicit = [
        PartnerConfig("a", ROLE, "ext-a-1f3e", "eu-west-1"),
        PartnerConfig("b", ROLE, "ext-b-9c2d", "eu-west-1"),
    ]
    with pytest.raises(ConfigError, match="'a' and 'b'"):
        Partners(explicit, settings=ClientSettings())
    Partners(explicit, settings=ClientSettings(allow_shared_tables=True))


def test_missing_region_everywhere() -> None:
    env = {k: v for k, v in GOOD.items() if k != "AWS_REGION"}
    with pytest.raises(ConfigError, match="PARTNER_ACME_REGION"):
        Partners.from_env(env)


def test_external_id_never_echoed_in_errors() -> None:
    secret = "leaky secret value"
    with pytest.raises(ConfigError) as err:
        partners(PARTNER_ACME_EXTERNAL_ID=secret)
    assert secret not in str(err.value)
    config = PartnerConfig("acme", ROLE, "s3cr3t-external", "eu-west-1")
    assert "s3cr3t-external" not in repr(config)


def test_explicit_settings_win_over_environment() -> None:
    env = {**GOOD, "PARTNERDB_MAX_ATTEMPTS": "5", "PARTNERDB_READ_TIMEOUT": "4"}
    assert ClientSettings.from_env(env).max_attempts == 5
    settings = ClientSettings.from_env(env, max_attempts=2)
    assert (settings.max_attempts, settings.read_timeout) == (2, 4.0)
    assert Partners.from_env(env, max_attempts=1).settings.max_attempts == 1
    with pytest.raises(TypeError):
        ClientSettings.from_env(env, no_such_setting=1)


def test_explicit_partner_configs() -> None:
    p = Partners([PartnerConfig("Acme", ROLE, "ext-123", "us-west-2", "t_")])
    assert p.partner_ids == ["acme"]
    with pytest.raises(ConfigError, match="twice"):
        Partners([PartnerConfig("acme", ROLE, "ext-123", "us-west-2")] * 2)


@pytest.mark.parametrize(
    "raw", ["", " acme", "ac me", "acme'", 'a"b', "../etc", "a/b", "x" * 65, "é", 7, None]
)
def test_invalid_partner_ids(raw: object) -> None:
    with pytest.raises(InvalidPartnerId):
        normalize_partner_id(raw)
    with pytest.raises(InvalidPartnerId):
        partners().db(raw)  # type: ignore[arg-type]


def test_unknown_partner() -> None:
    with pytest.raises(UnknownPartner, match="PARTNER_INITECH_ROLE_ARN"):
        partners().db("initech")
