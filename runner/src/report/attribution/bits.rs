//! A fixed-size set of row indexes, as bits: the attribution intersects these for every
//! candidate term, so they must be cheap. Pure.

/// A set of row indexes below `64 * words.len()`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Bits {
    pub(super) words: Vec<u64>,
}

impl Bits {
    /// The empty set, room for `words * 64` rows.
    pub(super) fn new(words: usize) -> Bits {
        Bits {
            words: vec![0; words],
        }
    }

    pub(super) fn set(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    pub(super) fn get(&self, i: usize) -> bool {
        self.words
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    pub(super) fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub(super) fn and(&self, other: &Bits) -> Bits {
        self.zip(other, |a, b| a & b)
    }

    pub(super) fn or(&self, other: &Bits) -> Bits {
        self.zip(other, |a, b| a | b)
    }

    pub(super) fn and_not(&self, other: &Bits) -> Bits {
        self.zip(other, |a, b| a & !b)
    }

    /// Whether every row of `self` is in `other`.
    pub(super) fn is_subset(&self, other: &Bits) -> bool {
        self.words
            .iter()
            .zip(&other.words)
            .all(|(a, b)| a & !b == 0)
    }

    fn zip(&self, other: &Bits, f: impl Fn(u64, u64) -> u64) -> Bits {
        Bits {
            words: self
                .words
                .iter()
                .zip(&other.words)
                .map(|(&a, &b)| f(a, b))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(rows: &[usize]) -> Bits {
        let mut b = Bits::new(2);
        for &r in rows {
            b.set(r);
        }
        b
    }

    #[test]
    fn set_algebra() {
        let (a, b) = (of(&[0, 3, 64, 100]), of(&[3, 100, 127]));
        assert_eq!(a.count(), 4);
        assert!(a.get(64) && !a.get(65) && !a.get(1000));
        assert_eq!(a.and(&b), of(&[3, 100]));
        assert_eq!(a.or(&b), of(&[0, 3, 64, 100, 127]));
        assert_eq!(a.and_not(&b), of(&[0, 64]));
        assert!(of(&[3, 100]).is_subset(&a));
        assert!(!b.is_subset(&a));
        assert!(Bits::new(2).is_subset(&a));
    }
}
