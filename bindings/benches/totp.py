"""TOTP verification per call: monban's `Totp.verify` against pyotp's `TOTP.verify`, one run.

Run with the bindings' test venv (scripts/test-bindings makes it, pyotp included):

    target/bindings-venv/bin/python bindings/benches/totp.py

Prints the median of 7 timeit repeats (each 20,000 calls) per case, in microseconds per call.
A right code at a fixed time is checked each call; monban's replay guard is reset by making the
object with no last step, outside the timed loop, by checking a wrong code (the whole window is
computed either way) and a right one without the guard (`Totp` remembers the step it accepted).
"""

import statistics
import timeit

import monban
import pyotp

NOW = 1_800_000_000
SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
N = 20_000
REPEAT = 7

policy = monban.Policy.preset("nist")
app = pyotp.TOTP(SECRET)
code = app.at(NOW)
wrong = f"{(int(code) + 1) % 1_000_000:06d}"
totp = monban.Totp(policy, SECRET)


def per_call(stmt) -> float:
    runs = timeit.repeat(stmt, number=N, repeat=REPEAT)
    return statistics.median(runs) / N * 1e6


cases = {
    "monban Totp.verify (wrong code, whole window)": lambda: totp.verify(int(wrong), NOW),
    "pyotp TOTP.verify (wrong code, valid_window=1)": lambda: app.verify(wrong, NOW, valid_window=1),
    "monban totp_verify (function, strings)": lambda: monban.totp_verify(policy, SECRET, code, NOW),
    "pyotp TOTP.verify (right code, valid_window=1)": lambda: app.verify(code, NOW, valid_window=1),
}
for name, stmt in cases.items():
    print(f"{per_call(stmt):7.2f} µs  {name}")
