//! A small per-thread front for [`CachingResolver`](super::CachingResolver): the answers
//! this thread was last given from the shared cache, found again without the shared
//! cache's keyed hash and lock.
//!
//! An SPF evaluation from a warm cache asks for the same few names message after
//! message (the sender's domain, its includes); the shared cache's hit path (SipHash
//! over the name, the shard's lock and unlock) was a quarter of such an evaluation.
//!
//! Each thread has [`SLOTS`] slots, one per name by a cheap unkeyed hash of the name
//! (direct-mapped: a new name takes its slot over). Names that meet in one slot, by
//! chance or by a sender's choice, only push each other out: a name not found here is
//! looked up in the shared cache as before, so the worst case is the shared cache's
//! own cost plus a copy of the name. Nothing here grows: a slot holds a name of at most
//! [`NAME_MAX`] octets inline (longer ones are not kept here) and its answer.
//!
//! A slot is an entry of the shared cache as this thread last saw it: its answer, held
//! weakly, and when it expires. It is served until then and while the shared cache
//! still holds the answer: what the shared cache let go (when full, or with the cache
//! itself) is freed and missed here as there. A negative answer is kept by value (a
//! name and a TTL). Slots carry the identity of their cache, so another cache (another
//! clock, other answers) never finds them.

use std::cell::RefCell;
use std::sync::{Arc, Weak};

use crate::{Answer, Lookup, LookupError, RecordType};

/// Slots per thread.
const SLOTS: usize = 64;

/// The longest name kept here, in octets (most names asked are well under it; a
/// longer one is looked up in the shared cache only).
pub(super) const NAME_MAX: usize = 64;

struct Slot {
    cache: u64,
    rtype: RecordType,
    len: u8,
    name: [u8; NAME_MAX],
    kept: Kept,
    expires: u64,
}

/// An answer as a slot keeps it. A positive one is held weakly: the shared cache keeps
/// it alive, a slot never does, so that what the shared cache lets go (when full, or
/// when the cache itself goes) is freed as before, and found here no more.
enum Kept {
    Answer(Weak<Answer>),
    Error(LookupError),
}

impl Slot {
    fn is(&self, cache: u64, name: &[u8], rtype: RecordType) -> bool {
        self.cache == cache
            && self.rtype == rtype
            && usize::from(self.len) == name.len()
            && self.name.get(..name.len()) == Some(name)
    }
}

thread_local! {
    static FRONT: RefCell<[Option<Slot>; SLOTS]> =
        const { RefCell::new([const { None }; SLOTS]) };
}

/// The slot of a name: a multiply-and-shift hash of its length and its first and last
/// eight octets (the part of a name that tells most names apart; names that share them
/// share a slot, which only costs a look in the shared cache).
fn slot_of(name: &[u8]) -> usize {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let (head, tail) = match (name.first_chunk::<8>(), name.last_chunk::<8>()) {
        (Some(head), Some(tail)) => (u64::from_le_bytes(*head), u64::from_le_bytes(*tail)),
        _ => {
            let w = name
                .iter()
                .rev()
                .fold(0u64, |w, &b| (w << 8) | u64::from(b));
            (w, w)
        }
    };
    let h = (head ^ (name.len() as u64)).wrapping_mul(K).rotate_left(29) ^ tail;
    (h.wrapping_mul(K) >> (64 - SLOTS.trailing_zeros())) as usize
}

/// This thread's answer for `name` and `rtype` from cache `cache`, if it is still live
/// at `now` (the cache's clock), with when it expires.
pub(super) fn get(cache: u64, name: &str, rtype: RecordType, now: u64) -> Option<(Lookup, u64)> {
    let name = name.as_bytes();
    if name.len() > NAME_MAX {
        return None;
    }
    // `try_with`: a lookup made while the thread's locals are being destroyed (from
    // another local's destructor) goes to the shared cache.
    FRONT
        .try_with(|front| {
            let slots = front.borrow();
            let slot = slots[slot_of(name)].as_ref()?;
            if !slot.is(cache, name, rtype) || slot.expires <= now {
                return None;
            }
            let lookup = match &slot.kept {
                Kept::Answer(answer) => Ok(answer.upgrade()?),
                Kept::Error(e) => Err(e.clone()),
            };
            Some((lookup, slot.expires))
        })
        .ok()
        .flatten()
}

/// Keeps an answer the shared cache just gave this thread, in its name's slot.
pub(super) fn put(cache: u64, name: &str, rtype: RecordType, lookup: &Lookup, expires: u64) {
    let bytes = name.as_bytes();
    let Some(len) = u8::try_from(bytes.len())
        .ok()
        .filter(|&n| usize::from(n) <= NAME_MAX)
    else {
        return;
    };
    let mut stored = [0u8; NAME_MAX];
    stored[..bytes.len()].copy_from_slice(bytes);
    let slot = Slot {
        cache,
        rtype,
        len,
        name: stored,
        kept: match lookup {
            Ok(answer) => Kept::Answer(Arc::downgrade(answer)),
            Err(e) => Kept::Error(e.clone()),
        },
        expires,
    };
    // The slot's old answer is dropped once the borrow has ended.
    let _old = FRONT.try_with(|front| front.borrow_mut()[slot_of(bytes)].replace(slot));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_has_a_slot_in_range() {
        for len in 0..=NAME_MAX + 8 {
            for fill in [b'a', b'z', 0x00, 0xFF, b'.'] {
                let name = vec![fill; len];
                assert!(slot_of(&name) < SLOTS);
            }
        }
    }

    #[test]
    fn names_that_differ_only_inside_can_share_a_slot_and_are_told_apart() {
        // 20 octets: the same first and last eight, a different middle.
        let a = "aaaaaaaa.one.bbbbbbbb";
        let b = "aaaaaaaa.two.bbbbbbbb";
        assert_eq!(slot_of(a.as_bytes()), slot_of(b.as_bytes()));
        let answer: Lookup = Ok(std::sync::Arc::new(crate::Answer::new(Vec::new(), 60)));
        put(u64::MAX, a, RecordType::Txt, &answer, 10);
        assert!(get(u64::MAX, a, RecordType::Txt, 5).is_some());
        assert!(
            get(u64::MAX, b, RecordType::Txt, 5).is_none(),
            "not a's answer"
        );
        assert!(get(u64::MAX, a, RecordType::A, 5).is_none(), "another type");
        assert!(
            get(u64::MAX - 1, a, RecordType::Txt, 5).is_none(),
            "another cache"
        );
        assert!(get(u64::MAX, a, RecordType::Txt, 10).is_none(), "expired");
        put(u64::MAX, b, RecordType::Txt, &answer, 10);
        assert!(
            get(u64::MAX, a, RecordType::Txt, 5).is_none(),
            "b took the slot"
        );
        assert!(get(u64::MAX, b, RecordType::Txt, 5).is_some());
    }

    #[test]
    fn an_answer_the_shared_cache_let_go_is_gone_here_too() {
        let answer: Lookup = Ok(std::sync::Arc::new(crate::Answer::new(Vec::new(), 60)));
        put(u64::MAX - 3, "gone.example", RecordType::A, &answer, 10);
        assert!(get(u64::MAX - 3, "gone.example", RecordType::A, 5).is_some());
        drop(answer);
        assert!(get(u64::MAX - 3, "gone.example", RecordType::A, 5).is_none());
        let nx: Lookup = Err(LookupError::NxDomain {
            name: "nx.example".into(),
            ttl: 30,
        });
        put(u64::MAX - 3, "nx.example", RecordType::A, &nx, 10);
        assert_eq!(
            get(u64::MAX - 3, "nx.example", RecordType::A, 5),
            Some((nx, 10))
        );
    }

    #[test]
    fn a_name_longer_than_a_slot_holds_is_not_kept() {
        let long = "a".repeat(NAME_MAX + 1);
        let answer: Lookup = Ok(std::sync::Arc::new(crate::Answer::new(Vec::new(), 60)));
        put(u64::MAX - 2, &long, RecordType::Txt, &answer, 10);
        assert!(get(u64::MAX - 2, &long, RecordType::Txt, 5).is_none());
        let most = "a".repeat(NAME_MAX);
        put(u64::MAX - 2, &most, RecordType::Txt, &answer, 10);
        assert!(get(u64::MAX - 2, &most, RecordType::Txt, 5).is_some());
    }
}
