//! argon2id cost at every preset's parameters (PW-6), what reusing the memory buffer saves
//! (DESIGN principle 8), and the argon2id implementations side by side (`candidates`). Run:
//! `cargo bench -p monban-benches --features libsodium --bench argon2` (without the feature the
//! libsodium candidate is left out); figures in `benches/README.md`.
// A bench is a test harness: failing loudly on a setup error is what we want.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use argon2::{Algorithm, Argon2, Block, Version};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use monban_benches::distinct_hash_params;
use monban_core::Secret;
use monban_core::password::Hasher;
use monban_core::policy::HashParams;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const PASSWORD: &str = "Kt7mQ2xR9wLp";
const SALT: [u8; 16] = *b"bench-salt-16byt";

/// `Hasher::hash` and `Hasher::verify` once per distinct parameter set of the presets.
fn presets(c: &mut Criterion) {
    let password = Secret::new(PASSWORD);
    let mut group = c.benchmark_group("preset");
    for (presets, params) in distinct_hash_params() {
        let hasher = Hasher::new(params).expect("valid preset parameters");
        let phc = hasher.hash(&password, &SALT).expect("hash");
        let id = format!(
            "m{}_t{}_p{}[{presets}]",
            params.m_cost, params.t_cost, params.p_cost
        );
        group.bench_function(BenchmarkId::new("hash", &id), |b| {
            b.iter(|| hasher.hash(black_box(&password), black_box(&SALT)))
        });
        group.bench_function(BenchmarkId::new("verify", &id), |b| {
            b.iter(|| assert!(hasher.verify(black_box(&password), black_box(&phc))))
        });
        // Every core verifying at once, as a server under login load does: the figure is the
        // core time one verify takes then (wall time × cores ÷ verifies), so `cores ÷ figure`
        // is the machine's verify rate. It is above the single-threaded figure by what the
        // cores lose to each other (memory bandwidth, shared cache, the hypervisor).
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        group.bench_function(BenchmarkId::new("verify_all_cores", &id), |b| {
            b.iter_custom(|iters| {
                let next = AtomicU64::new(0);
                let start = Instant::now();
                std::thread::scope(|s| {
                    for _ in 0..cores {
                        s.spawn(|| {
                            while next.fetch_add(1, Ordering::Relaxed) < iters {
                                assert!(hasher.verify(black_box(&password), black_box(&phc)));
                            }
                        });
                    }
                });
                start.elapsed() * u32::try_from(cores).unwrap_or(1)
            })
        });
    }
    group.finish();
}

/// A fresh allocation per hash (`Argon2::hash_password_into`) against one reused buffer
/// (`hash_password_into_with_memory`), and against `Hasher::hash` (pooled buffer + PHC
/// encoding): at OWASP parameters (19 MiB, below glibc's 32 MiB dynamic mmap threshold) and at
/// RFC 9106's low-memory option (64 MiB, always a fresh mmap and its page faults).
fn alloc_vs_pool(c: &mut Criterion) {
    let password = Secret::new(PASSWORD);
    for (name, params) in [
        ("owasp_m19456_t2_p1", HashParams::OWASP),
        ("rfc9106_m65536_t3_p4", HashParams::RFC9106_LOW_MEMORY),
    ] {
        let argon2 = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            argon2::Params::new(params.m_cost, params.t_cost, params.p_cost, Some(32))
                .expect("valid parameters"),
        );
        let hasher = Hasher::new(params).expect("valid parameters");
        let mut group = c.benchmark_group(name);
        group.bench_function("fresh_allocation", |b| {
            b.iter(|| {
                let mut out = [0u8; 32];
                argon2
                    .hash_password_into(black_box(PASSWORD.as_bytes()), &SALT, &mut out)
                    .expect("hash");
                out
            })
        });
        let mut blocks = vec![Block::new(); argon2.params().block_count()];
        group.bench_function("reused_buffer", |b| {
            b.iter(|| {
                let mut out = [0u8; 32];
                argon2
                    .hash_password_into_with_memory(
                        black_box(PASSWORD.as_bytes()),
                        &SALT,
                        &mut out,
                        &mut blocks,
                    )
                    .expect("hash");
                out
            })
        });
        group.bench_function("hasher_pooled", |b| {
            b.iter(|| hasher.hash(black_box(&password), &SALT).expect("hash"))
        });
        group.finish();
    }
}

/// At each distinct parameter set of the presets, single-threaded, in one run: monban's
/// `Hasher::hash`, RustCrypto `argon2` (fresh allocation and a reused buffer), `argon2-rust`
/// (fresh and its reusing `Hasher`) and, with the `libsodium` feature, libsodium's
/// `crypto_pwhash` (p = 1 only: libsodium hashes with one lane).
fn candidates(c: &mut Criterion) {
    let password = Secret::new(PASSWORD);
    for (presets, params) in distinct_hash_params() {
        let id = format!(
            "m{}_t{}_p{}[{presets}]",
            params.m_cost, params.t_cost, params.p_cost
        );
        let mut group = c.benchmark_group(format!("candidates/{id}"));
        let hasher = Hasher::new(params).expect("valid parameters");
        group.bench_function("monban_hasher", |b| {
            b.iter(|| hasher.hash(black_box(&password), &SALT).expect("hash"))
        });
        let rustcrypto = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            argon2::Params::new(params.m_cost, params.t_cost, params.p_cost, Some(32))
                .expect("valid parameters"),
        );
        group.bench_function("rustcrypto_argon2_fresh", |b| {
            b.iter(|| {
                let mut out = [0u8; 32];
                rustcrypto
                    .hash_password_into(black_box(PASSWORD.as_bytes()), &SALT, &mut out)
                    .expect("hash");
                out
            })
        });
        let mut blocks = vec![Block::new(); rustcrypto.params().block_count()];
        group.bench_function("rustcrypto_argon2_reused", |b| {
            b.iter(|| {
                let mut out = [0u8; 32];
                rustcrypto
                    .hash_password_into_with_memory(
                        black_box(PASSWORD.as_bytes()),
                        &SALT,
                        &mut out,
                        &mut blocks,
                    )
                    .expect("hash");
                out
            })
        });
        let fast = argon2_rust::Argon2::new(
            argon2_rust::Algorithm::Argon2id,
            argon2_rust::Version::V0x13,
            argon2_rust::Params::builder()
                .memory(argon2_rust::params::Memory::kib(u64::from(params.m_cost)))
                .passes(params.t_cost)
                .lanes(params.p_cost)
                .threads(1)
                .build()
                .expect("valid parameters"),
        );
        group.bench_function("argon2_rust_fresh", |b| {
            b.iter(|| {
                let mut out = [0u8; 32];
                fast.hash_into(black_box(PASSWORD.as_bytes()), &SALT, &mut out)
                    .expect("hash");
                out
            })
        });
        let mut reusing = fast.hasher();
        group.bench_function("argon2_rust_reused", |b| {
            b.iter(|| {
                let mut out = [0u8; 32];
                reusing
                    .hash_into(black_box(PASSWORD.as_bytes()), &SALT, &mut out)
                    .expect("hash");
                out
            })
        });
        #[cfg(feature = "libsodium")]
        if params.p_cost == 1 {
            let expected = {
                let mut out = [0u8; 32];
                fast.hash_into(PASSWORD.as_bytes(), &SALT, &mut out)
                    .expect("hash");
                out
            };
            assert_eq!(
                sodium::argon2id(PASSWORD.as_bytes(), &SALT, params),
                expected
            );
            group.bench_function("libsodium", |b| {
                b.iter(|| sodium::argon2id(black_box(PASSWORD.as_bytes()), &SALT, params))
            });
        }
        group.finish();
    }
}

/// libsodium's argon2id (`crypto_pwhash`, algorithm `ARGON2ID13`), through its C API.
#[cfg(feature = "libsodium")]
#[allow(unsafe_code)]
mod sodium {
    use monban_core::policy::HashParams;
    use std::sync::Once;

    static INIT: Once = Once::new();

    /// The 32-byte argon2id tag; panics when libsodium refuses (a bench setup error).
    pub(crate) fn argon2id(password: &[u8], salt: &[u8; 16], params: HashParams) -> [u8; 32] {
        // SAFETY: sodium_init may be called from any thread; Once runs it once.
        INIT.call_once(|| assert!(unsafe { libsodium_sys::sodium_init() } >= 0));
        let mut out = [0u8; 32];
        // SAFETY: every pointer is valid for the length passed with it; the salt is
        // crypto_pwhash_SALTBYTES (16) long, as the signature requires.
        let rc = unsafe {
            libsodium_sys::crypto_pwhash(
                out.as_mut_ptr(),
                out.len() as u64,
                password.as_ptr().cast(),
                password.len() as u64,
                salt.as_ptr(),
                u64::from(params.t_cost),
                usize::try_from(params.m_cost).expect("fits") * 1024,
                libsodium_sys::crypto_pwhash_ALG_ARGON2ID13 as i32,
            )
        };
        assert_eq!(rc, 0, "crypto_pwhash");
        out
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = candidates, presets, alloc_vs_pool
}
criterion_main!(benches);
