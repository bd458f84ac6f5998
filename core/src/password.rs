//! PW-1..PW-7: password rules, argon2id hashing, temporary passwords.
//!
//! - [`check_new`] / [`problems`] (PW-1, PW-2): every problem of a new password at once; a
//!   mismatch with the confirmation is its own error and is checked first.
//! - [`Hasher`] (PW-5, PW-6, L-5): argon2id PHC strings with the policy's parameters. It keeps a
//!   small pool of memory-block buffers so that a hash does not pay for a fresh 19–64 MiB
//!   allocation and its page faults (DESIGN principle 8); each concurrent hash takes its own
//!   buffer out of the pool and puts it back afterwards.
//! - [`generate_temporary`] (PW-4): random, readable, and always accepted by the policy.
//! - [`is_expired`] (PW-3): **decided**: a password set at `t` is expired from
//!   `t + max_age_days × 86 400 s` on, inclusive. Kuroneko's 「91日でパスワード変更が必要」 thus
//!   means: still valid 90 days 23:59:59 after it was set, expired once 91 full days have
//!   passed.
//!
//! Length is counted in Unicode code points (`char`s), never in bytes or display width.

// The blocklist `core/data/common-passwords.txt` is Django's
// `django/contrib/auth/common-passwords.txt.gz` (taken from the Django 5.2.19 wheel on PyPI;
// the list itself is the 20,000 most common passwords compiled by Royce Williams, lower-cased
// and de-duplicated by Django: 19,640 lines), gunzipped and sorted byte-wise
// (`LC_ALL=C sort -u`) so that `is_common` can binary-search the embedded text without
// building anything at run time. Django's licence (BSD-3-Clause) applies to that file:
//
//   Copyright (c) Django Software Foundation and individual contributors.
//   All rights reserved.
//
//   Redistribution and use in source and binary forms, with or without modification,
//   are permitted provided that the following conditions are met:
//
//       1. Redistributions of source code must retain the above copyright notice,
//          this list of conditions and the following disclaimer.
//
//       2. Redistributions in binary form must reproduce the above copyright
//          notice, this list of conditions and the following disclaimer in the
//          documentation and/or other materials provided with the distribution.
//
//       3. Neither the name of Django nor the names of its contributors may be used
//          to endorse or promote products derived from this software without
//          specific prior written permission.
//
//   THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND
//   ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED
//   WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
//   DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT OWNER OR CONTRIBUTORS BE LIABLE FOR
//   ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES
//   (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES;
//   LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON
//   ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT
//   (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS
//   SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.

use crate::error::{CharClass, Error, Field, InputProblem, PasswordProblem, Result};
use crate::model::PasswordRecord;
use crate::policy::{HashParams, PasswordCharset, PasswordPolicy};
use crate::ports::SecureRandom;
use crate::secret::{Secret, ct_eq_bytes};
use crate::time::Timestamp;
use argon2::{Algorithm, Argon2, Version};
use password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use zeroize::Zeroizing;

/// The blocklist: one lower-case password per line, sorted byte-wise, no duplicates.
const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

/// PW-2 then PW-1: `Err(PasswordMismatch)` when `new != confirm` (checked first), else
/// `Err(PasswordRejected(every problem))` when [`problems`] finds any.
///
/// # Errors
/// [`Error::PasswordMismatch`] (compared in constant time), then
/// [`Error::PasswordRejected`] listing every problem.
pub fn check_new(
    policy: &PasswordPolicy,
    new: &Secret,
    confirm: &Secret,
    user_id: Option<&str>,
) -> Result<()> {
    if !new.ct_eq(confirm) {
        return Err(Error::PasswordMismatch);
    }
    let found = problems(policy, new.expose(), user_id);
    if found.is_empty() {
        Ok(())
    } else {
        Err(Error::PasswordRejected(found))
    }
}

/// Every PW-1 problem of `password` (length in code points, charset, classes, blocklist,
/// equal to the user ID). History (PW-5) is checked by [`Hasher::reuse_problem`].
///
/// Each problem appears once, in this order: length, characters, missing classes (in
/// [`CharClass`] order), blocklist, user ID.
pub fn problems(
    policy: &PasswordPolicy,
    password: &str,
    user_id: Option<&str>,
) -> Vec<PasswordProblem> {
    let mut found = Vec::new();
    let len = password.chars().count();
    if len < policy.min_len {
        found.push(PasswordProblem::TooShort {
            min: policy.min_len,
        });
    }
    if len > policy.max_len {
        found.push(PasswordProblem::TooLong {
            max: policy.max_len,
        });
    }
    if !password.chars().all(|c| allowed(policy.charset, c)) {
        found.push(PasswordProblem::CharacterNotAllowed);
    }
    for &class in &policy.required_classes {
        if !password.chars().any(|c| class_of(c) == Some(class)) {
            found.push(PasswordProblem::MissingClass { class });
        }
    }
    if policy.blocklist && is_common(password) {
        found.push(PasswordProblem::Common);
    }
    if policy.forbid_user_id
        && user_id.is_some_and(|id| !id.is_empty() && id.to_lowercase() == password.to_lowercase())
    {
        found.push(PasswordProblem::SameAsUserId);
    }
    found
}

/// Whether `c` may appear in a password under `charset`.
fn allowed(charset: PasswordCharset, c: char) -> bool {
    match charset {
        PasswordCharset::HalfWidthAlphanumeric => c.is_ascii_alphanumeric(),
        PasswordCharset::AsciiPrintable => c.is_ascii_graphic(),
        PasswordCharset::Unicode => !c.is_control(),
    }
}

/// The [`CharClass`] of `c`: ASCII letters and digits, printable ASCII symbols; `None` for
/// anything else (a space, a full-width letter, kana, ...).
fn class_of(c: char) -> Option<CharClass> {
    if c.is_ascii_lowercase() {
        Some(CharClass::Lower)
    } else if c.is_ascii_uppercase() {
        Some(CharClass::Upper)
    } else if c.is_ascii_digit() {
        Some(CharClass::Digit)
    } else if c.is_ascii_punctuation() {
        Some(CharClass::Symbol)
    } else {
        None
    }
}

/// Whether `password` is on the shipped blocklist (case-insensitive).
pub fn is_common(password: &str) -> bool {
    let lower = Zeroizing::new(password.to_lowercase());
    sorted_lines_contain(COMMON_PASSWORDS.as_bytes(), lower.as_bytes())
}

/// Binary search for the line `needle` in `text`, whose lines are sorted byte-wise.
fn sorted_lines_contain(text: &[u8], needle: &[u8]) -> bool {
    // Invariant: `lo` is the start of a line (or the end), `hi` is the start of a line or the
    // end of the text, and the needle, if present, starts in `lo..hi`.
    let mut lo = 0;
    let mut hi = text.len();
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let Some(before) = text.get(lo..mid) else {
            return false;
        };
        let start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(lo, |i| lo + i + 1);
        let Some(rest) = text.get(start..hi) else {
            return false;
        };
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(hi, |i| start + i);
        let Some(line) = text.get(start..end) else {
            return false;
        };
        match line.cmp(needle) {
            std::cmp::Ordering::Equal => return true,
            std::cmp::Ordering::Less => lo = (end + 1).min(hi),
            std::cmp::Ordering::Greater => hi = start,
        }
    }
    false
}

/// Readable alphabets for temporary passwords: no 0/O, 1/l/I.
const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const DIGITS: &[u8] = b"23456789";
/// Symbols that are easy to read and type and never mistaken for punctuation around them in a
/// mail (no quotes, brackets, back slash, comma, period, `|`).
const SYMBOLS: &[u8] = b"#$%&*+-=?@";
/// Whole-string rejection sampling keeps the distribution uniform over acceptable passwords;
/// after this many rejections the classes are placed by force (a broken or adversarial RNG).
const FORCE_CLASSES_AFTER: usize = 32;
const MAX_ATTEMPTS: usize = 64;

/// PW-4: a random temporary password that satisfies `policy`.
///
/// `policy.temporary_len` characters (clamped into `min_len..=max_len`), drawn uniformly (by
/// rejection sampling, no modulo bias) from unambiguous upper-case letters, lower-case
/// letters and digits — plus a few plain symbols only when the policy requires a symbol. It
/// always contains an upper-case letter, a lower-case letter and a digit (and every class the
/// policy requires), is never on the blocklist, and so passes [`problems`] for any policy that
/// can be satisfied at that length.
pub fn generate_temporary(policy: &PasswordPolicy, rng: &dyn SecureRandom) -> Secret {
    let len = policy.temporary_len.max(policy.min_len).min(policy.max_len);
    let mut classes: Vec<&[u8]> = vec![UPPER, LOWER, DIGITS];
    let want_symbol = policy.required_classes.contains(&CharClass::Symbol)
        && policy.charset != PasswordCharset::HalfWidthAlphanumeric;
    if want_symbol {
        classes.push(SYMBOLS);
    }
    let alphabet: Vec<u8> = classes.concat();
    let mut bytes = ByteSource::new(rng);
    let mut candidate = Zeroizing::new(String::new());
    for attempt in 0..MAX_ATTEMPTS {
        let mut chars = Zeroizing::new(Vec::with_capacity(len));
        for _ in 0..len {
            chars.push(bytes.pick(&alphabet));
        }
        if attempt >= FORCE_CLASSES_AFTER {
            force_classes(&mut chars, &classes, &mut bytes);
        }
        candidate = Zeroizing::new(chars.iter().map(|&b| char::from(b)).collect());
        let has_every_class = classes
            .iter()
            .all(|class| chars.iter().any(|b| class.contains(b)));
        if has_every_class && problems(policy, &candidate, None).is_empty() {
            break;
        }
    }
    Secret::new(std::mem::take(&mut *candidate))
}

/// Puts one character of each class at distinct random positions (when `chars` is long enough).
fn force_classes(chars: &mut [u8], classes: &[&[u8]], bytes: &mut ByteSource<'_>) {
    for (slot, class) in chars.iter_mut().zip(classes) {
        *slot = bytes.pick(class);
    }
    // Fisher–Yates, so the forced characters do not always lead.
    for i in (1..chars.len()).rev() {
        let j = bytes.below(i + 1);
        chars.swap(i, j);
    }
}

/// Random bytes from the port, fetched in batches.
struct ByteSource<'a> {
    rng: &'a dyn SecureRandom,
    buf: Zeroizing<[u8; 64]>,
    pos: usize,
}

impl<'a> ByteSource<'a> {
    fn new(rng: &'a dyn SecureRandom) -> Self {
        Self {
            rng,
            buf: Zeroizing::new([0; 64]),
            pos: 64,
        }
    }

    fn byte(&mut self) -> u8 {
        if self.pos >= self.buf.len() {
            let buf: &mut [u8] = &mut *self.buf;
            self.rng.fill(buf);
            self.pos = 0;
        }
        let b = self.buf.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    /// Uniform in `0..n` by rejection sampling (no modulo bias): one byte per draw for
    /// `n <= 256`, two above (up to 65 536); 0 when `n` is 0 or larger.
    fn below(&mut self, n: usize) -> usize {
        let (range, wide) = match n {
            0 => return 0,
            1..=256 => (256, false),
            257..=65_536 => (65_536, true),
            _ => return 0,
        };
        // The largest multiple of n not above the range: draws at or above it are rejected. A
        // broken RNG that only returns rejected values must not hang us, hence the bound.
        let limit = range - range % n;
        for _ in 0..1024 {
            let mut v = usize::from(self.byte());
            if wide {
                v = (v << 8) | usize::from(self.byte());
            }
            if v < limit {
                return v % n;
            }
        }
        0
    }

    /// A uniformly chosen byte of `alphabet` (non-empty).
    fn pick(&mut self, alphabet: &[u8]) -> u8 {
        let i = self.below(alphabet.len());
        alphabet.get(i).copied().unwrap_or(b'x')
    }
}

/// PW-3: whether a (non-temporary) password is past the policy's max age at `now`.
///
/// **Decided**: expired from `set_at + max_age_days` days on, that instant included — with
/// Kuroneko's 91 days, a password is still valid 91 days minus one second after it was set
/// and expired once 91 full days have passed. A temporary password is never "expired" here:
/// its own lifetime applies ([`temporary_expired`], PW-4). `max_age_days: None` never expires.
pub fn is_expired(policy: &PasswordPolicy, record: &PasswordRecord, now: Timestamp) -> bool {
    if record.temporary_until.is_some() {
        return false;
    }
    policy
        .max_age_days
        .is_some_and(|days| now >= record.set_at.plus_days(i64::from(days)))
}

/// PW-4: whether a temporary password is past its lifetime at `now` (false for a normal one).
pub fn temporary_expired(record: &PasswordRecord, now: Timestamp) -> bool {
    record.temporary_until.is_some_and(|t| now >= t)
}

/// Bytes of the argon2id output (the tag) in the PHC strings this hasher makes.
const OUTPUT_LEN: usize = 32;
/// The largest `m_cost` (KiB) a PHC string may ask for, as [`crate::Policy::validate`] allows
/// for a policy: 4 GiB. A larger (corrupt) value is refused rather than allocated.
const MAX_M_COST: u32 = 4 * 1024 * 1024;
/// Buffers kept for reuse: enough for the concurrency of a server's hashing pool; more
/// simultaneous hashes still work, their extra buffers are freed afterwards.
const POOL_CAP: usize = 16;
/// Hashes this process computed with RustCrypto's `argon2` because `argon2-rust` refused them
/// ([`Hasher::reference_fallbacks`]).
static REFERENCE_FALLBACKS: AtomicU64 = AtomicU64::new(0);
/// Salt of the dummy PHC string ([`Hasher::dummy_verify`]).
const DUMMY_SALT: [u8; 16] = *b"monban-dummy-slt";

/// argon2id with the policy's parameters, reusing memory buffers between hashes.
///
/// The hash itself is computed by `argon2-rust` (a port of the reference C implementation with
/// SSE2/AVX2/AVX-512 code chosen at run time: about 1.8× as fast as RustCrypto's `argon2` at
/// the presets' parameters, see ARCHITECTURE.md "argon2id implementation"). RustCrypto's
/// `argon2` checks parameters, and computes the hash itself whenever `argon2-rust` refuses a
/// job (any error but a failed allocation); the tests hold the two to the same bytes.
pub struct Hasher {
    params: HashParams,
    /// argon2id, version 0x13, `params`, 32-byte output.
    argon2: Argon2<'static>,
    /// Blocks one hash at `params` needs.
    block_count: usize,
    /// A PHC string at `params` that no password matches (L-5).
    dummy_phc: String,
    /// Idle `argon2-rust` hashers, each holding a memory arena of `block_count` blocks (wiped
    /// after every hash and when dropped).
    pool: Mutex<Vec<argon2_rust::Hasher>>,
}

/// One argon2 computation: what RustCrypto's `Argon2` was built from, kept apart because
/// `Argon2` does not give its algorithm, version or secret back.
#[derive(Clone, Copy)]
struct Job<'a> {
    algorithm: Algorithm,
    version: Version,
    /// Includes the tag length and the associated data (`data=` of a PHC string).
    params: &'a argon2::Params,
    /// The secret key (pepper); monban uses none, the RFC 9106 vector does.
    secret: &'a [u8],
}

impl Job<'_> {
    /// RustCrypto's `Argon2` for this job.
    fn reference(&self) -> argon2::Result<Argon2<'_>> {
        if self.secret.is_empty() {
            Ok(Argon2::new(
                self.algorithm,
                self.version,
                self.params.clone(),
            ))
        } else {
            Argon2::new_with_secret(
                self.secret,
                self.algorithm,
                self.version,
                self.params.clone(),
            )
        }
    }

    /// `argon2-rust`'s configuration for this job, `None` where it has no equivalent.
    fn fast(&self) -> Option<argon2_rust::Argon2> {
        let algorithm = match self.algorithm {
            Algorithm::Argon2d => argon2_rust::Algorithm::Argon2d,
            Algorithm::Argon2i => argon2_rust::Algorithm::Argon2i,
            Algorithm::Argon2id => argon2_rust::Algorithm::Argon2id,
        };
        let version = match self.version {
            Version::V0x10 => argon2_rust::Version::V0x10,
            Version::V0x13 => argon2_rust::Version::V0x13,
        };
        let params = argon2_rust::Params::builder()
            .memory(argon2_rust::params::Memory::kib(u64::from(
                self.params.m_cost(),
            )))
            .passes(self.params.t_cost())
            .lanes(self.params.p_cost())
            // Lanes run one after the other on the calling thread (the crate's `parallel`
            // feature is off); hashing concurrency is the `Offload` pool's business.
            .threads(1)
            .tag_len(argon2_rust::params::TagLen::bytes(
                u64::try_from(
                    self.params
                        .output_len()
                        .unwrap_or(argon2::Params::DEFAULT_OUTPUT_LEN),
                )
                .ok()?,
            ))
            .build()
            .ok()?;
        Some(argon2_rust::Argon2::new(algorithm, version, params))
    }
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

fn hash_error(e: impl std::fmt::Display) -> Error {
    Error::PolicyInvalid(format!("password.hash: {e}"))
}

impl Hasher {
    /// A hasher for `params`.
    ///
    /// # Errors
    /// [`Error::PolicyInvalid`] when `params` are not valid argon2id parameters (or ask for
    /// more than 4 GiB).
    pub fn new(params: HashParams) -> Result<Self> {
        if params.m_cost > MAX_M_COST {
            return Err(hash_error("m_cost above 4 GiB"));
        }
        let argon2_params = argon2::Params::new(
            params.m_cost,
            params.t_cost,
            params.p_cost,
            Some(OUTPUT_LEN),
        )
        .map_err(hash_error)?;
        let block_count = argon2_params.block_count();
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon2_params);
        // The dummy's tag is a constant: no password is meant to match it, and the work of
        // verifying against it (recomputing argon2id at `params`) is the same as for a real one.
        let dummy_phc = phc_string(&argon2, &DUMMY_SALT, &[0u8; OUTPUT_LEN])?;
        Ok(Self {
            params,
            argon2,
            block_count,
            dummy_phc,
            pool: Mutex::new(Vec::new()),
        })
    }

    /// The job of hashing at this hasher's own parameters.
    fn own_job(&self) -> Job<'_> {
        Job {
            algorithm: Algorithm::Argon2id,
            version: Version::V0x13,
            params: self.argon2.params(),
            secret: &[],
        }
    }

    /// PHC string of `password` with a 16-byte `salt`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a password longer than argon2 accepts (4 GiB);
    /// [`Error::PolicyInvalid`] when the memory cannot be allocated.
    pub fn hash(&self, password: &Secret, salt: &[u8; 16]) -> Result<String> {
        let mut out = Zeroizing::new([0u8; OUTPUT_LEN]);
        self.compute(
            &self.own_job(),
            password.expose().as_bytes(),
            salt,
            &mut *out,
        )
        .map_err(|e| match e {
            argon2::Error::PwdTooLong => Error::invalid(
                Field::Password,
                InputProblem::TooLong {
                    max: argon2::MAX_PWD_LEN,
                },
            ),
            other => hash_error(other),
        })?;
        phc_string(&self.argon2, salt, &*out)
    }

    /// Whether `password` matches `phc` (parameters from the PHC string).
    ///
    /// Accepts argon2id, argon2i and argon2d PHC strings at any parameters (a missing `v=`
    /// means version 0x10, as in the reference implementation); the tag is compared in
    /// constant time. Anything malformed is simply `false`.
    pub fn verify(&self, password: &Secret, phc: &str) -> bool {
        self.verify_bytes(password.expose().as_bytes(), phc)
            .unwrap_or(false)
    }

    fn verify_bytes(&self, password: &[u8], phc: &str) -> Option<bool> {
        let parsed = PasswordHash::new(phc).ok()?;
        let algorithm = Algorithm::new(parsed.algorithm.as_str()).ok()?;
        let version = match parsed.version {
            None => Version::V0x10,
            Some(v) => Version::try_from(v).ok()?,
        };
        // Includes `output_len` = the length of the stored tag.
        let params = argon2::Params::try_from(&parsed).ok()?;
        if params.m_cost() > MAX_M_COST {
            return None;
        }
        let salt = parsed.salt?;
        let expected = parsed.hash?;
        let mut buf = Zeroizing::new([0u8; Output::MAX_LENGTH]);
        let out = buf.get_mut(..expected.len())?;
        let job = Job {
            algorithm,
            version,
            params: &params,
            secret: &[],
        };
        self.compute(&job, password, &salt, out).ok()?;
        Some(ct_eq_bytes(out, expected.as_bytes()))
    }

    /// L-5: spends the same work as a real verification, against a fixed dummy hash.
    pub fn dummy_verify(&self, password: &Secret) {
        let matched = self.verify(password, &self.dummy_phc);
        std::hint::black_box(matched);
    }

    /// PW-6: whether `phc` was made with other (weaker) parameters than this hasher's.
    ///
    /// True when it is not argon2id version 0x13 at exactly this hasher's `m`, `t`, `p` with a
    /// 32-byte tag and a salt of at least 16 bytes (no key ID, no associated data), or when it
    /// does not parse. Any difference counts, so a policy that lowers its parameters also
    /// re-hashes.
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return true;
        };
        let Ok(params) = argon2::Params::try_from(&parsed) else {
            return true;
        };
        let h = self.params;
        parsed.algorithm.as_str() != Algorithm::Argon2id.as_str()
            || parsed.version != Some(u32::from(Version::V0x13))
            || params.m_cost() != h.m_cost
            || params.t_cost() != h.t_cost
            || params.p_cost() != h.p_cost
            || !params.keyid().is_empty()
            || !params.data().is_empty()
            || parsed.hash.is_none_or(|out| out.len() != OUTPUT_LEN)
            || parsed
                .salt
                .is_none_or(|salt| salt.len() < Salt::RECOMMENDED_LENGTH)
    }

    /// PW-5: `SameAsCurrent` when `new` matches `current_phc`, `Reused` when it matches one of
    /// the first `history` entries of `previous`, else `None`.
    pub fn reuse_problem(
        &self,
        new: &Secret,
        current_phc: &str,
        previous: &[String],
        history: usize,
    ) -> Option<PasswordProblem> {
        if self.verify(new, current_phc) {
            return Some(PasswordProblem::SameAsCurrent);
        }
        previous
            .iter()
            .take(history)
            .any(|phc| self.verify(new, phc))
            .then_some(PasswordProblem::Reused)
    }

    /// Computes `job` into `out` on a pooled `argon2-rust` hasher (DESIGN principle 8), or with
    /// RustCrypto's `argon2` where `argon2-rust` refuses the job.
    fn compute(
        &self,
        job: &Job<'_>,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> argon2::Result<()> {
        // RustCrypto's checks first: its errors are the ones callers see (`PwdTooLong`, ...).
        let reference = job.reference()?;
        let Some(fast) = job.fast() else {
            REFERENCE_FALLBACKS.fetch_add(1, Ordering::Relaxed);
            return reference.hash_password_into(password, salt, out);
        };
        let need = fast.params().memory_blocks() as usize;
        let mut hasher = self.take_hasher(need)?;
        hasher.set_argon2(fast);
        let result = hasher.hash_into_with_ad(password, salt, job.secret, job.params.data(), out);
        self.return_hasher(hasher);
        match result {
            Ok(()) => Ok(()),
            Err(argon2_rust::Error::MemoryAllocationError) => Err(argon2::Error::OutOfMemory),
            Err(_) => {
                REFERENCE_FALLBACKS.fetch_add(1, Ordering::Relaxed);
                reference.hash_password_into(password, salt, out)
            }
        }
    }

    /// How many hashes this process has computed with RustCrypto's `argon2` because
    /// `argon2-rust` refused the job (any refusal but a failed allocation). Expected to stay 0:
    /// `argon2-rust` accepts every algorithm, version and lane count a PHC string can ask for;
    /// the differential tests check that it does, so they prove `argon2-rust`'s output and
    /// not the fallback's.
    pub fn reference_fallbacks() -> u64 {
        REFERENCE_FALLBACKS.load(Ordering::Relaxed)
    }

    /// An idle hasher from the pool, else a new one. A new one reserves this hasher's own
    /// arena size up front when the job fits in it, so that it can go back into the pool.
    fn take_hasher(&self, need: usize) -> argon2::Result<argon2_rust::Hasher> {
        {
            let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(hasher) = pool.pop() {
                return Ok(hasher);
            }
        }
        let mut hasher = self
            .own_job()
            .fast()
            .ok_or(argon2::Error::OutOfMemory)?
            .hasher();
        if need <= self.block_count {
            hasher.reserve().map_err(|_| argon2::Error::OutOfMemory)?;
        }
        Ok(hasher)
    }

    /// Keeps a hasher whose arena is this hasher's own size for the next hash; frees (and so
    /// wipes) any other.
    fn return_hasher(&self, hasher: argon2_rust::Hasher) {
        if hasher.reserved_blocks() == self.block_count {
            let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
            if pool.len() < POOL_CAP {
                pool.push(hasher);
            }
        }
    }
}

/// `$argon2id$v=19$m=..,t=..,p=..$<salt>$<tag>` (B64 without padding).
fn phc_string(argon2: &Argon2<'_>, salt: &[u8], tag: &[u8]) -> Result<String> {
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(u32::from(Version::V0x13)),
        params: ParamsString::try_from(argon2.params()).map_err(hash_error)?,
        salt: Some(Salt::new(salt).map_err(hash_error)?),
        hash: Some(Output::new(tag).map_err(hash_error)?),
    };
    Ok(phc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Deterministic xorshift64* "random" source for tests.
    struct TestRng(AtomicU64);

    impl TestRng {
        fn new(seed: u64) -> Self {
            Self(AtomicU64::new(seed | 1))
        }
    }

    impl SecureRandom for TestRng {
        fn fill(&self, dest: &mut [u8]) {
            for b in dest {
                let mut x = self.0.load(Ordering::Relaxed);
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                self.0.store(x, Ordering::Relaxed);
                *b = (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8;
            }
        }
    }

    /// A broken source that only ever returns zeros.
    struct ZeroRng;

    impl SecureRandom for ZeroRng {
        fn fill(&self, dest: &mut [u8]) {
            dest.fill(0);
        }
    }

    fn kuroneko() -> PasswordPolicy {
        Policy::kuroneko().with_test_hashing().password
    }

    fn nist() -> PasswordPolicy {
        Policy::nist().with_test_hashing().password
    }

    fn test_hasher() -> Hasher {
        Hasher::new(HashParams::TEST_ONLY).unwrap()
    }

    fn salt(n: u8) -> [u8; 16] {
        [n; 16]
    }

    #[test]
    fn length_is_counted_in_code_points() {
        // SPEC: PW-1
        let p = nist();
        let eight = "あいうえおかきく"; // 8 code points, 24 bytes
        assert_eq!(eight.len(), 24);
        assert_eq!(problems(&p, eight, None), vec![]);
        assert_eq!(
            problems(&p, "あいうえおかき", None),
            vec![PasswordProblem::TooShort { min: 8 }]
        );
        let max = "あ".repeat(p.max_len);
        assert_eq!(problems(&p, &max, None), vec![]);
        assert_eq!(
            problems(&p, &format!("{max}あ"), None),
            vec![PasswordProblem::TooLong { max: p.max_len }]
        );
    }

    #[test]
    fn half_width_charset_rejects_full_width_spaces_and_symbols() {
        // SPEC: PW-1
        let p = kuroneko();
        assert_eq!(problems(&p, "Kt7mQ2xR9", None), vec![]);
        for bad in [
            "Ｋt7mQ2xR9",        // full-width letter
            "Kt7mQ2xR９",        // full-width digit
            "Kt7m Q2xR9",        // space
            "Kt7m\u{3000}Q2xR9", // full-width space
            "Kt7m!Q2xR9",        // symbol
            "Kt7m-Q2xR9",        // symbol
            "Kt7mäQ2xR9",        // non-ASCII letter
        ] {
            assert_eq!(
                problems(&p, bad, None),
                vec![PasswordProblem::CharacterNotAllowed],
                "{bad}"
            );
        }
    }

    #[test]
    fn ascii_printable_charset_allows_symbols_but_not_spaces() {
        // SPEC: PW-1
        let p = Policy::secom_passport().with_test_hashing().password;
        assert_eq!(problems(&p, "Kt7m!Q2x~R9", None), vec![]);
        assert_eq!(
            problems(&p, "Kt7m Q2x~R9", None),
            vec![PasswordProblem::CharacterNotAllowed]
        );
        assert_eq!(
            problems(&p, "Kt7mあQ2x~R9", None),
            vec![PasswordProblem::CharacterNotAllowed]
        );
    }

    #[test]
    fn kuroneko_length_boundaries_8_and_20_are_inclusive() {
        // SPEC: PW-1 (decided: 8 and 20 are inclusive)
        let p = kuroneko();
        assert_eq!(
            problems(&p, "Kt7mQ2x", None),
            vec![PasswordProblem::TooShort { min: 8 }]
        );
        assert_eq!(problems(&p, "Kt7mQ2xR", None), vec![]);
        assert_eq!(problems(&p, "Kt7mQ2xR9wLp4vNs8bZc", None), vec![]);
        assert_eq!(
            problems(&p, "Kt7mQ2xR9wLp4vNs8bZc3", None),
            vec![PasswordProblem::TooLong { max: 20 }]
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        // SPEC: PW-1
        let mut p = kuroneko();
        p.required_classes = [CharClass::Upper, CharClass::Digit].into_iter().collect();
        assert_eq!(
            problems(&p, "!@#$%^", Some("!@#$%^")),
            vec![
                PasswordProblem::TooShort { min: 8 },
                PasswordProblem::CharacterNotAllowed,
                PasswordProblem::MissingClass {
                    class: CharClass::Upper
                },
                PasswordProblem::MissingClass {
                    class: CharClass::Digit
                },
                PasswordProblem::Common,
                PasswordProblem::SameAsUserId,
            ]
        );
        let err = check_new(
            &p,
            &Secret::new("abcdefghijklmnopqrstu v"),
            &Secret::new("abcdefghijklmnopqrstu v"),
            None,
        );
        assert_eq!(
            err,
            Err(Error::PasswordRejected(vec![
                PasswordProblem::TooLong { max: 20 },
                PasswordProblem::CharacterNotAllowed,
                PasswordProblem::MissingClass {
                    class: CharClass::Upper
                },
                PasswordProblem::MissingClass {
                    class: CharClass::Digit
                },
            ]))
        );
    }

    #[test]
    fn mismatch_is_checked_before_every_other_rule() {
        // SPEC: PW-2
        let p = kuroneko();
        assert_eq!(
            check_new(&p, &Secret::new("abc"), &Secret::new("abd"), Some("abc")),
            Err(Error::PasswordMismatch)
        );
        assert_eq!(
            check_new(
                &p,
                &Secret::new("Kt7mQ2xR9"),
                &Secret::new("Kt7mQ2xR9 "),
                None
            ),
            Err(Error::PasswordMismatch)
        );
        assert_eq!(
            check_new(&p, &Secret::new("abc"), &Secret::new("abc"), None),
            Err(Error::PasswordRejected(vec![
                PasswordProblem::TooShort { min: 8 },
                PasswordProblem::Common,
            ]))
        );
        assert_eq!(
            check_new(&p, &Secret::new("xq7"), &Secret::new("xq7"), None),
            Err(Error::PasswordRejected(vec![PasswordProblem::TooShort {
                min: 8
            }]))
        );
        assert_eq!(
            check_new(
                &p,
                &Secret::new("Kt7mQ2xR9"),
                &Secret::new("Kt7mQ2xR9"),
                None
            ),
            Ok(())
        );
    }

    #[test]
    fn blocklist_is_case_insensitive() {
        // SPEC: PW-1
        assert!(is_common("password"));
        assert!(is_common("PassWord"));
        assert!(is_common("12345678"));
        assert!(is_common("qwerty"));
        assert!(!is_common("Kt7mQ2xR9"));
        assert!(!is_common(""));
        let p = kuroneko();
        assert_eq!(
            problems(&p, "12345678", None),
            vec![PasswordProblem::Common]
        );
        assert_eq!(
            problems(&p, "PASSWORD", None),
            vec![PasswordProblem::Common]
        );
        let mut off = p.clone();
        off.blocklist = false;
        assert_eq!(problems(&off, "password", None), vec![]);
    }

    #[test]
    fn blocklist_has_at_least_10000_sorted_entries_all_found() {
        // SPEC: PW-1
        let lines: Vec<&str> = COMMON_PASSWORDS.lines().collect();
        assert!(lines.len() >= 10_000, "{}", lines.len());
        // The binary search relies on byte-wise sorted, unique, lower-case lines.
        assert!(lines.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes()));
        assert!(
            lines
                .iter()
                .all(|l| !l.is_empty() && *l == l.to_lowercase())
        );
        assert!(lines.iter().all(|l| is_common(l)));
        assert!(lines.iter().all(|l| !is_common(&format!("{l}\u{1}"))));
        assert!(!is_common("\u{10FFFF}"));
        assert!(!is_common(" "));
    }

    #[test]
    fn password_equal_to_user_id_is_refused_case_insensitively() {
        // SPEC: PW-1
        let p = nist();
        assert_eq!(
            problems(&p, "YAMADA.TARO.2024", Some("yamada.taro.2024")),
            vec![PasswordProblem::SameAsUserId]
        );
        assert_eq!(
            problems(&p, "yamada.taro.2024!", Some("yamada.taro.2024")),
            vec![]
        );
        assert_eq!(problems(&p, "YAMADA.TARO.2024", None), vec![]);
        let mut off = p.clone();
        off.forbid_user_id = false;
        assert_eq!(
            problems(&off, "YAMADA.TARO.2024", Some("yamada.taro.2024")),
            vec![]
        );
    }

    #[test]
    fn nist_accepts_a_long_passphrase_with_spaces_and_unicode() {
        // SPEC: PW-1
        let p = nist();
        assert!(p.required_classes.is_empty());
        for ok in [
            "correct horse battery staple",
            "いつも 心に 太陽を 🌞 2024",
            "Über den Wolken muss die Freiheit wohl grenzenlos sein",
            "パスワードは秘密です",
        ] {
            assert_eq!(problems(&p, ok, None), vec![], "{ok}");
        }
        assert_eq!(
            problems(&p, "correct\u{7}horse battery", None),
            vec![PasswordProblem::CharacterNotAllowed]
        );
    }

    #[test]
    fn history_refuses_current_and_last_n_but_allows_older() {
        // SPEC: PW-5
        let h = test_hasher();
        let current = h.hash(&Secret::new("Current1x"), &salt(1)).unwrap();
        let previous: Vec<String> = ["Prev1aaaa", "Prev2bbbb", "Prev3cccc"]
            .iter()
            .zip(2u8..)
            .map(|(pw, s)| h.hash(&Secret::new(*pw), &salt(s)).unwrap())
            .collect();
        let reuse = |pw: &str, n| h.reuse_problem(&Secret::new(pw), &current, &previous, n);
        assert_eq!(reuse("Current1x", 2), Some(PasswordProblem::SameAsCurrent));
        assert_eq!(reuse("Current1x", 0), Some(PasswordProblem::SameAsCurrent));
        assert_eq!(reuse("Prev1aaaa", 2), Some(PasswordProblem::Reused));
        assert_eq!(reuse("Prev2bbbb", 2), Some(PasswordProblem::Reused));
        assert_eq!(reuse("Prev3cccc", 2), None);
        assert_eq!(reuse("Prev3cccc", 4), Some(PasswordProblem::Reused));
        assert_eq!(reuse("Prev1aaaa", 0), None);
        assert_eq!(reuse("Brandnew9", 4), None);
    }

    #[test]
    fn expiry_starts_once_91_full_days_have_passed() {
        // SPEC: PW-3 (decided: expired at set_at + 91 days, inclusive)
        let p = kuroneko();
        assert_eq!(p.max_age_days, Some(91));
        let set_at = Timestamp(1_700_000_000);
        let rec = PasswordRecord {
            phc: String::new(),
            set_at,
            temporary_until: None,
        };
        assert!(!is_expired(&p, &rec, set_at));
        assert!(!is_expired(&p, &rec, set_at.plus_days(90)));
        assert!(!is_expired(&p, &rec, set_at.plus_days(91).plus_secs(-1)));
        assert!(is_expired(&p, &rec, set_at.plus_days(91)));
        assert!(is_expired(&p, &rec, set_at.plus_days(400)));
        // NIST: no periodic expiry.
        assert!(!is_expired(&nist(), &rec, set_at.plus_days(10_000)));
        // A temporary password follows its own lifetime (PW-4), not the max age.
        let temp = PasswordRecord {
            temporary_until: Some(set_at.plus_days(7)),
            ..rec
        };
        assert!(!is_expired(&p, &temp, set_at.plus_days(400)));
    }

    #[test]
    fn temporary_password_expires_at_the_end_of_its_lifetime() {
        // SPEC: PW-4
        let p = Policy::secom_passport().password;
        let set_at = Timestamp(1_700_000_000);
        let until = set_at.plus_days(i64::from(p.temporary_lifetime_days));
        let temp = PasswordRecord {
            phc: String::new(),
            set_at,
            temporary_until: Some(until),
        };
        assert!(!temporary_expired(&temp, set_at.plus_days(29)));
        assert!(!temporary_expired(&temp, until.plus_secs(-1)));
        assert!(temporary_expired(&temp, until));
        let normal = PasswordRecord {
            temporary_until: None,
            ..temp
        };
        assert!(!temporary_expired(&normal, until.plus_days(1000)));
    }

    #[test]
    fn generated_temporary_passwords_pass_every_preset() {
        // SPEC: PW-4
        let rng = TestRng::new(0x5eed);
        for name in Policy::PRESETS {
            let p = Policy::preset(name).unwrap().password;
            let mut seen = std::collections::HashSet::new();
            for _ in 0..200 {
                let s = generate_temporary(&p, &rng);
                let pw = s.expose();
                assert_eq!(problems(&p, pw, None), vec![], "{name}: {pw}");
                assert_eq!(pw.chars().count(), p.temporary_len, "{name}");
                assert!(pw.chars().any(|c| c.is_ascii_uppercase()), "{pw}");
                assert!(pw.chars().any(|c| c.is_ascii_lowercase()), "{pw}");
                assert!(pw.chars().any(|c| c.is_ascii_digit()), "{pw}");
                assert!(!pw.contains(['0', 'O', '1', 'l', 'I']), "{pw}");
                seen.insert(pw.to_owned());
            }
            assert_eq!(seen.len(), 200, "{name}");
        }
    }

    #[test]
    fn generated_temporary_password_meets_required_symbols_and_a_broken_rng() {
        // SPEC: PW-4
        let mut p = Policy::pci_dss().password;
        p.required_classes.insert(CharClass::Symbol);
        p.required_classes.insert(CharClass::Upper);
        let rng = TestRng::new(7);
        for _ in 0..100 {
            let s = generate_temporary(&p, &rng);
            assert_eq!(problems(&p, s.expose(), None), vec![], "{}", s.expose());
        }
        for name in Policy::PRESETS {
            let p = Policy::preset(name).unwrap().password;
            let s = generate_temporary(&p, &ZeroRng);
            assert_eq!(problems(&p, s.expose(), None), vec![], "{name}");
        }
    }

    #[test]
    fn random_choices_are_uniform_and_in_range() {
        // SPEC: PW-4
        let rng = TestRng::new(42);
        let mut bytes = ByteSource::new(&rng);
        for n in [3usize, 57, 300] {
            let mut counts = vec![0usize; n];
            let draws = 2000 * n;
            for _ in 0..draws {
                counts[bytes.below(n)] += 1;
            }
            // Every value within 10 % of the expected 2000 (4.5 standard deviations). Modulo
            // bias for n = 57 would give the first 28 values 5/256 instead of 4/256 (about
            // 2226 against 1781 draws), outside this band.
            assert!(counts.iter().all(|&c| (1800..=2200).contains(&c)), "{n}");
        }
        assert_eq!(bytes.below(0), 0);
        assert_eq!(bytes.below(1), 0);
        // A long temporary password from a policy that allows it.
        let mut p = nist();
        p.temporary_len = 300;
        p.max_len = 300;
        let s = generate_temporary(&p, &rng);
        assert_eq!(s.expose().len(), 300);
        assert_eq!(problems(&p, s.expose(), None), vec![]);
    }

    #[test]
    fn hash_is_an_argon2id_phc_string_that_verifies() {
        // SPEC: PW-6
        let h = test_hasher();
        let pw = Secret::new("Kt7mQ2xR9");
        let phc = h.hash(&pw, &salt(7)).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(h.verify(&pw, &phc));
        assert!(!h.verify(&Secret::new("Kt7mQ2xR8"), &phc));
        assert!(!h.verify(&Secret::new(""), &phc));
        assert!(!h.needs_rehash(&phc));
        // Same as the argon2 crate's own (allocating) computation and PHC verifier.
        use argon2::PasswordVerifier as _;
        let plain = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            argon2::Params::new(64, 1, 1, Some(32)).unwrap(),
        );
        assert!(plain.verify_password(b"Kt7mQ2xR9", phc.as_str()).is_ok());
        let mut expected = [0u8; 32];
        plain
            .hash_password_into(b"Kt7mQ2xR9", &salt(7), &mut expected)
            .unwrap();
        let parsed = PasswordHash::new(&phc).unwrap();
        assert_eq!(parsed.hash.unwrap().as_bytes(), &expected);
        assert_eq!(&*parsed.salt.unwrap(), &salt(7));
    }

    #[test]
    fn verify_uses_the_parameters_of_the_phc_string() {
        // SPEC: PW-6
        let other = Hasher::new(HashParams {
            m_cost: 128,
            t_cost: 2,
            p_cost: 2,
        })
        .unwrap();
        let pw = Secret::new("Kt7mQ2xR9");
        let phc = other.hash(&pw, &salt(3)).unwrap();
        let h = test_hasher();
        assert!(h.verify(&pw, &phc));
        assert!(!h.verify(&Secret::new("nope"), &phc));
        // A 64-byte tag made elsewhere verifies too.
        let mut tag = [0u8; 64];
        Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            argon2::Params::new(64, 1, 1, Some(64)).unwrap(),
        )
        .hash_password_into(b"Kt7mQ2xR9", &salt(4), &mut tag)
        .unwrap();
        let phc64 = PasswordHash {
            algorithm: argon2::ARGON2ID_IDENT,
            version: Some(0x13),
            params: "m=64,t=1,p=1".parse().unwrap(),
            salt: Some(Salt::new(&salt(4)).unwrap()),
            hash: Some(Output::new(&tag).unwrap()),
        }
        .to_string();
        assert!(h.verify(&pw, &phc64));
        assert!(h.needs_rehash(&phc64));
    }

    #[test]
    fn needs_rehash_when_params_differ_or_are_weaker() {
        // SPEC: PW-6
        let pw = Secret::new("Kt7mQ2xR9");
        let strong = Hasher::new(HashParams {
            m_cost: 256,
            t_cost: 2,
            p_cost: 1,
        })
        .unwrap();
        let weak_phc = test_hasher().hash(&pw, &salt(9)).unwrap();
        assert!(strong.needs_rehash(&weak_phc));
        assert!(strong.verify(&pw, &weak_phc));
        let strong_phc = strong.hash(&pw, &salt(9)).unwrap();
        assert!(!strong.needs_rehash(&strong_phc));
        // Fewer iterations, more lanes, argon2i, an old version, garbage: all re-hash.
        assert!(strong.needs_rehash(&strong_phc.replace("t=2", "t=1")));
        assert!(strong.needs_rehash(&strong_phc.replace("p=1", "p=2")));
        assert!(strong.needs_rehash(&strong_phc.replace("$argon2id$", "$argon2i$")));
        assert!(strong.needs_rehash(&strong_phc.replace("$v=19$", "$v=16$")));
        assert!(strong.needs_rehash(&strong_phc.replace("$v=19", "")));
        assert!(strong.needs_rehash("garbage"));
        assert!(strong.needs_rehash(""));
    }

    #[test]
    fn verify_is_false_for_garbage_phc_strings() {
        // SPEC: PW-6
        let h = test_hasher();
        let pw = Secret::new("Kt7mQ2xR9");
        let good = h.hash(&pw, &salt(5)).unwrap();
        let (head, tag) = good.rsplit_once('$').unwrap();
        let garbage = [
            String::new(),
            "$".into(),
            "$$$$$".into(),
            "garbage".into(),
            "Kt7mQ2xR9".into(),
            "$argon2id".into(),
            "$argon2id$v=19$m=64,t=1,p=1".into(),
            head.to_owned(),
            format!("{head}$"),
            format!("{head}$!!!!"),
            format!("{head}${}", &tag[..tag.len() - 4]),
            format!("{good}$extra"),
            format!("{good}="),
            good.replace("$argon2id$", "$scrypt$"),
            good.replace("$argon2id$", "$argon2x$"),
            good.replace("v=19", "v=99"),
            good.replace("v=19", "v=abc"),
            good.replace("m=64", "m=0"),
            good.replace("m=64", "m=4"),
            good.replace("m=64", "m=4294967295"),
            good.replace("m=64", "m=99999999999999999999"),
            good.replace("m=64", "m=-64"),
            good.replace("m=64", "m=６４"),
            good.replace("t=1", "t=0"),
            good.replace("p=1", "p=0"),
            good.replace("p=1", "p=16777216"),
            good.replace("p=1", "p=1,x=5"),
            good.replace("p=1", "p=1,keyid=%%"),
            good.replace("t=1", "t=2"),
            good.replace("m=64,t=1,p=1", ""),
            good.replace("m=64,t=1,p=1$", "m=64,t=1,p=1$AAAA$"),
            format!("$argon2id$v=19$m=64,t=1,p=1$c2FsdA${tag}"), // salt too short
            format!("$argon2id$v=19$m=64,t=1,p=1${}${tag}", "QUFB".repeat(20)),
            "$argon2id$v=19$m=64,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAA".into(),
            format!("{}{}", good, "\u{0}"),
            "\u{1F600}$argon2id$v=19".into(),
        ];
        for phc in &garbage {
            assert!(!h.verify(&pw, phc), "{phc:?}");
            assert!(h.needs_rehash(phc) || phc == &good, "{phc:?}");
        }
        assert!(h.verify(&pw, &good));
    }

    #[test]
    fn dummy_verify_costs_a_verification_at_the_hashers_params() {
        // SPEC: L-5
        let h = test_hasher();
        assert!(!h.needs_rehash(&h.dummy_phc));
        assert!(!h.verify(&Secret::new(""), &h.dummy_phc));
        h.dummy_verify(&Secret::new("anything"));
        // The dummy used a pooled buffer like a real verification.
        assert_eq!(h.pool.lock().unwrap().len(), 1);
    }

    #[test]
    fn hasher_is_send_sync_and_its_debug_shows_no_secret() {
        // SPEC: PW-6
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Hasher>();
        let h = test_hasher();
        let _ = h.hash(&Secret::new("Kt7mQ2xR9"), &salt(1)).unwrap();
        let dbg = format!("{h:?}");
        assert!(dbg.contains("m_cost: 64"), "{dbg}");
        assert!(!dbg.contains('$') && !dbg.contains("Kt7m"), "{dbg}");
    }

    #[test]
    fn pooled_buffers_give_each_thread_its_own_and_are_reused() {
        // SPEC: PW-6 (DESIGN principle 8)
        let h = test_hasher();
        let plain = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            argon2::Params::new(64, 1, 1, Some(32)).unwrap(),
        );
        std::thread::scope(|s| {
            for t in 0..4u8 {
                let h = &h;
                let plain = &plain;
                s.spawn(move || {
                    for i in 0..20u8 {
                        let pw = format!("pw-{t}-{i}");
                        let phc = h.hash(&Secret::new(pw.clone()), &salt(i)).unwrap();
                        let mut expected = [0u8; 32];
                        plain
                            .hash_password_into(pw.as_bytes(), &salt(i), &mut expected)
                            .unwrap();
                        let parsed = PasswordHash::new(&phc).unwrap();
                        assert_eq!(parsed.hash.unwrap().as_bytes(), &expected);
                        assert!(h.verify(&Secret::new(pw), &phc));
                    }
                });
            }
        });
        let pooled = h.pool.lock().unwrap().len();
        assert!((1..=4).contains(&pooled), "{pooled}");
        // Sequential hashes keep reusing one buffer.
        let h = test_hasher();
        for i in 0..5 {
            h.hash(&Secret::new("Kt7mQ2xR9"), &salt(i)).unwrap();
        }
        assert_eq!(h.pool.lock().unwrap().len(), 1);
    }

    #[test]
    fn hasher_refuses_invalid_params() {
        // SPEC: PW-6
        for bad in [
            HashParams {
                m_cost: 4,
                t_cost: 1,
                p_cost: 1,
            },
            HashParams {
                m_cost: 64,
                t_cost: 0,
                p_cost: 1,
            },
            HashParams {
                m_cost: 64,
                t_cost: 1,
                p_cost: 0,
            },
            HashParams {
                m_cost: MAX_M_COST + 1,
                t_cost: 1,
                p_cost: 1,
            },
        ] {
            assert!(
                matches!(Hasher::new(bad), Err(Error::PolicyInvalid(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn rfc9106_argon2id_test_vector() {
        // SPEC: PW-6 (RFC 9106 section 5.3)
        let secret = [0x03u8; 8];
        let params = argon2::ParamsBuilder::new()
            .m_cost(32)
            .t_cost(3)
            .p_cost(4)
            .data(argon2::AssociatedData::new(&[0x04; 12]).unwrap())
            .output_len(32)
            .build()
            .unwrap();
        let a =
            Argon2::new_with_secret(&secret, Algorithm::Argon2id, Version::V0x13, params.clone())
                .unwrap();
        let mut tag = [0u8; 32];
        a.hash_password_into(&[0x01; 32], &[0x02; 16], &mut tag)
            .unwrap();
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"
        );
        // The pooled path (argon2-rust) computes the same tag.
        let h = test_hasher();
        let mut pooled = [0u8; 32];
        let job = Job {
            algorithm: Algorithm::Argon2id,
            version: Version::V0x13,
            params: &params,
            secret: &secret,
        };
        h.compute(&job, &[0x01; 32], &[0x02; 16], &mut pooled)
            .unwrap();
        assert_eq!(pooled, tag);
        // And argon2-rust itself, called directly.
        let fast = job.fast().unwrap();
        let mut direct = [0u8; 32];
        fast.hash_into_with_ad(&[0x01; 32], &[0x02; 16], &secret, &[0x04; 12], &mut direct)
            .unwrap();
        assert_eq!(direct, tag);
    }
}
