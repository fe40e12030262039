//! C `long double` arithmetic for INCRBYFLOAT, exactly as Redis does it.
//!
//! Redis parses INCRBYFLOAT operands with `strtold`, adds them as x87 80-bit
//! extended floats and prints the sum with `%.17Lf` (trailing zeros cut).
//! Rust has no 80-bit float, and `f64` gives different digits (10.5 + 0.1
//! is `10.6` in Redis but `10.59999999999999964` through `f64`), so on
//! x86_64 Linux this module calls glibc's own `strtold` and `snprintf` and
//! adds with the x87 unit, in small `asm!` shims. Elsewhere it falls back to
//! `f64` (digits may then differ from Redis in the last places).
//!
//! Everything works on stack buffers: no allocation.
#![allow(unsafe_code)]

/// Redis's `MAX_LONG_DOUBLE_CHARS`: the longest operand and printed value.
pub const MAX_CHARS: usize = 5 * 1024;

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod imp {
    use super::MAX_CHARS;
    use std::arch::asm;

    /// An x87 extended float: 64-bit mantissa, then sign and 15-bit exponent.
    #[derive(Clone, Copy, Default)]
    #[repr(C, align(16))]
    pub struct Ld([u8; 16]);

    mod c {
        // Referenced only as symbols from `asm!`, never called from Rust.
        extern "C" {
            pub fn strtold();
            pub fn snprintf();
            pub fn __errno_location() -> *mut i32;
        }
    }

    const ERANGE: i32 = 34;

    impl Ld {
        fn exp(&self) -> u16 {
            u16::from_le_bytes([self.0[8], self.0[9]]) & 0x7fff
        }
        fn mantissa(&self) -> u64 {
            u64::from_le_bytes(self.0[..8].try_into().unwrap())
        }
        /// NaN or ±infinity.
        pub fn is_special(&self) -> bool {
            self.exp() == 0x7fff
        }
        fn is_nan(&self) -> bool {
            self.is_special() && self.mantissa() << 1 != 0
        }
        fn is_inf(&self) -> bool {
            self.is_special() && self.mantissa() << 1 == 0
        }
        fn is_zero(&self) -> bool {
            self.exp() == 0 && self.mantissa() == 0
        }
    }

    /// Redis's `string2ld`: `strtold` over the whole string (up to a NUL),
    /// no leading space, no overflow, no underflow to zero, no NaN.
    pub fn parse(s: &[u8]) -> Option<Ld> {
        if s.is_empty() || s.len() >= MAX_CHARS {
            return None;
        }
        let mut buf = [0u8; MAX_CHARS];
        buf[..s.len()].copy_from_slice(s);
        let mut end: *mut u8 = std::ptr::null_mut();
        let mut v = Ld::default();
        // SAFETY: `buf` is NUL-terminated and outlives the call; `end` and
        // `v` are valid for writes. The shim calls `strtold(buf, &end)` with
        // an ABI-aligned stack (asm! guarantees it without `nostack`), pops
        // the x87 result into `v` and leaves the x87 stack empty. `r12` is
        // callee-saved, so it still holds `&mut v` after the call.
        unsafe {
            *c::__errno_location() = 0;
            asm!(
                "call {f}",
                "fstp tbyte ptr [r12]",
                f = sym c::strtold,
                in("rdi") buf.as_ptr(),
                in("rsi") &mut end as *mut *mut u8,
                in("r12") &mut v as *mut Ld,
                clobber_abi("C"),
            );
        }
        let errno = unsafe { *c::__errno_location() };
        let consumed = end as usize - buf.as_ptr() as usize;
        let space = matches!(buf[0], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
        // Redis's `string2ld` also wants the whole argument consumed: a NUL
        // inside it ends `strtold` early and makes it invalid.
        if space
            || consumed != s.len()
            || buf[consumed] != 0
            || (errno == ERANGE && (v.is_inf() || v.is_zero()))
            || v.is_nan()
        {
            return None;
        }
        Some(v)
    }

    /// `a + b` in x87 extended precision.
    pub fn add(a: Ld, b: Ld) -> Ld {
        let mut out = Ld::default();
        // SAFETY: loads two 80-bit values from valid memory, adds them, and
        // stores the sum; the x87 stack is empty again at the end.
        unsafe {
            asm!(
                "fld tbyte ptr [{a}]",
                "fld tbyte ptr [{b}]",
                "faddp st(1), st",
                "fstp tbyte ptr [{o}]",
                a = in(reg) &a as *const Ld,
                b = in(reg) &b as *const Ld,
                o = in(reg) &mut out as *mut Ld,
                out("st(0)") _,
                out("st(1)") _,
                options(nostack),
            );
        }
        out
    }

    /// `snprintf(buf, len, "%.17Lf", v)`; returns the length C reports.
    pub fn print_17f(v: Ld, buf: &mut [u8; MAX_CHARS]) -> usize {
        let n: i32;
        // SAFETY: a variadic SysV call: the long double goes in memory at
        // [rsp] (16 bytes, keeping the ABI alignment asm! guarantees), no
        // vector registers (al = 0). snprintf writes at most `MAX_CHARS`
        // bytes into `buf`, NUL included.
        unsafe {
            asm!(
                "sub rsp, 16",
                "fld tbyte ptr [{v}]",
                "fstp tbyte ptr [rsp]",
                "xor eax, eax",
                "call {f}",
                "add rsp, 16",
                v = in(reg) &v as *const Ld,
                f = sym c::snprintf,
                in("rdi") buf.as_mut_ptr(),
                in("rsi") MAX_CHARS,
                in("rdx") c"%.17Lf".as_ptr(),
                lateout("eax") n,
                clobber_abi("C"),
            );
        }
        n.max(0) as usize
    }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
mod imp {
    use super::MAX_CHARS;

    /// `f64` stand-in for `long double`.
    #[derive(Clone, Copy, Default)]
    pub struct Ld(f64);

    impl Ld {
        /// NaN or ±infinity.
        pub fn is_special(&self) -> bool {
            !self.0.is_finite()
        }
    }

    /// Parses like `string2ld`, with Rust's float syntax.
    pub fn parse(s: &[u8]) -> Option<Ld> {
        if s.is_empty() || s.len() >= MAX_CHARS || s[0].is_ascii_whitespace() || s.contains(&0) {
            return None;
        }
        let v: f64 = std::str::from_utf8(s).ok()?.parse().ok()?;
        (!v.is_nan()).then_some(Ld(v))
    }

    /// `a + b`.
    pub fn add(a: Ld, b: Ld) -> Ld {
        Ld(a.0 + b.0)
    }

    /// `%.17f`.
    pub fn print_17f(v: Ld, buf: &mut [u8; MAX_CHARS]) -> usize {
        use std::io::Write;
        let mut cur = std::io::Cursor::new(&mut buf[..]);
        let _ = write!(cur, "{:.17}", v.0);
        cur.position() as usize
    }
}

pub use imp::{add, parse, Ld};

/// Redis's `ld2string(..., LD_STR_HUMAN)`: `%.17Lf`, trailing zeros (and a
/// bare point) cut, `-0` as `0`. Writes into `buf` and returns the length.
pub fn format_human(v: Ld, buf: &mut [u8; MAX_CHARS]) -> usize {
    let mut l = imp::print_17f(v, buf);
    if l + 1 > MAX_CHARS {
        return 0;
    }
    if buf[..l].contains(&b'.') {
        while buf[l - 1] == b'0' {
            l -= 1;
        }
        if buf[l - 1] == b'.' {
            l -= 1;
        }
    }
    if l == 2 && buf[0] == b'-' && buf[1] == b'0' {
        buf[0] = b'0';
        l = 1;
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(a: &str, b: &str) -> Option<String> {
        let v = add(parse(a.as_bytes())?, parse(b.as_bytes())?);
        if v.is_special() {
            return Some("special".into());
        }
        let mut buf = [0u8; MAX_CHARS];
        let n = format_human(v, &mut buf);
        Some(String::from_utf8(buf[..n].to_vec()).unwrap())
    }

    #[test]
    fn redis_digits() {
        assert_eq!(sum("10.5", "0.1").as_deref(), Some("10.6"));
        assert_eq!(sum("0", "3.0e3").as_deref(), Some("3000"));
        assert_eq!(sum("5.0e3", "2.0e2").as_deref(), Some("5200"));
        assert_eq!(sum("1", "-1").as_deref(), Some("0"));
        assert_eq!(sum("-0.000000000000000000001", "0").as_deref(), Some("0"));
        assert_eq!(sum("inf", "1").as_deref(), Some("special"));
        assert_eq!(sum(" 1", "1"), None);
        assert_eq!(sum("1x", "1"), None);
        assert_eq!(sum("nan", "1"), None);
        assert_eq!(sum("", "1"), None);
    }

    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    #[test]
    fn long_double_range_and_syntax() {
        assert_eq!(sum("0x10", "1").as_deref(), Some("17"));
        assert_eq!(sum("1e400", "0").map(|s| s.len()), Some(401));
        assert_eq!(sum("1e5000", "0"), None);
        assert_eq!(sum("1e-5000", "0"), None);
        assert_eq!(sum("1.1", "2.2").as_deref(), Some("3.3"));
    }
}
