"""TOTP verification per call: monban's `Totp.verify` against pyotp's `TOTP.verify`, one run.

Run with the bindings' test venv (scripts/test-bindings makes it, pyotp included):

    target/bindings-venv/bin/python bindings/benches/totp.py

Prints the median of 7 timeit repeats (each 20,000 calls) per case, in microseconds per call.
monban's `Totp` remembers the step it accepted (a code works once), so it is timed with a wrong
code: the whole window (3 steps) is computed, as for pyotp's wrong code. `Totp.verify` is one
call into the library with plain integers (`totp_check` by the object's id); the generated
method it replaces (`monban._ffi.monban.Totp.verify`) is timed too, and the function that takes
strings and decodes the secret per call.
"""

import statistics
import timeit

import monban
import pyotp
from monban._ffi import monban as ffi

NOW = 1_800_000_000
SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
N = 20_000
REPEAT = 7

policy = monban.Policy.preset("nist")
app = pyotp.TOTP(SECRET)
code = app.at(NOW)
wrong = f"{(int(code) + 1) % 1_000_000:06d}"
totp = monban.Totp(policy, SECRET)
generated = ffi.Totp(policy, SECRET, None)


def per_call(stmt) -> float:
    runs = timeit.repeat(stmt, number=N, repeat=REPEAT)
    return statistics.median(runs) / N * 1e6


cases = {
    "monban Totp.verify (wrong code, whole window)": lambda: totp.verify(int(wrong), NOW),
    "pyotp TOTP.verify (wrong code, valid_window=1)": lambda: app.verify(wrong, NOW, valid_window=1),
    "monban._ffi Totp.verify (generated method, wrong code)": lambda: generated.verify(int(wrong), NOW),
    "monban totp_verify (function, strings)": lambda: monban.totp_verify(policy, SECRET, code, NOW),
    "pyotp TOTP.verify (right code, valid_window=1)": lambda: app.verify(code, NOW, valid_window=1),
}
for name, stmt in cases.items():
    print(f"{per_call(stmt):7.2f} µs  {name}")
