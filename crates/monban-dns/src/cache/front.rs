//! A small per-thread front for [`CachingResolver`](super::CachingResolver): the answers
//! this thread was last given from the shared cache, found again without the shared
//! cache's keyed hash and lock.
//!
//! An SPF evaluation from a warm cache asks for the same few names message after
//! message (the sender's domain, its includes); the shared cache's hit path (SipHash
//! over the name, the shard's lock and unlock) was about a fifth of its instructions.
//!
//! Each thread has [`SLOTS`] slots, one per key by a cheap unkeyed hash of the name,
//! the record type and the cache (direct-mapped: a new key takes its slot over). Keys
//! that meet in one slot, by chance or by a sender's choice, only push each other out:
//! a key not found here is looked up in the shared cache as before, so the worst case
//! is the shared cache's own cost plus keeping its answer here (a copy of the name, a
//! weak reference; for a negative answer, a copy of it). Nothing here grows: a slot
//! holds a name of at most [`NAME_MAX`] octets inline (longer ones are not kept here)
//! and its answer.
//!
//! A slot is an entry of the shared cache as this thread last saw it: its answer and
//! when it expires on the cache's clock, served until then. A positive answer is held
//! weakly: a slot never keeps one alive, so what nothing else holds any more (the
//! shared cache let it go, when full or with the cache itself, and no evaluation holds
//! it) is freed and missed here. An answer the shared cache let go early but something
//! still holds, or a negative one (kept by value), is served until its entry's expiry,
//! as [`super::CachingResolver`]'s `fresh_now` allows already: an answer stays valid for
//! its TTL. Slots carry the identity of their cache, so another cache (another clock,
//! other answers) never finds them.

use std::cell::RefCell;
use std::sync::{Arc, Weak};

use crate::{Answer, Lookup, LookupError, RecordType};

/// Slots per thread (a power of two: the slot is the top bits of a hash).
const SLOTS: usize = 64;

/// The longest name kept here, in octets (most names asked are well under it; a
/// longer one is looked up in the shared cache only). Its length fits the slot's `u8`.
pub(super) const NAME_MAX: usize = 64;

const _: () = assert!(SLOTS.is_power_of_two() && SLOTS > 1 && NAME_MAX <= 255);

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

/// The slot of a key: a multiply-and-rotate hash of the cache's identity, the record
/// type, the name's length and every octet of the name, eight at a time (the last
/// eight octets as the last word, overlapping the one before: no octet-by-octet rest
/// but for a name under eight octets), folded to a slot by a last multiplication and
/// xor-shift.
fn slot_of(cache: u64, name: &[u8], rtype: RecordType) -> usize {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mix = |h: u64, w: u64| (h ^ w).wrapping_mul(K).rotate_left(31);
    let mut h = mix(cache, (rtype as u64) << 8 | name.len() as u64);
    let words = name.chunks_exact(8);
    let rest = words.remainder().len();
    for word in words {
        let word: [u8; 8] = word.try_into().unwrap_or_default();
        h = mix(h, u64::from_le_bytes(word));
    }
    if rest > 0 {
        // The octets after the last whole word: in the name's last eight octets, or
        // the whole name when it is shorter.
        let last = match name.last_chunk::<8>() {
            Some(last) => u64::from_le_bytes(*last),
            None => name.iter().fold(0u64, |w, &b| (w << 8) | u64::from(b)),
        };
        h = mix(h, last);
    }
    let h = h.wrapping_mul(K);
    ((h ^ (h >> 32)) >> (32 - SLOTS.trailing_zeros()) & (SLOTS as u64 - 1)) as usize
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
            let slot = slots[slot_of(cache, name, rtype)].as_ref()?;
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
    let _old =
        FRONT.try_with(|front| front.borrow_mut()[slot_of(cache, bytes, rtype)].replace(slot));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> Lookup {
        Ok(Arc::new(Answer::new(Vec::new(), 60)))
    }

    #[test]
    fn every_key_has_a_slot_in_range() {
        for len in 0..=NAME_MAX + 8 {
            for fill in [b'a', b'z', 0x00, 0xFF, b'.'] {
                let name = vec![fill; len];
                for rtype in [RecordType::A, RecordType::Txt] {
                    assert!(slot_of(7, &name, rtype) < SLOTS);
                }
            }
        }
    }

    /// Names that differ in their middle only spread over the slots as others do (ten
    /// such names, as one SPF record's includes may be, in at least eight slots). Keys
    /// that do share one (found by search: another name, the same name under another
    /// type or in another cache) are told apart by the comparison: each finds only its
    /// own answer, and a key that takes the slot over pushes the other out.
    #[test]
    fn keys_are_told_apart() {
        let slots: std::collections::HashSet<usize> = (0..10)
            .map(|i| {
                slot_of(
                    1,
                    format!("_netblocks{i}.google.com").as_bytes(),
                    RecordType::Txt,
                )
            })
            .collect();
        assert!(slots.len() >= 8, "{slots:?}");
        let a = "_netblocks2.google.com";
        assert_eq!(a.len(), 22);
        let lookup = answer();
        let slot = |cache, name: &str, rtype| slot_of(cache, name.as_bytes(), rtype);
        // Another name of a's length in a's slot.
        let cache = u64::MAX;
        let name = (0u32..)
            .map(|i| format!("{i:0>14}.example"))
            .find(|n| slot(cache, n, RecordType::Txt) == slot(cache, a, RecordType::Txt))
            .unwrap();
        put(cache, a, RecordType::Txt, &lookup, 10);
        assert!(get(cache, a, RecordType::Txt, 5).is_some());
        assert!(
            get(cache, &name, RecordType::Txt, 5).is_none(),
            "not a's answer"
        );
        assert!(get(cache, a, RecordType::Txt, 10).is_none(), "expired");
        put(cache, &name, RecordType::Txt, &lookup, 10);
        assert!(
            get(cache, a, RecordType::Txt, 5).is_none(),
            "its slot was taken"
        );
        assert!(get(cache, &name, RecordType::Txt, 5).is_some());
        // The same name, another type, in one slot.
        let cache = (0..u64::MAX - 8)
            .find(|&c| slot(c, a, RecordType::A) == slot(c, a, RecordType::Txt))
            .unwrap();
        put(cache, a, RecordType::Txt, &lookup, 10);
        assert!(get(cache, a, RecordType::A, 5).is_none(), "another type");
        assert!(get(cache, a, RecordType::Txt, 5).is_some());
        // The same name and type, another cache, in one slot.
        let other = (0..u64::MAX - 8)
            .find(|&c| c != cache && slot(c, a, RecordType::Txt) == slot(cache, a, RecordType::Txt))
            .unwrap();
        assert!(get(other, a, RecordType::Txt, 5).is_none(), "another cache");
        assert!(get(cache, a, RecordType::Txt, 5).is_some());
    }

    #[test]
    fn an_answer_nothing_holds_any_more_is_gone_here_too() {
        let lookup = answer();
        put(u64::MAX - 3, "gone.example", RecordType::A, &lookup, 10);
        assert!(get(u64::MAX - 3, "gone.example", RecordType::A, 5).is_some());
        drop(lookup);
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

    /// A name over [`NAME_MAX`] octets is neither found nor kept (the slot it would
    /// take keeps what it held); one of exactly `NAME_MAX` octets is.
    #[test]
    fn a_name_longer_than_a_slot_holds_is_not_kept() {
        let lookup = answer();
        let long = "a".repeat(NAME_MAX + 1);
        let held = (0u32..)
            .map(|i| format!("h{i}.example"))
            .find(|n| {
                slot_of(u64::MAX - 2, n.as_bytes(), RecordType::Txt)
                    == slot_of(u64::MAX - 2, long.as_bytes(), RecordType::Txt)
            })
            .unwrap();
        put(u64::MAX - 2, &held, RecordType::Txt, &lookup, 10);
        put(u64::MAX - 2, &long, RecordType::Txt, &lookup, 10);
        assert!(
            get(u64::MAX - 2, &held, RecordType::Txt, 5).is_some(),
            "slot kept"
        );
        assert!(get(u64::MAX - 2, &long, RecordType::Txt, 5).is_none());
        let most = "a".repeat(NAME_MAX);
        put(u64::MAX - 2, &most, RecordType::Txt, &lookup, 10);
        assert!(get(u64::MAX - 2, &most, RecordType::Txt, 5).is_some());
    }
}
