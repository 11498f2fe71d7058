//! Byte scans compiled for the vector units the CPU has.
//!
//! A few scans sit on every byte of every message: the search for places relaxed body
//! canonicalization changes (RFC 6376 §3.4.4), and the check for LFs without a CR
//! before them. They are written as plain, safe loops over fixed-size blocks, which the
//! compiler turns into vector compares; built for the baseline x86-64 that means SSE2,
//! 16 bytes a compare. [`widest!`] builds such a function three times (baseline, AVX2,
//! AVX-512BW) and calls the widest one the CPU has, found by the standard library's
//! cached detection. The code is the same safe code in each build; the one `unsafe`
//! is the call of a build whose instructions the CPU was just found to have.
//!
//! On an AMD EPYC (AVX-512BW) the canonicalization scan of a 55 KiB body in cache went
//! from 3.8 µs to 2.1 µs.

/// Defines `fn NAME(args) -> R { body }` built three times and dispatched at run time,
/// and a module `NAME` with each build (`NAME::builds()`) for tests, which must find
/// every build gives the portable one's answer.
macro_rules! widest {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                if std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx512bw") {
                    // SAFETY: the build differs from the portable one only in the
                    // instructions it may use, and the CPU has them.
                    #[allow(unsafe_code)]
                    return unsafe { $name::avx512($($arg),*) };
                }
                if std::is_x86_feature_detected!("avx2") {
                    // SAFETY: as above, for AVX2.
                    #[allow(unsafe_code)]
                    return unsafe { $name::avx2($($arg),*) };
                }
            }
            $name::portable($($arg),*)
        }

        #[allow(dead_code)]
        $vis mod $name {
            #[allow(unused_imports)]
            use super::*;

            /// The baseline build.
            #[inline(always)]
            pub fn portable($($arg: $ty),*) -> $ret $body

            /// The AVX2 build: call only where the CPU has AVX2.
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2")]
            pub fn avx2($($arg: $ty),*) -> $ret $body

            /// The AVX-512BW build: call only where the CPU has AVX-512F and BW.
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512bw")]
            pub fn avx512($($arg: $ty),*) -> $ret $body

            /// Every build this CPU can run, by name.
            #[cfg(test)]
            pub fn builds() -> Vec<(&'static str, fn($($ty),*) -> $ret)> {
                #[allow(unused_mut)]
                let mut builds: Vec<(&'static str, fn($($ty),*) -> $ret)> =
                    vec![("portable", portable)];
                #[cfg(target_arch = "x86_64")]
                {
                    if std::is_x86_feature_detected!("avx2") {
                        // SAFETY: only where the CPU has AVX2.
                        #[allow(unsafe_code)]
                        builds.push(("avx2", |$($arg),*| unsafe { avx2($($arg),*) }));
                    }
                    if std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx512bw") {
                        // SAFETY: only where the CPU has AVX-512F and BW.
                        #[allow(unsafe_code)]
                        builds.push(("avx512", |$($arg),*| unsafe { avx512($($arg),*) }));
                    }
                }
                builds
            }
        }
    };
}

pub(crate) use widest;
