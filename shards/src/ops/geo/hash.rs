//! Redis's geohash arithmetic (`geohash.c`, `geohash_helper.c`), kept to
//! the same floating-point steps so scores, distances and the search
//! areas come out bit for bit as Redis computes them.
//!
//! A position is two 26-bit fixed-point offsets, latitude in the even bits
//! and longitude in the odd ones of a 52-bit integer: the sorted-set score.
//! Latitude spans Web Mercator's ±85.05112878°, not ±90°, so GEOHASH
//! re-encodes with ±90° to print a standard geohash.

/// Longitude bounds.
pub const LONG_MIN: f64 = -180.0;
/// Longitude bounds.
pub const LONG_MAX: f64 = 180.0;
/// Latitude bounds (EPSG:900913).
pub const LAT_MIN: f64 = -85.05112878;
/// Latitude bounds (EPSG:900913).
pub const LAT_MAX: f64 = 85.05112878;
/// Steps (bits per coordinate) of a stored score.
pub const STEP_MAX: u8 = 26;
/// Redis's mean earth radius, in meters.
pub const EARTH_RADIUS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;
const D_R: f64 = std::f64::consts::PI / 180.0;

/// A cell: `step` bits per coordinate, interleaved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cell {
    /// The interleaved bits.
    pub bits: u64,
    /// Bits per coordinate (0: none, an excluded neighbour).
    pub step: u8,
}

/// A cell's bounds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Area {
    /// Longitude min and max.
    pub lon: (f64, f64),
    /// Latitude min and max.
    pub lat: (f64, f64),
}

fn deg_rad(a: f64) -> f64 {
    a * D_R
}

fn rad_deg(a: f64) -> f64 {
    a / D_R
}

fn interleave(lat: u32, lon: u32) -> u64 {
    const B: [u64; 5] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
    ];
    const S: [u32; 5] = [1, 2, 4, 8, 16];
    let (mut x, mut y) = (lat as u64, lon as u64);
    for i in (0..5).rev() {
        x = (x | (x << S[i])) & B[i];
        y = (y | (y << S[i])) & B[i];
    }
    x | (y << 1)
}

/// The latitude part (low 32 bits) and longitude part (high 32 bits).
fn deinterleave(v: u64) -> u64 {
    const B: [u64; 6] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
        0x00000000FFFFFFFF,
    ];
    const S: [u32; 6] = [0, 1, 2, 4, 8, 16];
    let (mut x, mut y) = (v, v >> 1);
    for i in 0..6 {
        x = (x | (x >> S[i])) & B[i];
        y = (y | (y >> S[i])) & B[i];
    }
    x | (y << 32)
}

/// `geohashEncode` over the given latitude range: None outside the bounds.
pub fn encode_in(lon: f64, lat: f64, lat_range: (f64, f64), step: u8) -> Option<Cell> {
    if !(LONG_MIN..=LONG_MAX).contains(&lon)
        || !(LAT_MIN..=LAT_MAX).contains(&lat)
        || lat < lat_range.0
        || lat > lat_range.1
    {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_off = (lat - lat_range.0) / (lat_range.1 - lat_range.0) * scale;
    let lon_off = (lon - LONG_MIN) / (LONG_MAX - LONG_MIN) * scale;
    // C converts the offsets to uint32_t by truncation.
    Some(Cell {
        bits: interleave(lat_off as u32, lon_off as u32),
        step,
    })
}

/// `geohashEncodeWGS84`.
pub fn encode(lon: f64, lat: f64, step: u8) -> Option<Cell> {
    encode_in(lon, lat, (LAT_MIN, LAT_MAX), step)
}

/// `geohashAlign52Bits`: the score of a cell's first point.
pub fn align52(c: Cell) -> u64 {
    c.bits << (52 - 2 * c.step as u32)
}

/// The score GEOADD stores for a position (checked in range).
pub fn score_of(lon: f64, lat: f64) -> Option<u64> {
    encode(lon, lat, STEP_MAX).map(align52)
}

/// `geohashDecode` over the given latitude range.
pub fn decode_in(c: Cell, lat_range: (f64, f64)) -> Area {
    let sep = deinterleave(c.bits);
    let (ilat, ilon) = (sep as u32 as f64, (sep >> 32) as u32 as f64);
    let div = (1u64 << c.step) as f64;
    let lat_scale = lat_range.1 - lat_range.0;
    let lon_scale = LONG_MAX - LONG_MIN;
    Area {
        lat: (
            lat_range.0 + (ilat * 1.0 / div) * lat_scale,
            lat_range.0 + ((ilat + 1.0) * 1.0 / div) * lat_scale,
        ),
        lon: (
            LONG_MIN + (ilon * 1.0 / div) * lon_scale,
            LONG_MIN + ((ilon + 1.0) * 1.0 / div) * lon_scale,
        ),
    }
}

/// `geohashDecodeWGS84`.
pub fn decode(c: Cell) -> Area {
    decode_in(c, (LAT_MIN, LAT_MAX))
}

/// C's `(uint64_t)` of a double on x86-64 (what Redis does to any score,
/// geo or not): truncation, with the hardware's answers out of range.
pub fn c_u64(s: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if s.is_nan() {
        1 << 63
    } else if s < TWO63 {
        // Below -2^63 the conversion answers 0x8000..., as `as` saturates.
        s as i64 as u64
    } else {
        let t = s - TWO63;
        if t < TWO63 {
            (t as i64 as u64) ^ (1 << 63)
        } else {
            0
        }
    }
}

/// C's `(long long)` of a double on x86-64.
pub fn c_i64(s: f64) -> i64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if s.is_nan() || !(-TWO63..TWO63).contains(&s) {
        i64::MIN
    } else {
        s as i64
    }
}

/// The position a score stands for (`decodeGeohash`): the centre of its
/// cell, clamped to the bounds.
pub fn position(score: f64) -> (f64, f64) {
    let a = decode(Cell {
        bits: c_u64(score),
        step: STEP_MAX,
    });
    let lon = ((a.lon.0 + a.lon.1) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((a.lat.0 + a.lat.1) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// GEOHASH's 11 characters for a score: the position re-encoded over
/// ±90° of latitude, base32, the last character always `0`.
pub fn geohash_string(score: f64) -> [u8; 11] {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (lon, lat) = position(score);
    // A decoded position is always in range, so this cannot fail; Redis
    // would print the zero hash if it did.
    let bits = encode_in(lon, lat, (-90.0, 90.0), STEP_MAX).map_or(0, |c| c.bits);
    let mut out = [b'0'; 11];
    for (i, o) in out.iter_mut().enumerate().take(10) {
        *o = ALPHABET[((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize];
    }
    out
}

/// Haversine distance in meters (`geohashGetDistance`).
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (lat1r, lon1r) = (deg_rad(lat1), deg_rad(lon1));
    let (lat2r, lon2r) = (deg_rad(lat2), deg_rad(lon2));
    let u = ((lat2r - lat1r) / 2.0).sin();
    let v = ((lon2r - lon1r) / 2.0).sin();
    2.0 * EARTH_RADIUS * (u * u + lat1r.cos() * lat2r.cos() * v * v).sqrt().asin()
}

/// A search area: a circle or an axis-aligned box around a centre.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    /// BYRADIUS, in the unit.
    Radius(f64),
    /// BYBOX width and height, in the unit.
    Box(f64, f64),
}

/// A search: centre, shape, and the unit's size in meters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Search {
    /// Longitude of the centre.
    pub lon: f64,
    /// Latitude of the centre.
    pub lat: f64,
    /// The shape.
    pub shape: Shape,
    /// Meters per unit.
    pub conversion: f64,
}

impl Search {
    /// The distance in meters from the centre to a point inside the shape,
    /// None outside (`geohashGetDistanceIfInRadiusWGS84`,
    /// `geohashGetDistanceIfInRectangle`).
    pub fn within(&self, lon: f64, lat: f64) -> Option<f64> {
        match self.shape {
            Shape::Radius(r) => {
                let d = distance(self.lon, self.lat, lon, lat);
                (d <= r * self.conversion).then_some(d)
            }
            Shape::Box(w, h) => {
                let (w, h) = (w * self.conversion, h * self.conversion);
                let lon_d = distance(lon, lat, self.lon, lat);
                let lat_d = distance(lon, lat, lon, self.lat);
                if lon_d > w / 2.0 || lat_d > h / 2.0 {
                    return None;
                }
                Some(distance(self.lon, self.lat, lon, lat))
            }
        }
    }

    /// `geohashBoundingBox`: min lon, min lat, max lon, max lat.
    fn bounds(&self) -> [f64; 4] {
        let (height, width) = match self.shape {
            Shape::Radius(r) => (self.conversion * r, self.conversion * r),
            Shape::Box(w, h) => (self.conversion * (h / 2.0), self.conversion * (w / 2.0)),
        };
        let lat_delta = rad_deg(height / EARTH_RADIUS);
        let long_delta_top = rad_deg(width / EARTH_RADIUS / deg_rad(self.lat + lat_delta).cos());
        let long_delta_bottom = rad_deg(width / EARTH_RADIUS / deg_rad(self.lat - lat_delta).cos());
        let d = if self.lat < 0.0 {
            long_delta_bottom
        } else {
            long_delta_top
        };
        [
            self.lon - d,
            self.lat - lat_delta,
            self.lon + d,
            self.lat + lat_delta,
        ]
    }

    /// The cells to scan, in Redis's order (`geohashCalculateAreasByShapeWGS84`
    /// then `membersOfAllNeighbors`): the centre's cell, then north, south,
    /// east, west, north-east, north-west, south-east, south-west; an
    /// excluded neighbour has step 0.
    pub fn cells(&self) -> [Cell; 9] {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounds();
        let radius = match self.shape {
            Shape::Radius(r) => r,
            Shape::Box(w, h) => ((w / 2.0) * (w / 2.0) + (h / 2.0) * (h / 2.0)).sqrt(),
        } * self.conversion;
        let mut steps = estimate_steps(radius, self.lat);
        // The centre is in range (checked when parsed or decoded).
        let at = |steps: u8| encode(self.lon, self.lat, steps).unwrap_or_default();
        let mut hash = at(steps);
        let mut n = neighbours(hash);
        let too_small = decode(n[1]).lat.1 < max_lat
            || decode(n[2]).lat.0 > min_lat
            || decode(n[3]).lon.1 < max_lon
            || decode(n[4]).lon.0 > min_lon;
        if steps > 1 && too_small {
            steps -= 1;
            hash = at(steps);
            n = neighbours(hash);
        }
        let area = decode(hash);
        if steps >= 2 {
            let zero =
                |n: &mut [Cell; 9], i: &[usize]| i.iter().for_each(|&i| n[i] = Cell::default());
            if area.lat.0 < min_lat {
                zero(&mut n, &[SOUTH, SOUTH_WEST, SOUTH_EAST]);
            }
            if area.lat.1 > max_lat {
                zero(&mut n, &[NORTH, NORTH_EAST, NORTH_WEST]);
            }
            if area.lon.0 < min_lon {
                zero(&mut n, &[WEST, SOUTH_WEST, NORTH_WEST]);
            }
            if area.lon.1 > max_lon {
                zero(&mut n, &[EAST, SOUTH_EAST, NORTH_EAST]);
            }
        }
        n
    }
}

const NORTH: usize = 1;
const SOUTH: usize = 2;
const EAST: usize = 3;
const WEST: usize = 4;
const NORTH_EAST: usize = 5;
const NORTH_WEST: usize = 6;
const SOUTH_EAST: usize = 7;
const SOUTH_WEST: usize = 8;

/// `geohashEstimateStepsByRadius`.
fn estimate_steps(mut range: f64, lat: f64) -> u8 {
    if range == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// Moves cell `c` by `d` cells (-1, 0 or 1) along the axis whose bits
/// `mask` selects (longitude: `LON_BITS`, latitude: `LAT_BITS`), as
/// Redis's `geohash_move_x` / `geohash_move_y`.
fn move_along(c: Cell, d: i8, mask: u64) -> Cell {
    if d == 0 {
        return c;
    }
    let mut a = c.bits & mask;
    let other = c.bits & !mask;
    let shift = 64 - 2 * c.step as u32;
    let zz = !mask >> shift;
    if d > 0 {
        a = a.wrapping_add(zz + 1);
    } else {
        a |= zz;
        a = a.wrapping_sub(zz + 1);
    }
    a &= mask >> shift;
    Cell {
        bits: a | other,
        step: c.step,
    }
}

/// The interleaved bits of longitude and of latitude.
const LON_BITS: u64 = 0xaaaa_aaaa_aaaa_aaaa;
const LAT_BITS: u64 = 0x5555_5555_5555_5555;

/// The cell and its eight neighbours, in `cells`' order.
fn neighbours(c: Cell) -> [Cell; 9] {
    let m = |dx: i8, dy: i8| move_along(move_along(c, dx, LON_BITS), dy, LAT_BITS);
    [
        c,
        m(0, 1),
        m(0, -1),
        m(1, 0),
        m(-1, 0),
        m(1, 1),
        m(-1, 1),
        m(1, -1),
        m(-1, -1),
    ]
}

/// The score range `[min, max)` of a cell's points (`scoresOfGeoHashBox`).
pub fn score_range(c: Cell) -> (f64, f64) {
    let min = align52(c);
    let max = align52(Cell {
        bits: c.bits + 1,
        step: c.step,
    });
    (min as f64, max as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palermo_score_and_hash_as_redis() {
        // GEOADD Sicily 13.361389 38.115556 "Palermo" stores this score.
        assert_eq!(score_of(13.361389, 38.115556), Some(3479099956230698));
        assert_eq!(&geohash_string(3479099956230698.0), b"sqc8b49rny0");
        let (lon, lat) = position(3479099956230698.0);
        assert_eq!(format!("{lon:.17}"), "13.36138933897018433");
        assert_eq!(format!("{lat:.17}"), "38.11555639549629859");
    }

    #[test]
    fn distance_as_redis() {
        let (a, b) = (position(3479099956230698.0), position(3479447370796909.0));
        assert_eq!(
            format!("{:.4}", distance(a.0, a.1, b.0, b.1)),
            "166274.1516"
        );
    }

    #[test]
    fn out_of_range_refused() {
        assert_eq!(score_of(180.1, 0.0), None);
        assert_eq!(score_of(0.0, 85.06), None);
        assert!(score_of(-180.0, -85.05112878).is_some());
    }

    #[test]
    fn c_conversions() {
        assert_eq!(c_u64(-1.0), u64::MAX);
        assert_eq!(c_u64(1.5), 1);
        assert_eq!(c_u64(f64::INFINITY), 0);
        assert_eq!(c_i64(f64::NAN), i64::MIN);
    }
}
