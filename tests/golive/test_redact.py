"""golive/redact.py: registered secrets are masked where they stand as values or tokens, and
never inside other words (a Grafana password `admin` must not turn "administrative" into
"***istrative")."""

from __future__ import annotations

import html
import json
import string
from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from golive.redact import ANYWHERE_LENGTH, MASK, Reach, Redactor, reach

ALNUM = string.ascii_letters + string.digits
PUNCT = "!#%&*+-./:;<>?@^_|~"


def redactor(*secrets: str) -> Redactor:
    r = Redactor()
    r.add_all(secrets)
    return r


def test_the_reported_corruptions_are_gone() -> None:
    r = redactor("admin")
    assert (
        r.redact("the application role orchestrator has no administrative attributes")
        == "the application role orchestrator has no administrative attributes"
    )
    assert (
        r.redact("database administrator: placeholder '[FILL IN]'")
        == "database administrator: placeholder '[FILL IN]'"
    )


def test_a_short_secret_is_masked_where_it_is_a_value() -> None:
    r = redactor("admin")
    assert r.redact("GF_SECURITY_ADMIN_PASSWORD: admin") == f"GF_SECURITY_ADMIN_PASSWORD: {MASK}"
    assert r.redact("GF_PW=admin,USER=x") == f"GF_PW={MASK},USER=x"
    assert r.redact('{"password": "admin"}') == f'{{"password": "{MASK}"}}'
    assert r.redact("pw = 'admin'") == f"pw = '{MASK}'"
    assert r.redact("admin") == MASK  # a whole evidence value
    assert r.redact("first\n  admin\nlast") == f"first\n  {MASK}\nlast"
    # inside other words, and as a word of prose, it stays
    assert r.redact("admins, sysadmin, admin_user, badminton") == (
        "admins, sysadmin, admin_user, badminton"
    )


def test_reach_depends_on_what_the_secret_looks_like() -> None:
    assert reach("admin") is Reach.VALUE
    assert reach("password") is Reach.VALUE
    assert reach("orchestrator") is Reach.VALUE  # a word of 12 letters
    assert reach("orchestrator_pw") is Reach.TOKEN
    assert reach("x" * ANYWHERE_LENGTH) is Reach.ANYWHERE


def test_a_token_secret_is_masked_as_a_token_only() -> None:
    r = redactor("orchestrator_pw")
    assert r.redact("the password orchestrator_pw is weak") == f"the password {MASK} is weak"
    assert r.redact("orchestrator_pw_old and xorchestrator_pw") == (
        "orchestrator_pw_old and xorchestrator_pw"
    )
    assert r.redact("(orchestrator_pw)") == f"({MASK})"


def test_secrets_that_start_or_end_with_punctuation() -> None:
    r = redactor("!pa55w0rd#")
    # the secret's own punctuation is its boundary: glued to letters it is still masked
    assert r.redact("x!pa55w0rd#y") == f"x{MASK}y"
    r = redactor("pa55-w0rd-xy!")
    assert r.redact("key=pa55-w0rd-xy!") == f"key={MASK}"
    assert r.redact("apa55-w0rd-xy!") == "apa55-w0rd-xy!"


def test_long_secrets_are_masked_anywhere() -> None:
    secret = "cnryJWT0123456789abcdef"
    assert redactor(secret).redact(f"prefix{secret}suffix") == f"prefix{MASK}suffix"


def test_escaped_forms_are_masked() -> None:
    secret = "p@ss&w<rd>42'x"
    r = redactor(secret)
    for form in (html.escape(secret), json.dumps(secret)[1:-1], quote(secret, safe="")):
        assert secret not in r.redact(f"v={form} end")
        assert r.redact(f"v={form} end") == f"v={MASK} end", form


def test_settings_and_too_short_values_are_not_secrets() -> None:
    r = redactor("true", "off", "abc", "")
    assert r.secrets == frozenset()
    assert r.redact("enabled=true retries=abc") == "enabled=true retries=abc"


def test_credential_patterns_stay() -> None:
    r = Redactor()
    assert r.redact("postgresql://u:hunter2@h/db") == f"postgresql://u:{MASK}@h/db"
    assert r.redact("host=h password=hunter2 dbname=x") == f"host=h password={MASK} dbname=x"
    assert r.redact("Authorization: Bearer abcdefgh12345") == f"Authorization: Bearer {MASK}"


# ---------------------------------------------------------------------------------------------
# properties

secrets_alnum = st.text(alphabet=ALNUM, min_size=4, max_size=ANYWHERE_LENGTH - 1).filter(
    lambda s: s.lower() not in {"true", "false", "none", "null"}
)
secrets_any = st.text(alphabet=ALNUM + PUNCT, min_size=4, max_size=40).filter(
    lambda s: s.lower() not in {"true", "false", "none", "null"}
)
letters = st.text(alphabet=string.ascii_letters, min_size=1, max_size=6)
separators = st.sampled_from([" ", "\n", ", ", "; ", " (", ") ", "\t"])
value_contexts = st.sampled_from(["KEY={}", "key: {}", '"{}"', "'{}'", "PASSWORD = {}", "\n{}\n"])


@settings(max_examples=300, deadline=None)
@given(secret=secrets_any, context=value_contexts, before=separators, after=separators)
def test_property_a_secret_standing_as_a_value_is_masked(
    secret: str, context: str, before: str, after: str
) -> None:
    r = redactor(secret)
    text = f"start{before}{context.format(secret)}{after}end"
    out = r.redact(text)
    assert secret not in out
    assert MASK in out


@settings(max_examples=300, deadline=None)
@given(secret=secrets_any, before=separators, after=separators)
def test_property_a_strong_secret_standing_as_a_token_is_masked(
    secret: str, before: str, after: str
) -> None:
    r = redactor(secret)
    out = r.redact(f"a{before}{secret}{after}b")
    if reach(secret) is not Reach.VALUE:
        assert secret not in out and MASK in out


@settings(max_examples=300, deadline=None)
@given(secret=secrets_alnum, head=letters, tail=letters, glue=st.sampled_from(["", "_"]))
def test_property_words_containing_a_secret_are_intact(
    secret: str, head: str, tail: str, glue: str
) -> None:
    r = redactor(secret)
    for word in (head + glue + secret, secret + glue + tail, head + secret + tail):
        text = f"the {word} stays, and so does ={word}."
        assert r.redact(text) == text
