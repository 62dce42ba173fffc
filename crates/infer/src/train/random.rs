//! Seeded pseudo-random numbers for initialisation, shuffling and partitioning: the same seed
//! gives the same numbers on every machine.
//!
//! SplitMix64 (Steele, Lea and Flood 2014) is a few integer operations whose output passes
//! BigCrush; the real-valued draws (uniform, normal, gamma) use only IEEE arithmetic and the
//! pure-Rust `libm` (never the platform's), so they too are the same bits everywhere. A crate
//! such as `rand_distr` was not used because its normal and gamma samplers call `std`'s `ln`
//! and `exp`, which follow the platform libm.

/// A SplitMix64 generator.
#[derive(Clone, Debug)]
pub struct Random {
    state: u64,
}

impl Random {
    /// A generator for `seed` and a `stream` (an epoch, a purpose): different streams of one
    /// seed are unrelated.
    pub fn new(seed: u64, stream: u64) -> Random {
        let mut mixer = Random {
            state: seed ^ stream.wrapping_mul(0xd1b5_4a32_d192_ed03),
        };
        Random {
            state: mixer.next_u64(),
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `0..bound` (`bound > 0`), without modulo bias (Lemire's method).
    pub fn below(&mut self, bound: u64) -> u64 {
        debug_assert!(bound > 0);
        let threshold = bound.wrapping_neg() % bound;
        loop {
            let product = self.next_u64() as u128 * bound as u128;
            if (product as u64) >= threshold {
                return (product >> 64) as u64;
            }
        }
    }

    /// A standard normal draw (Box–Muller, one of the pair).
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.unit(); // in (0, 1]: the logarithm is finite
        let v = self.unit();
        libm::sqrt(-2.0 * libm::log(u)) * libm::cos(2.0 * std::f64::consts::PI * v)
    }

    /// A Gamma(`shape`, 1) draw (Marsaglia and Tsang 2000; for `shape < 1` the boost
    /// `Gamma(shape + 1) · U^(1 / shape)`).
    pub fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            let boost = libm::pow(1.0 - self.unit(), 1.0 / shape);
            return self.gamma(shape + 1.0) * boost;
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / libm::sqrt(9.0 * d);
        loop {
            let x = self.normal();
            let v = 1.0 + c * x;
            if v <= 0.0 {
                continue;
            }
            let v = v * v * v;
            let u = 1.0 - self.unit();
            if libm::log(u) < 0.5 * x * x + d - d * v + d * libm::log(v) {
                return d * v;
            }
        }
    }

    /// Shuffle `values` in place (Fisher–Yates, from the last element down).
    pub fn shuffle<T>(&mut self, values: &mut [T]) {
        for last in (1..values.len()).rev() {
            let other = self.below(last as u64 + 1) as usize;
            values.swap(last, other);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_seed_gives_one_sequence_and_streams_differ() {
        let draws = |seed, stream| {
            let mut random = Random::new(seed, stream);
            (0..4).map(|_| random.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(draws(7, 0), draws(7, 0));
        assert_ne!(draws(7, 0), draws(7, 1));
        assert_ne!(draws(7, 0), draws(8, 0));
    }

    #[test]
    fn gamma_draws_have_the_mean_of_their_shape() {
        for shape in [0.3, 1.0, 4.5] {
            let mut random = Random::new(1, 2);
            let mean = (0..20_000).map(|_| random.gamma(shape)).sum::<f64>() / 20_000.0;
            assert!(
                (mean - shape).abs() < 0.05 * shape.max(1.0),
                "{shape}: {mean}"
            );
        }
    }

    #[test]
    fn below_stays_below_its_bound() {
        let mut random = Random::new(3, 0);
        assert!((0..1000).all(|_| random.below(7) < 7));
    }
}
