//! Key distributions and value contents.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};

/// How keys are picked from `0..keys`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeyDist {
    /// Every key equally likely.
    Uniform,
    /// Zipf with exponent `s`: key 0 is the most popular, key `i` is picked
    /// with probability proportional to `1 / (i + 1)^s`.
    Zipf(f64),
    /// Keys in order, wrapping around (each thread walks its own residue
    /// class: thread `t` of `T` visits `t, t+T, t+2T, ...`).
    Seq,
}

impl std::str::FromStr for KeyDist {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "uniform" => Ok(KeyDist::Uniform),
            "seq" => Ok(KeyDist::Seq),
            "zipf" => Ok(KeyDist::Zipf(0.99)),
            _ => {
                if let Some(exp) = s.strip_prefix("zipf:") {
                    let v: f64 = exp
                        .parse()
                        .map_err(|_| format!("bad zipf exponent {exp:?}"))?;
                    if !(v >= 0.0 && v.is_finite()) {
                        return Err(format!("zipf exponent must be >= 0, got {v}"));
                    }
                    Ok(KeyDist::Zipf(v))
                } else {
                    Err(format!(
                        "unknown key distribution {s:?} (expected uniform, zipf:S or seq)"
                    ))
                }
            }
        }
    }
}

/// Draws key indices in `0..n`.
pub struct KeyGen {
    n: u64,
    kind: Gen,
}

enum Gen {
    Uniform,
    Zipf(Zipf<f64>),
    Seq { next: u64, stride: u64 },
}

impl KeyGen {
    /// `start`/`stride` apply to `Seq` only.
    pub fn new(dist: KeyDist, n: u64, start: u64, stride: u64) -> Self {
        assert!(n > 0, "keyspace must not be empty");
        let kind = match dist {
            KeyDist::Uniform => Gen::Uniform,
            KeyDist::Zipf(s) => Gen::Zipf(Zipf::new(n as f64, s).expect("valid zipf parameters")),
            KeyDist::Seq => Gen::Seq {
                next: start % n,
                stride: stride.max(1),
            },
        };
        KeyGen { n, kind }
    }

    #[inline]
    pub fn next(&mut self, rng: &mut SmallRng) -> u64 {
        match &mut self.kind {
            Gen::Uniform => rng.random_range(0..self.n),
            Gen::Zipf(z) => {
                let rank = z.sample(rng) as u64; // 1..=n
                rank.clamp(1, self.n) - 1
            }
            Gen::Seq { next, stride } => {
                let k = *next;
                *next += *stride;
                if *next >= self.n {
                    *next %= self.n;
                }
                k
            }
        }
    }
}

/// A small fast RNG seeded deterministically.
pub fn rng(seed: u64) -> SmallRng {
    SmallRng::seed_from_u64(seed)
}

/// `--value-size N` or `MIN..MAX` (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueSize {
    pub min: usize,
    pub max: usize,
}

impl std::str::FromStr for ValueSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let num = |t: &str| -> Result<usize, String> {
            t.trim()
                .parse::<usize>()
                .map_err(|_| format!("bad value size {t:?} (expected N or MIN..MAX)"))
        };
        let (min, max) = match s.split_once("..") {
            Some((a, b)) => (num(a)?, num(b.strip_prefix('=').unwrap_or(b))?),
            None => {
                let n = num(s)?;
                (n, n)
            }
        };
        if min > max {
            return Err(format!("value size range {min}..{max} is empty"));
        }
        if max > 512 * 1024 * 1024 {
            return Err("value size above 512 MiB".into());
        }
        Ok(ValueSize { min, max })
    }
}

impl ValueSize {
    #[inline]
    pub fn pick(&self, rng: &mut SmallRng) -> usize {
        if self.min == self.max {
            self.min
        } else {
            rng.random_range(self.min..=self.max)
        }
    }
}

/// Value bytes: a slice of a per-run random alphabet buffer at an offset
/// derived from (key, length). Cheap to produce (no per-request generation)
/// and cheap to check: a GET's reply for key `k` must equal
/// `value(k, reply.len())`, which a value left by another run (another seed)
/// matches only by accident.
pub struct ValueSource {
    buf: Vec<u8>,
    window: usize,
}

const WINDOW: usize = 4096;

impl ValueSource {
    pub fn new(seed: u64, max_len: usize) -> Self {
        let mut r = rng(seed ^ 0x005e_ed0f_da7a);
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let buf = (0..WINDOW + max_len)
            .map(|_| ALPHABET[r.random_range(0..ALPHABET.len())])
            .collect();
        ValueSource {
            buf,
            window: WINDOW,
        }
    }

    #[inline]
    pub fn value(&self, key: u64, len: usize) -> &[u8] {
        let off = (mix(key ^ ((len as u64) << 40)) % self.window as u64) as usize;
        &self.buf[off..off + len]
    }
}

/// splitmix64 finalizer.
#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `--ratio GET:SET`, e.g. `9:1`, `1:0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    pub get: u32,
    pub set: u32,
}

impl std::str::FromStr for Ratio {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (a, b) = s
            .split_once(':')
            .ok_or_else(|| format!("bad ratio {s:?} (expected GET:SET, e.g. 9:1)"))?;
        let p = |t: &str| {
            t.trim()
                .parse::<u32>()
                .map_err(|_| format!("bad ratio {s:?} (expected GET:SET, e.g. 9:1)"))
        };
        let r = Ratio {
            get: p(a)?,
            set: p(b)?,
        };
        if r.get == 0 && r.set == 0 {
            return Err("ratio 0:0 issues nothing".into());
        }
        if u64::from(r.get) + u64::from(r.set) > u64::from(u32::MAX) {
            return Err("ratio too large".into());
        }
        Ok(r)
    }
}

impl Ratio {
    /// True when the next operation should be a read.
    #[inline]
    pub fn pick_get(&self, rng: &mut SmallRng) -> bool {
        if self.set == 0 {
            true
        } else if self.get == 0 {
            false
        } else {
            rng.random_range(0..self.get + self.set) < self.get
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_parsing() {
        assert_eq!("9:1".parse::<Ratio>(), Ok(Ratio { get: 9, set: 1 }));
        assert_eq!("1:0".parse::<Ratio>(), Ok(Ratio { get: 1, set: 0 }));
        assert_eq!("0:1".parse::<Ratio>(), Ok(Ratio { get: 0, set: 1 }));
        assert!("0:0".parse::<Ratio>().is_err());
        assert!("9".parse::<Ratio>().is_err());
        assert!("a:b".parse::<Ratio>().is_err());
        assert!("-1:2".parse::<Ratio>().is_err());
    }

    #[test]
    fn ratio_mix_matches_weights() {
        let r: Ratio = "3:1".parse().unwrap();
        let mut g = rng(1);
        let gets = (0..100_000).filter(|_| r.pick_get(&mut g)).count();
        assert!((73_000..77_000).contains(&gets), "{gets}");
        let only: Ratio = "1:0".parse().unwrap();
        assert!((0..1000).all(|_| only.pick_get(&mut g)));
        let none: Ratio = "0:5".parse().unwrap();
        assert!((0..1000).all(|_| !none.pick_get(&mut g)));
    }

    #[test]
    fn value_size_parsing() {
        assert_eq!(
            "100".parse::<ValueSize>(),
            Ok(ValueSize { min: 100, max: 100 })
        );
        assert_eq!(
            "10..20".parse::<ValueSize>(),
            Ok(ValueSize { min: 10, max: 20 })
        );
        assert_eq!(
            "10..=20".parse::<ValueSize>(),
            Ok(ValueSize { min: 10, max: 20 })
        );
        assert!("20..10".parse::<ValueSize>().is_err());
        assert!("x".parse::<ValueSize>().is_err());
        assert!("1..".parse::<ValueSize>().is_err());
        let vs: ValueSize = "10..12".parse().unwrap();
        let mut g = rng(2);
        let mut seen = [false; 3];
        for _ in 0..1000 {
            let n = vs.pick(&mut g);
            assert!((10..=12).contains(&n));
            seen[n - 10] = true;
        }
        assert_eq!(seen, [true; 3]);
    }

    #[test]
    fn key_dist_parsing() {
        assert_eq!("uniform".parse::<KeyDist>(), Ok(KeyDist::Uniform));
        assert_eq!("seq".parse::<KeyDist>(), Ok(KeyDist::Seq));
        assert_eq!("zipf:1.2".parse::<KeyDist>(), Ok(KeyDist::Zipf(1.2)));
        assert!("zipf:-1".parse::<KeyDist>().is_err());
        assert!("normal".parse::<KeyDist>().is_err());
    }

    #[test]
    fn uniform_stays_in_range_and_covers_it() {
        let mut g = rng(3);
        let mut kg = KeyGen::new(KeyDist::Uniform, 100, 0, 1);
        let mut counts = [0u32; 100];
        for _ in 0..100_000 {
            let k = kg.next(&mut g);
            assert!(k < 100);
            counts[k as usize] += 1;
        }
        // Expected 1000 each; allow generous noise.
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn seq_walks_in_order_per_thread() {
        let mut g = rng(4);
        let mut kg = KeyGen::new(KeyDist::Seq, 10, 0, 1);
        let got: Vec<u64> = (0..12).map(|_| kg.next(&mut g)).collect();
        assert_eq!(got, vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
        // Thread 1 of 3.
        let mut kg = KeyGen::new(KeyDist::Seq, 10, 1, 3);
        let got: Vec<u64> = (0..5).map(|_| kg.next(&mut g)).collect();
        assert_eq!(got, vec![1, 4, 7, 0, 3]);
    }

    #[test]
    fn zipf_is_skewed_toward_low_keys() {
        let mut g = rng(5);
        let n = 10_000u64;
        let mut kg = KeyGen::new(KeyDist::Zipf(1.0), n, 0, 1);
        let mut counts = vec![0u32; n as usize];
        let draws = 200_000;
        for _ in 0..draws {
            let k = kg.next(&mut g);
            assert!(k < n);
            counts[k as usize] += 1;
        }
        // P(rank 1) = 1/H(n) ~ 1/9.79 ~ 10.2%.
        let p0 = f64::from(counts[0]) / draws as f64;
        assert!((0.09..0.115).contains(&p0), "p0 = {p0}");
        // rank 1 / rank 2 ~ 2^s = 2.
        let r = f64::from(counts[0]) / f64::from(counts[1]);
        assert!((1.7..2.3).contains(&r), "ratio {r}");
        // The top 1% of keys take far more than 1% of the draws.
        let top: u32 = counts[..100].iter().sum();
        assert!(f64::from(top) / draws as f64 > 0.5);
        // A higher exponent is more skewed.
        let mut steep = KeyGen::new(KeyDist::Zipf(1.5), n, 0, 1);
        let hits0 = (0..draws).filter(|_| steep.next(&mut g) == 0).count();
        assert!(hits0 as f64 / draws as f64 > 0.3);
    }

    #[test]
    fn values_are_deterministic_per_key_and_length() {
        let a = ValueSource::new(7, 64);
        let b = ValueSource::new(7, 64);
        let c = ValueSource::new(8, 64);
        assert_eq!(a.value(1, 32), b.value(1, 32));
        assert_ne!(a.value(1, 32), c.value(1, 32));
        assert_eq!(a.value(5, 64).len(), 64);
        assert_eq!(a.value(5, 0).len(), 0);
    }
}
