//! The operator side of private sortition (docs/market.md, "Audits"): each simulated operator
//! evaluates its own VRF over every claim window to learn whether it is selected to audit the
//! job, as a real worker does. The ledger alone decides (it verifies the proof of every claim
//! against the operator's key and weighs it against its pool snapshot); nothing here is its
//! logic.
//!
//! Why not `SigningKey::vrf_prove` for every operator and job: with 2,000 operators each job
//! asks 2,000 evaluations, and a full proof costs about three times the output alone
//! ([`surety_types::vrf::VrfEvaluator`]). An operator proves (with the real `vrf_prove`) only
//! when its output selects it, and the driver checks that the proof's output is this one.

use surety_types::vrf::VrfEvaluator;
use surety_types::SigningKey;

/// An operator's VRF, expanded once.
#[derive(Clone, Debug)]
pub struct VrfKey(VrfEvaluator);

impl VrfKey {
    /// Expand `key`.
    pub fn new(key: &SigningKey) -> VrfKey {
        VrfKey(VrfEvaluator::new(key))
    }

    /// The draw (`VrfOutput::draw`: the output's first 8 bytes, big-endian) of this key's VRF
    /// over `alpha`, without the proof.
    pub fn draw(&self, alpha: &[u8]) -> u64 {
        self.0.output(alpha).draw()
    }
}

/// The draws of `candidates` (index into `keys`, and a weight the caller keeps) over `alpha`,
/// in their order: each operator's evaluation is its own, so they run on every core the
/// machine has (a pool of 2,000 operators is 2,000 evaluations a sealed job), and the result
/// does not depend on how many.
pub fn draws<T: Sync>(keys: &[VrfKey], candidates: &[(usize, T)], alpha: &[u8]) -> Vec<u64> {
    let threads = std::thread::available_parallelism()
        .map(std::num::NonZeroUsize::get)
        .unwrap_or(1);
    // Below a few dozen evaluations (about 90 µs each) a thread costs more than it saves.
    if threads == 1 || candidates.len() < 64 {
        return candidates
            .iter()
            .map(|(i, _)| keys[*i].draw(alpha))
            .collect();
    }
    let chunk = candidates.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = candidates
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(i, _)| keys[*i].draw(alpha))
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|part| part.join().expect("a VRF evaluation does not panic"))
            .collect()
    })
}
