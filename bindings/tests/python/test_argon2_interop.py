"""PW-6: monban's argon2id PHC strings and argon2-cffi's (the reference C implementation) are
interchangeable: each verifies the other's, at the test parameters and at the presets' own."""

import argon2
import pytest

import monban

KURONEKO = monban.Policy.preset("kuroneko")
NIST = monban.Policy.preset("nist")
PASSWORDS = ["Kuro2025neko", "correct horse battery", "パスワード2025", "", "x" * 200]


@pytest.mark.parametrize("policy", [KURONEKO.with_test_hashing(), NIST], ids=["test", "preset"])
@pytest.mark.parametrize("password", PASSWORDS)
def test_argon2_cffi_verifies_monban(policy, password):
    phc = monban.hash_password(policy, password)
    assert phc.startswith("$argon2id$v=19$")
    assert argon2.PasswordHasher().verify(phc, password)
    with pytest.raises(argon2.exceptions.VerifyMismatchError):
        argon2.PasswordHasher().verify(phc, password + "!")


@pytest.mark.parametrize(
    "params",
    [
        dict(time_cost=2, memory_cost=19456, parallelism=1),  # the presets' (OWASP)
        dict(time_cost=1, memory_cost=64, parallelism=1),
        dict(time_cost=3, memory_cost=256, parallelism=4),  # four lanes
        dict(time_cost=2, memory_cost=128, parallelism=2, hash_len=64, salt_len=24),
    ],
    ids=["owasp", "small", "p4", "long_tag"],
)
@pytest.mark.parametrize("password", PASSWORDS)
def test_monban_verifies_argon2_cffi(params, password):
    phc = argon2.PasswordHasher(**params).hash(password)
    # monban reads the parameters from the string, whatever its own policy's are.
    assert monban.verify_password(KURONEKO.with_test_hashing(), password, phc)
    assert not monban.verify_password(KURONEKO.with_test_hashing(), password + "!", phc)
