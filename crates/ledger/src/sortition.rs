//! Stake-weighted sortition from a seed: the draws that assign jobs and pick auditors (DESIGN §5
//! steps 2 and 4), and later select federated-learning participants. A draw is a pure function
//! of the seed, a purpose string, a subject id and a round, so every validator draws the same.

use surety_types::{Amount, Hash, OperatorId};

/// A draw in `0..bound` from `seed`, for one purpose, subject and round.
pub fn draw(seed: &Hash, purpose: &str, subject: &[u8; 32], round: u64, bound: u128) -> u128 {
    let mut input = Vec::with_capacity(72);
    input.extend_from_slice(&seed.0);
    input.extend_from_slice(subject);
    input.extend_from_slice(&round.to_be_bytes());
    let hash = Hash::of(purpose, &input);
    let mut wide = [0u8; 16];
    wide.copy_from_slice(&hash.0[..16]);
    // 128 random bits reduced modulo a bound below 2^100: the bias is below 2^-28.
    u128::from_be_bytes(wide)
        .checked_rem(bound.max(1))
        .expect("max(1) is not zero")
}

/// The index of the candidate whose cumulative-weight interval holds `point`: each candidate
/// is picked with probability proportional to its weight when `point` is uniform below the
/// total weight. `None` when `point` is at or above the total.
pub fn pick_weighted(candidates: &[(OperatorId, Amount)], point: u128) -> Option<usize> {
    let mut cumulative = 0u128;
    for (index, (_, weight)) in candidates.iter().enumerate() {
        cumulative = cumulative.saturating_add(weight.get());
        if point < cumulative {
            return Some(index);
        }
    }
    None
}

/// Total weight of `candidates` (saturating: weights are stake, far below `u128::MAX`).
pub fn total_weight(candidates: &[(OperatorId, Amount)]) -> u128 {
    candidates.iter().fold(0u128, |total, (_, weight)| {
        total.saturating_add(weight.get())
    })
}

/// Draw one candidate by weight for `purpose`, `subject` and `round`; `None` when no candidate
/// has weight.
pub fn draw_weighted(
    candidates: &[(OperatorId, Amount)],
    seed: &Hash,
    purpose: &str,
    subject: &[u8; 32],
    round: u64,
) -> Option<usize> {
    let total = total_weight(candidates);
    if total == 0 {
        return None;
    }
    pick_weighted(candidates, draw(seed, purpose, subject, round, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_falls_to_the_candidate_whose_weight_covers_it() {
        let candidates = [
            (OperatorId([1; 32]), Amount::new(10)),
            (OperatorId([2; 32]), Amount::new(0)),
            (OperatorId([3; 32]), Amount::new(5)),
        ];
        assert_eq!(pick_weighted(&candidates, 0), Some(0));
        assert_eq!(pick_weighted(&candidates, 9), Some(0));
        assert_eq!(pick_weighted(&candidates, 10), Some(2));
        assert_eq!(pick_weighted(&candidates, 14), Some(2));
        assert_eq!(pick_weighted(&candidates, 15), None);
    }

    #[test]
    fn draws_depend_on_seed_purpose_subject_and_round() {
        let seed = Hash::of("test", b"seed");
        let base = draw(&seed, "a", &[0; 32], 0, u128::MAX);
        assert_eq!(base, draw(&seed, "a", &[0; 32], 0, u128::MAX));
        assert_ne!(base, draw(&seed, "b", &[0; 32], 0, u128::MAX));
        assert_ne!(base, draw(&seed, "a", &[1; 32], 0, u128::MAX));
        assert_ne!(base, draw(&seed, "a", &[0; 32], 1, u128::MAX));
    }
}
