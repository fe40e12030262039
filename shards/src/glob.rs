//! Redis's glob matching (`stringmatchlen`, util.c in 7.0.15): `*`, `?`,
//! `[abc]`, `[^a-z]`, `\x`.
//!
//! A line-by-line port, quirks included, because KEYS and SCAN MATCH must
//! select exactly the keys Redis would:
//! - an empty string matches only the empty pattern (KEYS and SCAN handle a
//!   lone `*` before calling this, so they still list an empty key);
//! - bytes compare as C's signed `char`, which matters for ranges such as
//!   `[a-\xff]`;
//! - an unterminated `[` class ends at the end of the pattern;
//! - once the rest of a pattern failed to match anywhere after a `*`, no
//!   earlier `*` tries longer matches (`skipLongerMatches`, the fix for
//!   CVE-2022-36021): without it `*a*a*a*a*b` is exponential in the key
//!   length. Recursion is also capped at 1000 levels, as in Redis.

/// True when `s` matches the Redis glob `pattern`; `nocase` folds ASCII case.
pub fn matches(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    match_impl(pattern, s, nocase, &mut skip_longer, 0)
}

/// C's `tolower` on a `char` of the "C" locale, kept signed like the `char`.
fn fold(c: u8, nocase: bool) -> i8 {
    if nocase {
        c.to_ascii_lowercase() as i8
    } else {
        c as i8
    }
}

fn match_impl(
    mut p: &[u8],
    mut s: &[u8],
    nocase: bool,
    skip_longer: &mut bool,
    nesting: u32,
) -> bool {
    if nesting > 1000 {
        return false;
    }
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                while !s.is_empty() {
                    if match_impl(&p[1..], s, nocase, skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s = &s[1..];
                }
                // The rest of the pattern matches nowhere in what is left,
                // so a longer match for an earlier `*` cannot help either.
                *skip_longer = true;
                return false;
            }
            b'?' => p = &p[1..],
            b'[' => {
                p = &p[1..];
                let not = p.first() == Some(&b'^');
                if not {
                    p = &p[1..];
                }
                let c = s[0];
                let mut matched = false;
                loop {
                    if p.len() >= 2 && p[0] == b'\\' {
                        // Escapes inside a class compare exactly, even with nocase.
                        if p[1] == c {
                            matched = true;
                        }
                        p = &p[2..];
                    } else if p.first() == Some(&b']') {
                        p = &p[1..];
                        break;
                    } else if p.is_empty() {
                        break;
                    } else if p.len() >= 3 && p[1] == b'-' {
                        let (mut lo, mut hi) = (p[0] as i8, p[2] as i8);
                        if lo > hi {
                            std::mem::swap(&mut lo, &mut hi);
                        }
                        let (lo, hi) = (fold(lo as u8, nocase), fold(hi as u8, nocase));
                        let x = fold(c, nocase);
                        if x >= lo && x <= hi {
                            matched = true;
                        }
                        p = &p[3..];
                    } else {
                        if fold(p[0], nocase) == fold(c, nocase) {
                            matched = true;
                        }
                        p = &p[1..];
                    }
                }
                if matched == not {
                    return false;
                }
            }
            first => {
                let lit = if first == b'\\' && p.len() >= 2 {
                    p = &p[1..];
                    p[0]
                } else {
                    first
                };
                if fold(lit, nocase) != fold(s[0], nocase) {
                    return false;
                }
                p = &p[1..];
            }
        }
        s = &s[1..];
        if s.is_empty() {
            while p.first() == Some(&b'*') {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn redis_glob_cases() {
        let yes = [
            ("*", "anything"),
            ("h?llo", "hello"),
            ("h*llo", "heeeello"),
            ("h[ae]llo", "hallo"),
            ("h[^e]llo", "hallo"),
            ("h[a-b]llo", "hbllo"),
            ("max*", "maxmemory"),
            ("*policy", "maxmemory-policy"),
            ("a\\*b", "a*b"),
            ("", ""),
        ];
        for (p, s) in yes {
            assert!(matches(p.as_bytes(), s.as_bytes(), false), "{p} ~ {s}");
        }
        let no = [
            ("h[^e]llo", "hello"),
            ("h[a-b]llo", "hcllo"),
            ("h?llo", "hllo"),
            ("a\\*b", "axb"),
            ("max", "maxmemory"),
        ];
        for (p, s) in no {
            assert!(!matches(p.as_bytes(), s.as_bytes(), false), "{p} !~ {s}");
        }
        assert!(matches(b"MAX*", b"maxmemory", true));
    }

    #[test]
    fn redis_quirks() {
        // The empty string matches only the empty pattern, as in Redis.
        assert!(!matches(b"*", b"", false));
        assert!(!matches(b"**", b"", false));
        assert!(matches(b"a*", b"a", false));
        assert!(matches(b"a**", b"a", false));
        // An unterminated class ends with the pattern.
        assert!(matches(b"a[bc", b"ab", false));
        assert!(!matches(b"a[bc", b"abc", false));
        // `-` before the last byte makes a range: [a-] is ']'..'a' reversed.
        assert!(matches(b"[a-]", b"]", false));
        assert!(matches(b"[a-]", b"^", false));
        assert!(!matches(b"[a-]", b"b", false));
        // `]` right after `[` closes an empty class, which matches nothing.
        assert!(!matches(b"[]-a]", b"^-a]", false));
        // Reversed ranges work; bytes compare as signed chars, so 0xff
        // sorts below 'a'.
        assert!(matches(b"[z-a]", b"m", false));
        let signed = [b'[', b'a', b'-', 0xff, b']'];
        assert!(matches(&signed, b"!", false));
        assert!(matches(&signed, &[0xff], false));
        assert!(!matches(&signed, b"b", false));
        // Escapes inside a class compare exactly even with nocase.
        assert!(!matches(b"[\\A]", b"a", true));
        assert!(matches(b"[A]", b"a", true));
        // A trailing backslash is a literal.
        assert!(matches(b"a\\", b"a\\", false));
        assert!(matches(b"a\\*", b"a*", true));
    }

    #[test]
    fn hostile_patterns_finish_quickly() {
        let key = vec![b'a'; 10_000];
        let start = std::time::Instant::now();
        assert!(!matches(b"*a*a*a*a*a*a*a*a*a*a*a*b", &key, false));
        let deep = b"*a".repeat(2000);
        assert!(!matches(&deep, &key, false));
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
    }
}
